"""Bad input is a 422 naming the field, never a 500: text (NUL, lone surrogates, overlong
strings) on every route, present and future; webhook URLs; dates and numbers at the edges of
what Python and PostgreSQL can hold. Through the real API (ASGI) on the real PostgreSQL and
broker."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.app import create_app
from api.deps import Caller
from core.clock import now
from core.settings import Settings
from core.signing import sign
from core.text import MAX_BODY_CHARS, MAX_PARAM_CHARS
from tests.support.api import ADMIN

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}
SECRET = "onelink-secret-0123456789"
CARD = "89860012345678901234"


def only_error(answer: httpx.Response) -> dict[str, Any]:
    """The single error of a 422 in FastAPI's documented shape."""
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, list) and len(detail) == 1, detail
    assert {"loc", "msg", "type"} <= detail[0].keys()
    error: dict[str, Any] = detail[0]
    return error


async def enterprise(client: httpx.AsyncClient, enterprise_id: str = "acme") -> None:
    made = await client.post("/v1/enterprises", json={"enterprise_id": enterprise_id,
                                                      "name": "Acme"}, headers=ADMIN)
    assert made.status_code == 201, made.text


async def test_nul_in_a_declared_query_parameter(client: httpx.AsyncClient) -> None:
    error = only_error(await client.get("/v1/dead-letters?source=%00", headers=ADMIN))
    assert error["loc"] == ["query", "source"] and "NUL" in error["msg"]


async def test_nul_in_a_body_field(client: httpx.AsyncClient) -> None:
    answer = await client.put("/v1/operators/onelink/push-secret",
                              json={"secret": "abc\u0000def-0123456789"}, headers=ADMIN)
    assert only_error(answer)["loc"] == ["body", "secret"]
    await enterprise(client)
    answer = await client.patch("/v1/enterprises/acme", json={"name": "x\u0000y"}, headers=ADMIN)
    assert only_error(answer)["loc"] == ["body", "name"]
    view = await client.get("/v1/enterprises/acme/alerts", headers=ADMIN)
    assert view.status_code == 200, "the enterprise is still there and readable"


async def test_nul_in_a_path_parameter(client: httpx.AsyncClient) -> None:
    cycle = now().strftime("%Y-%m")
    answer = await client.get(f"/v1/enterprises/a%00b/cards.csv?cycle={cycle}", headers=ADMIN)
    error = only_error(answer)
    assert error["loc"] == ["path", "enterprise_id"]
    assert answer.headers["content-type"] == "application/json"


async def test_any_text_in_the_export_path_answers_without_a_server_error(
        client: httpx.AsyncClient) -> None:
    """Found by `make fuzz`: the export's file name carried the enterprise id of the path,
    which a header (Latin-1, one line) cannot always hold. An enterprise that does not exist
    is now not found before any header is built (ids of real ones are plain ASCII), and the
    header itself is safe for any text (tests/unit/test_openapi.py)."""
    cycle = now().strftime("%Y-%m")
    answer = await client.get(f"/v1/enterprises/E%F3%AC%B9%9B%22%0D%0A/cards.csv?cycle={cycle}",
                              headers=ADMIN)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/json"


async def test_text_is_checked_before_the_caller_is_looked_up(client: httpx.AsyncClient
                                                               ) -> None:
    answer = await client.get("/v1/cards/8986%00/usage")  # no token at all
    assert only_error(answer)["loc"] == ["path", "iccid"]


async def test_lone_surrogate_anywhere_in_a_body(client: httpx.AsyncClient) -> None:
    await enterprise(client)
    raw = b'{"name": "\\ud800x"}'  # valid JSON grammar, not valid Unicode
    answer = await client.patch("/v1/enterprises/acme", content=raw, headers=ADMIN | JSON)
    error = only_error(answer)
    assert error["loc"] == ["body", "name"] and "surrogate" in error["msg"]
    nested = (b'{"enterprise_id": "acme", "cards": [{"iccid": "89860012345678901234", '
              b'"operator": "onelink", "pool_id": "p\\udfff"}]}')
    answer = await client.post("/v1/cards/import", content=nested, headers=ADMIN | JSON)
    assert only_error(answer)["loc"] == ["body", "cards", 0, "pool_id"]
    key = b'{"name": "ok", "\\ud83d": 1}'  # a bad object key is named too
    answer = await client.patch("/v1/enterprises/acme", content=key, headers=ADMIN | JSON)
    assert only_error(answer)["loc"] == ["body", "\ud83d"], "sent \\u-escaped, decoded back"


async def test_overlong_text(client: httpx.AsyncClient) -> None:
    long_id = "x" * (MAX_PARAM_CHARS + 1)
    answer = await client.get(f"/v1/pools/{long_id}", headers=ADMIN)
    assert only_error(answer)["loc"] == ["path", "pool_id"]
    await enterprise(client)
    answer = await client.patch("/v1/enterprises/acme", headers=ADMIN, json={
        "webhook_secret": "s" * (MAX_BODY_CHARS + 1)})
    assert only_error(answer)["loc"] == ["body", "webhook_secret"]


