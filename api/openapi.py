"""Every status an operation can answer, documented in the OpenAPI schema with its body.

Most statuses follow from what a route depends on, so they are derived here, once, for every
operation of the app (routers added later included), from what FastAPI writes into the
schema for those dependencies:
- the bearer-token caller (`get_principal`, through HTTPBearer) puts a security requirement on
  the operation ⇒ 401 (no, unknown or revoked token) and 429 (the key's rate, `Retry-After`);
- a role dependency (`Admin`, `Platform`: `Security(..., scopes=[role])`) names its role in
  that requirement (OpenAPI 3.1 lets non-OAuth schemes list roles), and read-only roles may
  not change anything ⇒ 403 for a role requirement or a POST, PUT, PATCH or DELETE;
- a free-text path parameter (an id, not one of a fixed list) ⇒ 404 (unknown, or another
  tenant's);
- any parameter or body ⇒ 422, which FastAPI documents itself (`HTTPValidationError`);
- a request body ⇒ 400 as well: FastAPI's answer to a body it cannot decode at all (not
  UTF-8, nested deeper than the JSON decoder goes), before validation.
Statuses with other causes are declared on the route with the shared dicts below (`CONFLICT`,
`NOT_FOUND` for an id named in the body, `TOO_LARGE`, ...). Every error but 422 has the body
`ErrorDetail` and is JSON, whatever the success answer's media type.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.schemas.common import ErrorDetail

_ERROR_REF = {"$ref": "#/components/schemas/ErrorDetail"}
_JSON_ERROR = {"application/json": {"schema": _ERROR_REF}}
_WRITES = {"post", "put", "patch", "delete"}


Responses = dict[int | str, dict[str, Any]]


def _error(code: int, description: str) -> Responses:
    return {code: {"model": ErrorDetail, "description": description}}


BAD_REQUEST = _error(400, "the body is not JSON")
SIGNED = _error(401, "missing, wrong or stale signature, or no push secret for the operator")
FORBIDDEN = _error(403, "the key's role may not do this")
NOT_FOUND = _error(404, "an object named in the request is unknown (or another tenant's)")
CONFLICT = _error(409, "the id is taken")
TOO_LARGE = _error(413, "the body or the number of items is over the limit")
UNAVAILABLE = _error(503, "the platform cannot take this now; retry after Retry-After seconds")

_DERIVED: dict[int, dict[str, Any]] = {
    400: {"description": "the body cannot be decoded"},
    401: {"description": "no, an unknown or a revoked bearer token",
          "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    403: {"description": FORBIDDEN[403]["description"]},
    404: {"description": "not found (or another tenant's)"},
    429: {"description": "this key's request rate is exceeded",
          "headers": {"Retry-After": {"description": "seconds to wait",
                                      "schema": {"type": "integer"}}}},
}


def derived_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation answers by the rules of this module's docstring."""
    codes = [400] if "requestBody" in operation else []
    security = operation.get("security") or []
    if security:
        codes += [401, 429]
        if method in _WRITES or any(roles for need in security for roles in need.values()):
            codes.append(403)
    if any(p.get("in") == "path" and "enum" not in p.get("schema", {})
           for p in operation.get("parameters", [])):
        codes.append(404)
    return codes


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the derived statuses to every operation of `schema` (in place; idempotent)."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in derived_statuses(method, operation):
                responses.setdefault(str(code), {**_DERIVED[code], "content": _JSON_ERROR})
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorDetail", ErrorDetail.model_json_schema())
    return schema


def install(app: FastAPI) -> None:
    """Make `app.openapi()` document the derived statuses of every route it has."""
    generate = app.openapi  # FastAPI's: cached, regenerated when routes are added

    def openapi() -> dict[str, Any]:
        return document(generate())

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
