"""Platform administration."""

from __future__ import annotations

from api.schemas.common import Strict


class ClockUpdate(Strict):
    offset_seconds: int
