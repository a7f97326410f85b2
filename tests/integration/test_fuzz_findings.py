"""Bugs `make fuzz` found below the API's answers, kept fixed: through the real API (ASGI) and
the store's own queries on the real PostgreSQL."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from core.settings import Settings
from store.controls import actionable
from tests.support.api import ADMIN

pytestmark = pytest.mark.integration
CARD = "89860012345678901234"


async def test_a_card_without_usage_can_be_acted_on(client: httpx.AsyncClient,
                                                    settings: Settings) -> None:
    """A card evaluated before its first usage has a usage row marked '-infinity' ("never
    used"); the reconciler's query loaded it as a timestamp, which Python cannot hold, and so
    failed every round for every card of that operator."""
    await client.post("/v1/enterprises", json={"enterprise_id": "acme", "name": "A"},
                      headers=ADMIN)
    made = await client.post("/v1/cards", json={"iccid": CARD, "enterprise_id": "acme",
                                                "operator": "onelink"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    changed = await client.patch(f"/v1/cards/{CARD}", json={"package_bytes": 0}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["desired_status"] == "stopped", (
        changed.text)
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        found = await actionable(conn, "onelink", range(settings.usage_partitions), 100)
    assert [(a.work.iccid, a.work.target, a.work.last_used) for a in found] == [
        (CARD, "stopped", None)]
