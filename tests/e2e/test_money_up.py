"""Money on `cardpulse up`, driven only over HTTP as a user would: an order paid at the
payment-channel simulator resumes a card its package quota stopped, and a card's first package
opens an inventory card at the operator simulator (G2-17, G2-18, issue 16's end-to-end)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.signing import sign
from tests.support.dates import MovedClock, mid_cycle, move_clock_sync
from tests.support.people import NEW_PASSWORD
from tests.support.stack import Up, launch, wait_up
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.req("G2-02", "G2-03", "G2-17", "G2-18")]
SECRET = "e2e-money-secret-0123456789"
STOPPED_CARD = "89860000000000000404"
INVENTORY_CARD, INVENTORY_NUMBER = "89860000000000000505", "1440000000505"
GIB = 1 << 30


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = launch(tmp_path / "state", env={
        "CARDPULSE_TEST_CLOCK": "true", "CARDPULSE_SIM_COOLDOWN_S": "0",
        "CARDPULSE_CONTROLS_CARD_COOLDOWN_S": "0"})
    wait_up(running)
    yield running
    if running.proc.poll() is None:
        running.proc.terminate()
        running.proc.wait(30)


class Client:
    """One caller of the running platform: the administrator's token or a person's session."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, verb: str, path: str, code: int = 200, /, **body: Any) -> Any:
        answer = self.http.request(verb, path, json=body or None)
        assert answer.status_code == code, f"{verb} {path}: {answer.text}"
        return answer.json() if answer.content else {}


def person(up: Up, admin: Client, login: str, role: str, agent: str) -> Client:
    """A user created by the administrator, signed in, its one-time password changed."""
    made = admin.call("POST", "/v1/users", 201, login=login, role=role, agent_id=agent)
    own = Client(httpx.Client(base_url=up.api, timeout=10))
    signed = own.call("POST", "/v1/session", login=login,
                      password=made["one_time_password"])
    own.http.headers["X-CSRF-Token"] = signed["csrf_token"]
    own.call("PUT", "/v1/session/password", 204, current_password=made["one_time_password"],
             new_password=NEW_PASSWORD)
    return own


