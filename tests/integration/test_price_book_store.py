"""The price book's guards in the database and the SQL form of the visibility rule: a price
version is never rewritten or removed, at most one version of an entry is in force at any
instant, and the rows each role lists are exactly those `domain.pricing.visibility` allows."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import psycopg
import pytest

from core.settings import Settings
from domain.pricing.visibility import price_scope, sees_price
from store import pricing
from tests.support.pricing import Market, agent, market, ok, package, set_price

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(settings: Settings) -> AsyncIterator[Market]:
    """A, B top-level; A1, A2 below A; A11 below A1; costs all along, retail for each."""
    async with market(settings) as made:
        admin = made.admin
        for agent_id, parent in (("A", None), ("B", None), ("A1", "A"), ("A2", "A"),
                                 ("A11", "A1")):
            await agent(admin, agent_id, parent)
        await package(admin, "p50")
        people = {a: await made.person(f"{a.lower()}.admin", "agent_admin", agent=a)
                  for a in ("A", "B", "A1", "A2", "A11")}
        for agent_id, setter, cost in (("A", admin, 6000), ("B", admin, 7000),
                                       ("A1", people["A"], 8000), ("A2", people["A"], 9000),
                                       ("A11", people["A1"], 9000)):
            await set_price(setter, "cost", "p50", agent_id, cost)
            await set_price(people[agent_id], "retail", "p50", agent_id, cost + 1000)
        yield made


@pytest.mark.req("SM-G1-PRICE")
async def test_a_price_version_is_never_rewritten_or_removed(book: Market) -> None:
    price = (await ok(book.admin.get("/v1/prices", params={"agent_id": "A",
                                                           "kind": "cost"})))[0]
    async with await psycopg.AsyncConnection.connect(book.settings.database_url or "",
                                                     autocommit=True) as conn:
        for statement in ("UPDATE prices SET amount_fen = 1 WHERE price_id = %s",
                          "DELETE FROM prices WHERE price_id = %s"):
            with pytest.raises(psycopg.errors.RaiseException):
                await conn.execute(statement, (price["price_id"],))
        with pytest.raises(psycopg.errors.ExclusionViolation):
            await conn.execute(
                "INSERT INTO prices (kind, package_id, agent_id, version, amount_fen, "
                "valid_from, set_by, set_by_role) SELECT kind, package_id, agent_id, 99, "
                "amount_fen, valid_from, 'x', 'x' FROM prices WHERE price_id = %s",
                (price["price_id"],))
        await conn.execute("UPDATE prices SET status = 'deleted' WHERE price_id = %s",
                           (price["price_id"],))
        with pytest.raises(psycopg.errors.RaiseException):
            await conn.execute("UPDATE prices SET status = 'active' WHERE price_id = %s",
                               (price["price_id"],))


@pytest.mark.req("G1-14")
async def test_the_sql_scope_lists_exactly_what_the_rule_allows(book: Market) -> None:
    everything = await ok(book.admin.get("/v1/prices"))
    parents = {a["agent_id"]: a["parent_id"] for a in await ok(book.admin.get("/v1/agents"))}
    assert len(everything) == 10
    async with await psycopg.AsyncConnection.connect(book.settings.database_url or "",
                                                     autocommit=True) as conn:
        for role in ("agent_admin", "agent_viewer", "end_user", "platform_finance",
                     "enterprise_admin"):
            for agent_id in ("A", "B", "A1", "A2", "A11"):
                scope = price_scope(role, agent_id)
                expected = {p["price_id"] for p in everything if sees_price(
                    scope, p["kind"], p["agent_id"], parents[p["agent_id"]], p["status"])}
                listed = {p.price_id for p in await pricing.list_prices(conn, scope)}
                assert listed == expected, (role, agent_id)


@pytest.mark.req("X-01")
async def test_users_create_gives_an_agent_its_people(book: Market) -> None:
    """`cardpulse users create --role agent_admin --tenant AGENT`: the tenant of an agent role
    is its agent."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")},
           "CARDPULSE_DATABASE_URL": book.settings.require_database()}

    def create(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cardpulse.cli", "users", "create", *args],
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    made = create("--login", "a2.viewer", "--role", "agent_viewer", "--tenant", "A2")
    assert made.returncode == 0 and "of A2" in made.stdout, made.stdout + made.stderr
    assert create("--login", "x.viewer", "--role", "agent_viewer").returncode == 2
    assert create("--login", "y.viewer", "--role", "agent_viewer", "--tenant", "ZZ"
                  ).returncode == 1, "an unknown agent"
    listed = await ok(book.admin.get("/v1/users"))
    assert {(u["login"], u["agent_id"]) for u in listed} >= {("a2.viewer", "A2")}
