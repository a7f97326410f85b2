"""Platform administration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.common import Strict

# A century either way: enough for any test or demo, and the shifted clock stays a date.
MAX_CLOCK_OFFSET_S = 100 * 366 * 86_400


class ClockUpdate(Strict):
    offset_seconds: Annotated[int, Field(ge=-MAX_CLOCK_OFFSET_S, le=MAX_CLOCK_OFFSET_S)]