def push_usage(up: Up, clock: MovedClock, iccid: str, nbytes: int) -> None:
    end = clock.now() - timedelta(seconds=2)
    record = {"record_id": f"e2e-money-{iccid}", "iccid": iccid, "bytes": nbytes,
              "start": (end - timedelta(minutes=1)).isoformat(), "end": end.isoformat()}
    raw = orjson.dumps({"records": [record]})
    stamp = str(int(time.time()))
    answer = httpx.post(f"{up.api}/v1/upstream/onelink/usage", content=raw, headers={
        "X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(SECRET, stamp, raw)})
    assert answer.status_code == 202, answer.text


def pay(up: Up, admin: Client, order: dict[str, Any], state: str) -> dict[str, Any]:
    """The payer pays at the channel simulator; the order then reaches `state`."""
    assert order["state"] == "pending_payment" and order["pay_url"], order
    paid = httpx.post(f"{up.sim}/_pay/payments/{order['payment_id']}/pay", timeout=10)
    assert paid.status_code == 200, paid.text
    return reaches(admin, order["order_id"], state)


def reaches(admin: Client, order_id: str, state: str) -> dict[str, Any]:
    eventually(lambda: admin.call("GET", f"/v1/orders/{order_id}")["state"] == state,
               timeout=60, what=f"{order_id} {state}",
               show=lambda: admin.call("GET", f"/v1/orders/{order_id}"))
    found: dict[str, Any] = admin.call("GET", f"/v1/orders/{order_id}")
    return found


def on_network(up: Up, admin: Client, iccid: str, status: str) -> None:
    def done() -> bool:
        sim = httpx.get(f"{up.sim}/_sim/cards/{iccid}", timeout=10).json()
        return bool(sim["status"] == status
                    and admin.call("GET", f"/v1/cards/{iccid}")["network_status"] == status)

    eventually(done, timeout=60, what=f"{iccid} {status} on the network",
               show=lambda: (httpx.get(f"{up.sim}/_sim/cards/{iccid}").json(),
                             admin.call("GET", f"/v1/cards/{iccid}")))


def world(up: Up) -> tuple[Client, MovedClock]:
    """Acme's cards on OneLink; agent A (cost 6000) sells package `p1g` (1 GiB) at 9000."""
    admin = Client(httpx.Client(base_url=up.api, timeout=10,
                                headers={"Authorization": f"Bearer {up.token()}"}))
    clock = move_clock_sync(admin.http, mid_cycle())
    admin.call("POST", "/v1/enterprises", 201, enterprise_id="acme", name="Acme")
    admin.call("PUT", "/v1/operators/onelink/push-secret", 204, secret=SECRET)
    admin.call("POST", "/v1/agents", 201, agent_id="A", name="Agent A", parent_id=None,
               business_lines=["traffic_card"])
    admin.call("POST", "/v1/packages", 201, package_id="p1g", name="1 GiB",
               business_line="traffic_card", purchase_price_fen=5000, package_bytes=GIB)
    admin.call("POST", "/v1/prices", 201, kind="cost", package_id="p1g", agent_id="A",
               amount_fen=6000)
    return admin, clock


def test_a_card_stopped_by_its_package_resumes_after_a_paid_order(up: Up) -> None:
    admin, clock = world(up)
    seller = person(up, admin, "a.admin", "agent_admin", "A")
    seller.call("POST", "/v1/prices", 201, kind="retail", package_id="p1g", agent_id="A",
                amount_fen=9000)
    buyer = person(up, admin, "wang", "end_user", "A")
    admin.call("POST", "/v1/cards", 201, iccid=STOPPED_CARD, enterprise_id="acme",
               operator="onelink", package_bytes=1000)
    push_usage(up, clock, STOPPED_CARD, 1200)  # past its package
    eventually(lambda: admin.call("GET", f"/v1/cards/{STOPPED_CARD}")["stop_reasons"]
               == ["package_quota"], timeout=60, what="stopped by its package")
    on_network(up, admin, STOPPED_CARD, "stopped")

    # Flow 1: the end user pays the retail price online, at the channel simulator.
    order = buyer.call("POST", "/v1/orders", 201, package_id="p1g", iccid=STOPPED_CARD,
                       method="online")
    assert order["amount_fen"] == 9000
    done = pay(up, admin, order, "completed")
    assert done["package_added"] == GIB
    card = admin.call("GET", f"/v1/cards/{STOPPED_CARD}")
    assert (card["package_bytes"], card["stop_reasons"]) == (1000 + GIB, [])
    on_network(up, admin, STOPPED_CARD, "active")  # resumed with no new usage
    # G2-02: the platform keeps the cost, the agent the difference, the escrow is empty.
    assert admin.call("GET", "/v1/wallets/agents/A")["balance_fen"] == 3000


def test_a_first_package_opens_an_inventory_card_at_the_operator(up: Up) -> None:
    admin, _ = world(up)
    seller = person(up, admin, "a.admin", "agent_admin", "A")
    seller.call("POST", "/v1/prices", 201, kind="retail", package_id="p1g", agent_id="A",
                amount_fen=9000)  # what its customer pays it, off the platform (G2-03)
    admin.call("POST", "/v1/cards", 201, iccid=INVENTORY_CARD, enterprise_id="acme",
               operator="onelink", msisdn=INVENTORY_NUMBER, opened=False)
    answer = httpx.put(f"{up.sim}/_sim/cards/{INVENTORY_CARD}", timeout=10,
                       json={"msisdn": INVENTORY_NUMBER, "stage": "inventory"})
    assert answer.status_code == 200, answer.text
    assert admin.call("GET", f"/v1/cards/{INVENTORY_CARD}")["stop_reasons"] == ["not_opened"]

    # Flow 2: the agent prepays its wallet at the channel, then pays the cost from it.
    recharge = seller.call("POST", "/v1/wallets/recharges", 201, wallet="agent",
                           amount_fen=6000)
    pay(up, admin, recharge, "credited")
    order = seller.call("POST", "/v1/orders", 201, package_id="p1g", iccid=INVENTORY_CARD,
                        method="agent_wallet")
    assert (order["state"], order["amount_fen"]) == ("fulfilling", 6000)
    assert admin.call("GET", "/v1/wallets/agents/A")["balance_fen"] == 0
    on_network(up, admin, INVENTORY_CARD, "active")  # opened at the operator
    done = reaches(admin, order["order_id"], "completed")
    assert done["activation_asked_at"] is not None
    card = admin.call("GET", f"/v1/cards/{INVENTORY_CARD}")
    assert (card["opened"], card["stop_reasons"], card["package_count"]) == (True, [], 1)
    sim = httpx.get(f"{up.sim}/_sim/cards/{INVENTORY_CARD}", timeout=10).json()
    assert (sim["stage"], sim["status_changes"]) == (None, 1)
