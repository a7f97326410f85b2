"""`POST /v1/cards/import`: many cards in one transaction, all or nothing, tenant-checked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import ADMIN, setup_tenant

pytestmark = pytest.mark.integration


def cards(n: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [{"iccid": f"89860077{i:011d}", "operator": "jasper", **extra}
            for i in range(start, start + n)]


async def test_import_creates_new_cards_and_leaves_existing_ones_alone(
        client: httpx.AsyncClient) -> None:
    tenant = await setup_tenant(client)
    pool = await client.post("/v1/pools", json={"pool_id": "p1", "enterprise_id": "acme",
                                                "limit_bytes": 10_000}, headers=tenant)
    assert pool.status_code == 201, pool.text
    first = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": cards(3, package_bytes=500, pool_id="p1")})
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 3, "existing": 0, "existing_iccids": []}

    again = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": cards(5, package_bytes=9)})
    assert again.json()["created"] == 2
    assert again.json()["existing_iccids"] == [c["iccid"] for c in cards(3)]

    kept = (await client.get(f"/v1/cards/{cards(1)[0]['iccid']}", headers=tenant)).json()
    assert (kept["package_bytes"], kept["pool_id"]) == (500, "p1")  # left as it was
    new = (await client.get(f"/v1/cards/{cards(1, start=4)[0]['iccid']}",
                            headers=tenant)).json()
    assert (new["package_bytes"], new["desired_status"], new["operator"]) == (9, "active",
                                                                               "jasper")


async def test_import_is_all_or_nothing_and_names_the_problem(
        client: httpx.AsyncClient) -> None:
    tenant = await setup_tenant(client)
    unknown_pool = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [*cards(2), *cards(1, start=2, pool_id="nope")]})
    assert unknown_pool.status_code == 422
    assert "unknown pool(s) ['nope']" in unknown_pool.text
    twice = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [*cards(2), *cards(1)]})
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "cards", 2, "iccid"]
    bad = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [*cards(1), {"iccid": "123", "operator": "jasper"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:4] == [
        "body", "cards", 1, "iccid"]
    for iccid in (c["iccid"] for c in cards(3)):
        assert (await client.get(f"/v1/cards/{iccid}", headers=ADMIN)).status_code == 404


async def test_import_respects_tenants_and_roles(client: httpx.AsyncClient) -> None:
    acme = await setup_tenant(client, "acme")
    await setup_tenant(client, "other")
    foreign = await client.post("/v1/cards/import", headers=acme,
                                json={"enterprise_id": "other", "cards": cards(1)})
    assert foreign.status_code == 404
    viewer = await client.post("/v1/enterprises/acme/api-keys",
                               json={"role": "enterprise_viewer"}, headers=ADMIN)
    read_only = {"Authorization": f"Bearer {viewer.json()['key']}"}
    refused = await client.post("/v1/cards/import", headers=read_only,
                                json={"enterprise_id": "acme", "cards": cards(1)})
    assert refused.status_code == 403
    too_many = await client.post("/v1/cards/import", headers=ADMIN,
                                 json={"enterprise_id": "acme", "cards": cards(10_001)})
    assert too_many.status_code == 422
