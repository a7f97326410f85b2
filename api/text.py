"""The one check of text input for every route: path parameters, the route's declared query
parameters and every string (and object key) anywhere in its JSON or form body.

Wired as an app-level dependency (`FastAPI(dependencies=[TEXT_CHECK])`): FastAPI prepends the
app's dependencies to every route of the app, including routers included and routes added
after `create_app`, so a new endpoint is covered without doing anything. A route class would
have to be named by every router, and a middleware would see neither the matched route (its
declared parameters) nor the body FastAPI has already decoded. App dependencies run before the
route's own dependencies and before its parameters and body are validated, so bad text is a
422 naming the field before anything (auth lookups included) can pass it to PostgreSQL.

The body is the one FastAPI already decoded (Starlette caches `request.json()` and
`request.form()`), so checking it costs a walk, not a second parse. Routes that read their raw
body themselves (the operator pushes) check what they decode with `body_errors`.
"""

from __future__ import annotations

import email.message
from typing import Any

from fastapi import Depends, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from core.text import MAX_PARAM_CHARS, document_problems, text_problem

_ECHO = 100  # characters of a bad value echoed back as `input`


def _error(loc: list[str | int], problem: str, value: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": f"text {problem}", "input": value[:_ECHO]}


def body_errors(document: object, where: tuple[str | int, ...] = ("body",)
                ) -> list[dict[str, Any]]:
    """FastAPI-shaped errors for every bad string or object key in a decoded body."""
    return [_error([*where, *p.path], p.problem, p.value) for p in document_problems(document)]


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _param_errors(request: Request, route: APIRoute | None) -> list[dict[str, Any]]:
    named: list[tuple[str, str, Any]] = [("path", k, v) for k, v in request.path_params.items()]
    if route is not None:
        named += [("query", name, value) for name in sorted(_query_names(route.dependant))
                  for value in request.query_params.getlist(name)]
    return [_error([where, name], problem, value) for where, name, value in named
            if isinstance(value, str) and (problem := text_problem(value, MAX_PARAM_CHARS))]


def _is_json(content_type: str | None) -> bool:
    """The same test FastAPI applies before it decodes a body as JSON."""
    if content_type is None:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


async def _json_body(request: Request) -> object:
    """The body as FastAPI decoded it (cached by Starlette), or None when FastAPI hands the raw
    bytes to validation, which refuses them as not an object."""
    if not _is_json(request.headers.get("content-type")) or not await request.body():
        return None
    try:  # without a content type FastAPI may not have decoded it: then this does
        return await request.json()
    except (ValueError, RecursionError):
        return None


async def _body_errors(request: Request, route: APIRoute) -> list[dict[str, Any]]:
    if route.body_field is None:
        return []
    if isinstance(route.body_field.field_info, params.Form):
        form = await request.form()  # already parsed by FastAPI: cached
        return [_error(["body", name], problem, value) for name, value in form.multi_items()
                if isinstance(value, str) and (problem := text_problem(value))]
    return body_errors(await _json_body(request))


async def check_text(request: Request) -> None:
    """Refuse (422) NUL, lone surrogates and overlong text anywhere in the request's input."""
    found = request.scope.get("route")
    route = found if isinstance(found, APIRoute) else None
    errors = _param_errors(request, route)
    if route is not None:
        errors += await _body_errors(request, route)
    if errors:
        raise RequestValidationError(errors)


TEXT_CHECK = Depends(check_text)
