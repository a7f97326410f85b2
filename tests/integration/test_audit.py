"""The audit trail keeps every transition in order and can be neither changed nor deleted."""

from __future__ import annotations

import psycopg
import pytest

from store import audit
from store.audit import Transition
from tests.support.ledger import connect

pytestmark = [pytest.mark.integration, pytest.mark.req("C-08")]


async def test_transitions_are_kept_in_order_and_never_changed(db_url: str) -> None:
    async with connect(db_url) as conn:
        await audit.record(conn, Transition("order", "o1", None, "pending_payment", "li.wei",
                                            "agent_admin", request_id="r1"),
                           Transition("order", "o1", "pending_payment", "paid", "channel",
                                      "system", data={"payment_id": "p9"}))
        events = await audit.history(conn, "order", "o1")
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        (None, "pending_payment", "li.wei"), ("pending_payment", "paid", "channel")]
    assert events[1].data == {"payment_id": "p9"} and events[0].request_id == "r1"
    with psycopg.connect(db_url, autocommit=True) as conn:
        for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(psycopg.errors.RaiseException, match="never changed"):
                conn.execute(statement)
