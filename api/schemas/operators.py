"""Operator configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas.common import Strict


class PushSecretUpdate(Strict):
    secret: Annotated[str, Field(min_length=16, max_length=256)]
