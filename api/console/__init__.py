"""The web console: pages people click through, served by the API process under `/console`.

Server-rendered with Jinja2 (`templates/`), made lively with htmx and a little Alpine.js, with
charts drawn by ECharts and uPlot (`static/vendor/`, vendored from npm with checksums; nothing
comes from a CDN). People sign in with the session of `/v1/session` and are authorised by the
same code as API keys (`api.deps`). Messages are English in the code and Chinese in the
catalogue (`locale/`), Chinese by default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from api.console import errors
from api.console.pages import ROUTERS

STATIC = Path(__file__).parent / "static"
# htmx adds inline styles for its indicators; Alpine evaluates expressions (unsafe-eval). No
# inline script and nothing from another origin.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def install(app: FastAPI) -> None:
    """Add the console's pages, static files, error pages and security headers to the app."""
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    errors.install(app)

    @app.middleware("http")
    async def secure_pages(request: Request,
                           call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/console"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            if not request.url.path.startswith("/console/static"):
                response.headers.setdefault("Cache-Control", "no-store")
        return response
