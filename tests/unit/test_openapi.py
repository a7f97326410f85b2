"""The OpenAPI schema documents every status an operation answers, derived from its
dependencies (api/openapi.py); building the app connects nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from api.app import create_app
from api.routers.series import attachment
from core.settings import load_settings

ERROR_DETAIL = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app(load_settings()).openapi()


def statuses(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_authenticated_operations_document_401_and_429_with_retry_after(
        schema: dict[str, Any]) -> None:
    operations = [op for ops in schema["paths"].values() for op in ops.values()
                  if op.get("security")]
    assert len(operations) > 20
    for op in operations:
        assert {"401", "429"} <= op["responses"].keys(), op["operationId"]
        assert op["responses"]["429"]["content"] == ERROR_DETAIL
        assert "Retry-After" in op["responses"]["429"]["headers"]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("post", "/v1/enterprises", {"201", "400", "401", "403", "409", "422", "429"}),
    ("get", "/v1/dead-letters", {"200", "401", "403", "422", "429"}),  # a role: 403
    ("get", "/v1/cards/{iccid}", {"200", "401", "404", "422", "429"}),  # a read: no 403
    ("put", "/v1/operators/{operator}/push-secret",  # a fixed list in the path: no 404
     {"204", "400", "401", "403", "422", "429"}),
    ("get", "/v1/enterprises/{enterprise_id}/api-keys",  # viewers are refused
     {"200", "401", "403", "404", "422", "429"}),
    ("post", "/v1/upstream/{operator}/usage", {"202", "400", "401", "413", "422", "503"}),
    ("get", "/healthz", {"200", "503"}),
])
def test_statuses_follow_from_dependencies(schema: dict[str, Any], method: str, path: str,
                                           expected: set[str]) -> None:
    assert statuses(schema, method, path) == expected


def test_errors_are_json_whatever_the_success_media_type(schema: dict[str, Any]) -> None:
    responses = schema["paths"]["/v1/enterprises/{enterprise_id}/cards.csv"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["text/csv"]
    for code in ("401", "404", "429"):
        assert responses[code]["content"] == ERROR_DETAIL
    assert list(responses["422"]["content"]) == ["application/json"]
    assert schema["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]


@pytest.mark.parametrize("name", ['E\U000ece5b"\r\n-2030-01-cards.csv', "acme-2030-01-cards.csv"])
def test_the_export_file_name_is_a_safe_header_for_any_text(name: str) -> None:
    disposition = attachment(name)
    disposition.encode("latin-1")  # a header must be Latin-1
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.count('"') == 2  # the fallback name cannot close its quotes early
    assert disposition.endswith("filename*=UTF-8''" + quote(name, safe=""))


def test_the_pool_forecast_is_documented(schema: dict[str, Any]) -> None:
    assert statuses(schema, "get", "/v1/pools/{pool_id}/forecast") == {
        "200", "401", "404", "422", "429"}
    forecast = schema["components"]["schemas"]["PoolForecast"]
    assert {"exhausts_at", "runs_dry_before_cycle_end", "method"} <= set(forecast["required"])
    assert "null" in str(forecast["properties"]["exhausts_at"])
