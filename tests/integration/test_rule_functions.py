"""Every SQL copy of a rule agrees with its Python original in `domain`, on generated input.

SQL filters and computes by these functions where a query must (the reconciler's scan and the
command it needs, the rollover's candidates, the usage batch's pool candidates, the card view,
the CSV export and the Grafana panels); the rules themselves live in `domain.quota`,
`domain.control.plan` and `domain.usage.cycles`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.operators import CARD_STATUSES, NETWORK_STATUSES
from domain.control.plan import command
from domain.quota import (
    CARD_RULES,
    REASON_ORDER,
    PoolQuota,
    desired_status,
    effective_reasons,
    pool_exhausted,
    reached,
)
from domain.usage.cycles import cycle_of

pytestmark = pytest.mark.integration
EXAMPLES = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# Reasons: the known ones, and any other text PostgreSQL can hold (no NUL, no surrogates),
# including non-ASCII, so that the order of unknown reasons is checked by code point.
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                min_size=1, max_size=8)
reasons = st.lists(st.sampled_from(REASON_ORDER) | _text, max_size=6)
exhausted_flags = st.none() | st.booleans()  # None: the card is in no pool
byte_counts = st.integers(min_value=0, max_value=1 << 62)
zones = st.sampled_from(["Asia/Shanghai", "UTC", "America/Los_Angeles", "Asia/Kolkata",
                         "Pacific/Chatham", "Europe/London", "Australia/Lord_Howe"])
instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.just(UTC))


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def _one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


@EXAMPLES
@given(own=reasons, exhausted=exhausted_flags)
def test_effective_reasons(conn: psycopg.Connection[Any], own: list[str],
                           exhausted: bool | None) -> None:
    in_sql = _one(conn, "SELECT cp_effective_reasons(%s::text[], %s)", own, exhausted)
    assert in_sql == effective_reasons(own, bool(exhausted))


@EXAMPLES
@given(own=reasons, exhausted=exhausted_flags)
def test_desired_status(conn: psycopg.Connection[Any], own: list[str],
                        exhausted: bool | None) -> None:
    in_sql = _one(conn, "SELECT cp_desired_status(%s::text[], %s)", own, exhausted)
    assert in_sql == desired_status(effective_reasons(own, bool(exhausted)))


@EXAMPLES
@given(used=byte_counts, limit=byte_counts)
def test_pool_exhausted(conn: psycopg.Connection[Any], used: int, limit: int) -> None:
    in_sql = _one(conn, "SELECT cp_pool_exhausted(%s, %s)", used, limit)
    assert in_sql == pool_exhausted(PoolQuota("p", limit, None, used))


@EXAMPLES
@given(own=reasons)
def test_card_rule_reasons(conn: psycopg.Connection[Any], own: list[str]) -> None:
    assert set(_one(conn, "SELECT cp_card_rules()")) == CARD_RULES
    carries = _one(conn, "SELECT %s::text[] && cp_card_rules()", own)
    assert carries == bool(set(own) & CARD_RULES)


@EXAMPLES
@given(old=byte_counts, grown=byte_counts, limit=byte_counts,
       percents=st.lists(st.integers(min_value=1, max_value=100), max_size=5))
def test_crossed_warning(conn: psycopg.Connection[Any], old: int, grown: int, limit: int,
                         percents: list[int]) -> None:
    new = min(old + grown, 1 << 62)
    in_sql = _one(conn, "SELECT cp_crossed(%s, %s, %s, %s::int[])", old, new, limit, percents)
    assert in_sql == bool(set(reached(new, limit, percents)) - set(reached(old, limit, percents)))


@EXAMPLES
@given(at=instants, zone=zones)
def test_cycle(conn: psycopg.Connection[Any], at: datetime, zone: str) -> None:
    assert _one(conn, "SELECT cp_cycle(%s, %s)", at, zone) == cycle_of(at, zone)


@pytest.mark.req("G2-17")
@EXAMPLES
@given(desired=st.sampled_from(CARD_STATUSES), network=st.sampled_from(NETWORK_STATUSES),
       opened=st.booleans())
def test_control_command(conn: psycopg.Connection[Any], desired: Any, network: Any,
                         opened: bool) -> None:
    in_sql = _one(conn, "SELECT cp_control_command(%s, %s, %s)", desired, network, opened)
    assert in_sql == command(desired, network, opened)
