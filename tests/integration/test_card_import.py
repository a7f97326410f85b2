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


@pytest.mark.req("OPS-MSISDN")
async def test_a_card_carries_the_number_its_operator_knows_it_by(
        client: httpx.AsyncClient) -> None:
    tenant = await setup_tenant(client)
    one = await client.post("/v1/cards", headers=tenant, json={
        "iccid": "89860011000000000001", "enterprise_id": "acme", "operator": "ctcc",
        "msisdn": "1410028214051"})
    assert one.status_code == 201, one.text
    assert one.json()["msisdn"] == "1410028214051"
    imported = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [
            {"iccid": "89860011000000000002", "operator": "onelink", "msisdn": "1440000000002"},
            {"iccid": "89860011000000000003", "operator": "onelink"}]})
    assert imported.status_code == 200, imported.text
    shown = (await client.get("/v1/cards/89860011000000000002", headers=tenant)).json()
    assert shown["msisdn"] == "1440000000002"
    assert (await client.get("/v1/cards/89860011000000000003",
                             headers=tenant)).json()["msisdn"] is None

    taken = await client.post("/v1/cards", headers=tenant, json={
        "iccid": "89860011000000000004", "enterprise_id": "acme", "operator": "onelink",
        "msisdn": "1440000000002"})
    assert taken.status_code == 409 and "onelink number 1440000000002" in taken.text
    other_operator = await client.post("/v1/cards", headers=tenant, json={
        "iccid": "89860011000000000005", "enterprise_id": "acme", "operator": "jasper",
        "msisdn": "1440000000002"})
    assert other_operator.status_code == 201, "numbers are unique per operator"
    twice = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [
            {"iccid": "89860011000000000006", "operator": "onelink", "msisdn": "1440000000009"},
            {"iccid": "89860011000000000007", "operator": "onelink", "msisdn": "1440000000009"}]})
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "cards", 1, "msisdn"]
    clash = await client.post("/v1/cards/import", headers=tenant, json={
        "enterprise_id": "acme", "cards": [
            {"iccid": "89860011000000000008", "operator": "onelink", "msisdn": "1440000000002"}]})
    assert clash.status_code == 409, clash.text
    for bad in ("12345", "1440abc000000", "1" * 16):
        answer = await client.post("/v1/cards", headers=tenant, json={
            "iccid": "89860011000000000009", "enterprise_id": "acme", "operator": "ctcc",
            "msisdn": bad})
        assert answer.status_code == 422 and "msisdn" in answer.text
