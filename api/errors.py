"""Errors, mapped to HTTP answers once for every router.

422 answers have FastAPI's documented shape, a list of {loc, msg, type} naming the field; the
store's refusals (`NotFound`, `AlreadyExists`, `Invalid`) become 404, 409 and 422 here, so
routers only call the store and let them through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from store.errors import AlreadyExists, Invalid, NotFound

Where = Literal["body", "query", "path"]


def invalid(where: Where, field: str | Sequence[str | int], message: str,
            value: Any = None) -> RequestValidationError:
    """An error for one field (a name or a path below `where`) breaking a rule."""
    path = [field] if isinstance(field, str) else list(field)
    return RequestValidationError([{"type": "value_error", "loc": [where, *path],
                                    "msg": message, "input": value}])


def invalid_many(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, Invalid):  # registered for Invalid only
        raise exc
    error = invalid("body", exc.field, exc.message)
    return JSONResponse({"detail": jsonable_encoder(error.errors())},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI) -> None:
    """Map the store's refusals to HTTP answers for every route of `app`."""
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(AlreadyExists, _conflict)
    app.add_exception_handler(Invalid, _invalid)
