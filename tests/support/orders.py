"""G2 orders in tests: the API served over real HTTP next to the payment-channel simulator,
so the channel's signed notifications reach `POST /v1/payments/notify` as in production; the
spec's agents and prices (G2-02…G2-06) built through the API; ledger balances read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import uvicorn
from pydantic import SecretStr

from api.app import create_app
from cardpulse.supervisor.children import free_port
from connectors.payments import PaymentChannelClient
from core.settings import Settings
from simulators.knobs import SimKnobs
from simulators.operator_api import create_app as create_sim
from simulators.payments.channel import PayChannel
from simulators.payments.knobs import PayKnobs
from store import ledger
from tests.support.api import ADMIN
from tests.support.payments import QUICK, SECRET, served
from tests.support.pricing import Market, agent, ok, package, set_price
from tests.support.waiting import eventually_async

CARD = "89860012345678901234"
CARD_2 = "89860012345678901235"


@dataclass
class Shop:
    """The market (app, people), the channel's HTTP client, the settings as the app has them."""

    market: Market
    pay_http: httpx.AsyncClient
    channel: PayChannel

    @property
    def settings(self) -> Settings:
        return self.market.settings

    def who(self, name: str) -> httpx.AsyncClient:
        return self.market.people[name]

    async def pay(self, order: dict[str, Any], expect: str | None = None) -> dict[str, Any]:
        """Pay an online order at the channel; with `expect`, wait for the order to reach it."""
        answer = await self.pay_http.post(f"/_pay/payments/{order['payment_id']}/pay")
        assert answer.status_code == 200, answer.text
        return await self.reaches(order["order_id"], expect) if expect else answer.json()

    async def reaches(self, order_id: str, *states: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            found = await ok(self.market.admin.get(f"/v1/orders/{order_id}"))
            return found if found["state"] in states else None

        return await eventually_async(reached, timeout=20, what=f"{order_id} in {states}")

    async def knobs(self, **changes: Any) -> None:
        answer = await self.pay_http.put("/_pay/knobs", json=changes)
        assert answer.status_code == 200, answer.text

    async def settled(self) -> None:
        async def done() -> bool:
            stats: dict[str, Any] = (await self.pay_http.get("/_pay/stats")).json()
            return not (stats["notifications"]["copies_pending"]
                        or stats["payouts"]["processing"])

        await eventually_async(done, timeout=20, what="deliveries settled")

    async def order_moves(self, order_id: str) -> list[tuple[str, str, int, str]]:
        """The order's posted transfers (debit, credit, amount, fee type), in order."""
        async with await psycopg.AsyncConnection.connect(
                self.settings.require_database(), autocommit=True) as conn:
            return [(t.debit_account, t.credit_account, t.amount, t.fee_type)
                    for t in await ledger.order_transfers(conn, order_id)]

    async def notification_outcomes(self) -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(
                self.settings.require_database(), autocommit=True) as conn:
            rows = await (await conn.execute(
                "SELECT outcome, count(*) FROM payment_notifications GROUP BY outcome"
            )).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    async def balances(self, *accounts: str) -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(
                self.settings.require_database(), autocommit=True) as conn:
            return {key: (await ledger.balance(conn, key)).posted for key in accounts}


@asynccontextmanager
async def _serve(app: Any, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    try:
        await eventually_async(started, timeout=20, what="API served")
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def shop(settings: Settings, **knobs: Any) -> AsyncIterator[Shop]:
    """The API (served on a free port, its lifespan run) with the channel at `/_pay`."""
    channel = PayChannel(PayKnobs(**{**QUICK, **knobs}), SECRET)
    port = free_port()
    mine = settings.model_copy(update={
        "payment_secret": SecretStr(SECRET),
        "payment_notify_url": f"http://127.0.0.1:{port}/v1/payments/notify"})
    async with served(create_sim(SimKnobs(), payments=channel)) as sim_url, \
            httpx.AsyncClient(base_url=sim_url, timeout=10) as pay_http:
        app = create_app(mine, payments=PaymentChannelClient(pay_http, sim_url + "/_pay"))
        async with app.router.lifespan_context(app), _serve(app, port):
            made = Market(app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                 base_url="http://api", headers=ADMIN), mine)
            try:
                yield Shop(made, pay_http, channel)
            finally:
                await made.aclose()
                await made.admin.aclose()
                await channel.aclose()


async def spec_world(s: Shop) -> None:
    """G2-02/G2-05: purchase 5000; platform → A at 6000, A → A1 at 7000; A and A1 both sell
    at 9000. People: each agent's admin and viewer, an end user of each, finance, operator."""
    admin = s.market.admin
    await agent(admin, "A")
    await agent(admin, "A1", "A")
    await agent(admin, "B")
    await package(admin, "p90", 5000)
    for name, role, of in (("a.admin", "agent_admin", "A"), ("a.viewer", "agent_viewer", "A"),
                           ("a1.admin", "agent_admin", "A1"), ("b.admin", "agent_admin", "B"),
                           ("buyer", "end_user", "A"), ("buyer1", "end_user", "A1")):
        await s.market.person(name, role, agent=of)
    await s.market.person("finance", "platform_finance")
    await s.market.person("operator", "platform_operator")
    await set_price(admin, "cost", "p90", "A", 6000)
    await set_price(admin, "cost", "p90", "B", 6000)
    await set_price(s.who("a.admin"), "cost", "p90", "A1", 7000)
    await set_price(s.who("a.admin"), "retail", "p90", "A", 9000)
    await set_price(s.who("a1.admin"), "retail", "p90", "A1", 9000)
    await set_price(s.who("b.admin"), "retail", "p90", "B", 9000)


async def order(client: httpx.AsyncClient, method: str, iccid: str = CARD, code: int = 201,
                key: str | None = None, **extra: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return await ok(client.post("/v1/orders", json={
        "package_id": "p90", "iccid": iccid, "method": method, **extra}, headers=headers),
        code)


async def recharge(s: Shop, client: httpx.AsyncClient, wallet: str, amount: int,
                   iccid: str | None = None) -> Any:
    """A recharge paid at the channel, once credited."""
    made = await ok(client.post("/v1/wallets/recharges", json={
        "wallet": wallet, "amount_fen": amount, "iccid": iccid}), 201)
    assert made["state"] == "pending_payment" and made["pay_url"]
    return await s.pay(made, "credited")
