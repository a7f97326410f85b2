"""The platform clock: Python rules and SQL read the same "now", which the test clock moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from api.app import create_app
from core.clock import CLOCK, now
from core.settings import Settings
from domain.usage.cycles import cycle_label, cycle_of
from tests.support.api import ADMIN, signed_body

pytestmark = pytest.mark.integration

SECRET = "onelink-secret-0123456789"
ICCID = "89860012345678901234"
DAY = 86_400


@pytest.fixture
async def reset_clock() -> AsyncIterator[None]:
    """This test process's clock is shared by every app built in it: put it back."""
    yield
    CLOCK.set_offset(0)


def _record(end: datetime) -> dict[str, object]:
    start = end - timedelta(minutes=5)
    return {"record_id": f"r-{end.timestamp()}", "iccid": ICCID, "bytes": 1000,
            "start": start.isoformat(), "end": end.isoformat()}


async def _push(client: httpx.AsyncClient, end: datetime) -> int:
    body, headers = signed_body({"records": [_record(end)]}, SECRET)
    answer = await client.post("/v1/upstream/onelink/usage", content=body, headers=headers)
    return answer.status_code


async def test_moving_the_clock_moves_python_rules_and_sql_together(
        client: httpx.AsyncClient, reset_clock: None) -> None:
    await client.post("/v1/enterprises", json={"enterprise_id": "acme", "name": "Acme"},
                      headers=ADMIN)
    card = {"iccid": ICCID, "enterprise_id": "acme", "operator": "onelink"}
    assert (await client.post("/v1/cards", json=card, headers=ADMIN)).status_code == 201
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    ahead = 45 * DAY
    later = now() + timedelta(seconds=ahead)
    assert await _push(client, later) == 422, "a record from 45 days ahead lies in the future"
    moved = await client.put("/v1/admin/clock", json={"offset_seconds": ahead}, headers=ADMIN)
    assert moved.status_code == 204
    assert await _push(client, now()) == 202, "the push validation reads the platform clock"
    shown = (await client.get(f"/v1/cards/{ICCID}", headers=ADMIN)).json()
    assert shown["cycle"] == cycle_label(cycle_of(now(), "Asia/Shanghai")), "SQL agrees"


async def test_the_clock_stays_put_unless_the_test_clock_is_on(settings: Settings,
                                                               reset_clock: None) -> None:
    app = create_app(settings.model_copy(update={"test_clock": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            refused = await client.put("/v1/admin/clock", json={"offset_seconds": 60},
                                       headers=ADMIN)
    assert refused.status_code == 404 and "CARDPULSE_TEST_CLOCK" in refused.json()["detail"]
    assert CLOCK.offset_s == 0
