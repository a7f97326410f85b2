"""Errors, mapped to HTTP answers once for every router.

422 answers have FastAPI's documented shape, a list of {loc, msg, type} naming the field; the
store's refusals (`NotFound`, `AlreadyExists`, `Invalid`) become 404, 409 and 422 here, so
routers only call the store and let them through. A 422 may echo input that is not valid
Unicode (a lone surrogate, the reason it is refused): it is then sent in ASCII escapes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.refusals import Refusal
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


class ProblemJSON(JSONResponse):
    """JSON that may carry what the client sent, lone surrogates included: those cannot be
    encoded as UTF-8, so such a body is sent in ASCII with `\\u` escapes (the same JSON)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False,
                              separators=(",", ":")).encode("ascii")


def unprocessable(errors: Sequence[Any]) -> ProblemJSON:
    """The 422 answer for a list of {loc, msg, type} errors."""
    return ProblemJSON({"detail": jsonable_encoder(errors)},
                       status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for it only
        raise exc
    return unprocessable(exc.errors())


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, Invalid):  # registered for Invalid only
        raise exc
    return unprocessable(invalid("body", exc.field, exc.message).errors())


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    """A business rule's refusal (C-06): 422 naming the field, else 409."""
    if not isinstance(exc, Refusal):  # registered for Refusal only
        raise exc
    if exc.field is not None:
        item = {"type": "business_rule", "loc": ["body", *exc.field.split(".")],
                "msg": exc.message_en, **exc.as_detail()}
        return unprocessable([item])
    return JSONResponse({"detail": exc.as_detail()}, status_code=status.HTTP_409_CONFLICT)


def install(app: FastAPI) -> None:
    """Map validation errors and the store's refusals to HTTP answers for every route."""
    app.add_exception_handler(RequestValidationError, _unprocessable)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(AlreadyExists, _conflict)
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(Refusal, _refused)