async def test_webhook_url_must_be_an_absolute_http_url(client: httpx.AsyncClient) -> None:
    await enterprise(client)
    for bad in ("http://", "https://", "http:///path", "http://:80/x", "ftp://example.com"):
        answer = await client.patch("/v1/enterprises/acme", json={"webhook_url": bad},
                                    headers=ADMIN)
        assert only_error(answer)["loc"] == ["body", "webhook_url"], bad
    view = (await client.get("/v1/enterprises/acme/api-keys", headers=ADMIN))
    assert view.status_code == 200
    good = "https://hooks.example.com/cardpulse?tenant=acme"
    answer = await client.patch("/v1/enterprises/acme", json={"webhook_url": good},
                                headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_url"] == good, "stored as sent"


def record(record_id: str, iccid: str = CARD) -> dict[str, Any]:
    end = now() - timedelta(minutes=5)
    return {"record_id": record_id, "iccid": iccid, "bytes": 10,
            "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}


async def push(client: httpx.AsyncClient, kind: str, raw: bytes) -> httpx.Response:
    """POST `raw` (bytes as they are: they may hold what orjson would not write) signed."""
    stamp = str(int(time.time()))  # the sender's clock, as the signature check reads it
    headers = {"X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(SECRET, stamp, raw)}
    return await client.post(f"/v1/upstream/onelink/{kind}", content=raw,
                             headers=headers | JSON)


async def test_pushes_name_bad_text_in_records(client: httpx.AsyncClient) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    nul_id = orjson.dumps({"records": [record("ok"), record("r\u00001")]})
    error = only_error(await push(client, "usage", nul_id))
    assert error["loc"] == ["body", "records", 1, "record_id"] and "NUL" in error["msg"]
    nul_iccid = orjson.dumps({"records": [record("r2", iccid="8986001234567890\u0000")]})
    assert only_error(await push(client, "usage", nul_iccid))["loc"] == [
        "body", "records", 0, "iccid"]
    surrogate = orjson.dumps({"records": [record("SURROGATE")]}).replace(
        b"SURROGATE", b"r\\ud800")
    error = only_error(await push(client, "usage", surrogate))
    assert error["loc"] == ["body", "records", 0, "record_id"] and "surrogate" in error["msg"]
    event = {"event_id": "e\u00001", "iccid": CARD, "status": "active",
             "at": (now() - timedelta(minutes=1)).isoformat()}
    error = only_error(await push(client, "status", orjson.dumps({"events": [event]})))
    assert error["loc"] == ["body", "events", 0, "event_id"]


class Note(BaseModel):
    text: str
    tags: list[str] = []


async def test_a_route_added_later_is_checked_too(settings: Settings) -> None:
    """The check is wired once for the app, so an endpoint nobody has written yet is covered:
    here a router included after the app was built (and after it served a request)."""
    app = create_app(settings)
    later = APIRouter(prefix="/v1/later")

    @later.post("/{thing_id}/notes")
    async def add_note(thing_id: str, body: Note, caller: Caller,
                       mode: Annotated[str, Query()] = "plain") -> dict[str, str]:
        return {"thing_id": thing_id, "mode": mode, "text": body.text}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            assert (await client.get("/healthz")).status_code == 200
            app.include_router(later)
            ok = await client.post("/v1/later/t1/notes?mode=x", json={"text": "hi"},
                                   headers=ADMIN)
            assert ok.status_code == 200, ok.text
            cases: list[tuple[str, dict[str, Any], list[str | int]]] = [
                ("/v1/later/t%001/notes", {"text": "hi"}, ["path", "thing_id"]),
                ("/v1/later/t1/notes?mode=%00", {"text": "hi"}, ["query", "mode"]),
                ("/v1/later/t1/notes", {"text": "a\u0000"}, ["body", "text"]),
                ("/v1/later/t1/notes", {"text": "a", "tags": ["ok", "\u0000"]},
                 ["body", "tags", 1]),
            ]
            for path, body, loc in cases:
                answer = await client.post(path, json=body, headers=ADMIN)
                assert only_error(answer)["loc"] == loc, path
            schema = (await client.get("/openapi.json")).json()
    documented = schema["paths"]["/v1/later/{thing_id}/notes"]["post"]["responses"]
    assert {"401", "403", "404", "422", "429"} <= documented.keys()


async def test_dates_at_the_edge_of_the_calendar(client: httpx.AsyncClient) -> None:
    """Found while fuzzing: a default window before year 1, a year-0 or non-ASCII-digit cycle,
    a clock offset past year 9999 and usage from year 1 (whose hour cannot be keyed)."""
    await enterprise(client)
    card = {"iccid": CARD, "enterprise_id": "acme", "operator": "onelink"}
    assert (await client.post("/v1/cards", json=card, headers=ADMIN)).status_code == 201
    answer = await client.get(f"/v1/cards/{CARD}/usage?to=0001-01-01T00:00:00Z", headers=ADMIN)
    assert only_error(answer)["loc"] == ["query", "to"]
    for cycle in ("0000-01", "\u0662\u0660\u0662\u0666-01", f"{now():%Y-%m}\n"):
        answer = await client.get("/v1/enterprises/acme/cards.csv", params={"cycle": cycle},
                                  headers=ADMIN)
        assert only_error(answer)["loc"] == ["query", "cycle"], cycle
    answer = await client.put("/v1/admin/clock", json={"offset_seconds": 10**15}, headers=ADMIN)
    assert only_error(answer)["loc"] == ["body", "offset_seconds"]
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    ancient = dict(record("old"), start="0001-01-01T00:00:00+01:00",
                   end="0001-01-01T00:30:00+01:00")
    error = only_error(await push(client, "usage", orjson.dumps({"records": [ancient]})))
    assert error["loc"] == ["body", "records", 0, "start"]
