"""Objects that do not exist are not found for every role; a webhook URL stored before URLs
were checked fails its deliveries without stopping the sender."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from core.settings import Settings
from store.db import Reconnecting
from streams.webhooks import deliver_due
from tests.support.api import ADMIN, setup_tenant

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/v1/enterprises/nobody/alerts",
                                  "/v1/enterprises/nobody/cards.csv?cycle=2030-01",
                                  "/v1/enterprises/nobody/api-keys"])
async def test_an_unknown_enterprise_is_not_found_even_for_the_administrator(
        client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path, headers=ADMIN)
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"detail": "enterprise 'nobody' not found"}


async def test_a_stored_url_httpx_cannot_parse_fails_only_its_own_delivery(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await setup_tenant(client, "acme")
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("UPDATE enterprises SET webhook_url = 'http://[::1/hook'")
        conn.execute("INSERT INTO alerts (enterprise_id, kind, subject, cycle, percent,"
                     " used_bytes, limit_bytes, webhook_state, next_attempt)"
                     " VALUES ('acme', 'pool', 'p', '2030-01-01', 80, 8, 10, 'pending', now())")
    db = Reconnecting(settings.require_database())
    try:
        async with httpx.AsyncClient() as http:
            assert await deliver_due(db, http, max_attempts=3) == 1
    finally:
        await db.close()
    with psycopg.connect(settings.require_database()) as conn:
        row = conn.execute("SELECT webhook_state, attempts, last_error FROM alerts").fetchone()
    assert row is not None and row[:2] == ("pending", 1) and "InvalidURL" in row[2]
