"""422 answers in FastAPI's documented shape: a list of {loc, msg, type}, naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError

Where = Literal["body", "query", "path"]


def invalid(where: Where, field: str | Sequence[str | int], message: str,
            value: Any = None) -> RequestValidationError:
    """An error for one field (a name or a path below `where`) breaking a rule."""
    path = [field] if isinstance(field, str) else list(field)
    return RequestValidationError([{"type": "value_error", "loc": [where, *path],
                                    "msg": message, "input": value}])


def invalid_many(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)
