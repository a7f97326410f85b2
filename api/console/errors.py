"""Errors on console pages are pages: the handlers of the JSON API stay for `/v1`, and for a
path under `/console` the same exception renders the console's error page (or, for htmx, a
short message the page shows), with the same status. A page that needs a login redirects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.console.auth import Redirect
from api.console.i18n import N_
from api.console.render import html, is_htmx
from store.errors import AlreadyExists, Invalid, NotFound

Handler = Callable[[Request, Any], Awaitable[Response]]

TITLES = {
    400: N_("The request was not understood"),
    401: N_("Please log in"),
    403: N_("Your role may not do this"),
    404: N_("Not found"),
    409: N_("It exists already"),
    422: N_("Some input was not accepted"),
    423: N_("Locked"),
    429: N_("Too many requests"),
}


def _status_and_detail(exc: Exception) -> tuple[int, list[str]]:
    if isinstance(exc, HTTPException):
        return exc.status_code, [str(exc.detail)]
    if isinstance(exc, NotFound):
        return 404, [f"{exc} was not found"]
    if isinstance(exc, AlreadyExists):
        return 409, [f"{exc} exists already"]
    if isinstance(exc, Invalid):
        return 422, [f"{exc.field}: {exc.message}"]
    if isinstance(exc, RequestValidationError):
        return 422, [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}"
                     for e in exc.errors()]
    return 500, [str(exc)]


def error_page(request: Request, exc: Exception) -> Response:
    code, details = _status_and_detail(exc)
    title = TITLES.get(code, N_("Something went wrong"))
    context = {"code": code, "title": title, "details": details}
    headers = dict(getattr(exc, "headers", None) or {})
    if is_htmx(request):
        return html(request, "error.html", context, status=code, block="message",
                    headers=headers)
    return html(request, "error.html", context, status=code, headers=headers)


def redirect(request: Request, location: str) -> Response:
    """A redirect a browser and htmx both follow (htmx reads HX-Redirect)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _for_console(fallback: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/console"):
            if isinstance(exc, Redirect):
                return redirect(request, exc.location)
            return error_page(request, exc)
        return await fallback(request, exc)
    return handle


async def _no_fallback(request: Request, exc: Exception) -> Response:
    raise exc


def install(app: FastAPI) -> None:
    """Wrap the API's handlers so that console paths get pages (call after errors.install)."""
    handlers: dict[Any, Handler] = dict(app.exception_handlers)
    handlers.setdefault(HTTPException, http_exception_handler)
    handlers[Redirect] = _no_fallback
    for exc_class in (HTTPException, RequestValidationError, NotFound, AlreadyExists, Invalid,
                      Redirect):
        app.add_exception_handler(exc_class, _for_console(handlers[exc_class]))
