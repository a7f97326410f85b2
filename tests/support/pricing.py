"""Agents and prices in tests: one in-process app, a client per signed-in person, and the
spec's worked example (specs/business.md G1-05, G1-09) built through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings
from tests.support.api import ADMIN
from tests.support.people import NEW_PASSWORD


@dataclass
class Market:
    """The app, the administrator's client, and a client per person by name."""

    app: FastAPI
    admin: httpx.AsyncClient
    settings: Settings
    people: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url="http://api", headers=headers)

    async def person(self, name: str, role: str, *, agent: str | None = None,
                     enterprise: str | None = None) -> httpx.AsyncClient:
        """A user of `role` (of `agent`), logged in with a chosen password; its client sends
        the session's CSRF token with every request."""
        made = await self.admin.post("/v1/users", json={
            "login": name, "role": role, "agent_id": agent, "enterprise_id": enterprise})
        assert made.status_code == 201, made.text
        own = self.client()
        signed = await own.post("/v1/session", json={
            "login": name, "password": made.json()["one_time_password"]})
        assert signed.status_code == 200, signed.text
        own.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        changed = await own.put("/v1/session/password", json={
            "current_password": made.json()["one_time_password"], "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        self.people[name] = own
        return own

    async def aclose(self) -> None:
        for each in self.people.values():
            await each.aclose()


@asynccontextmanager
async def market(settings: Settings) -> AsyncIterator[Market]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        made = Market(app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://api", headers=ADMIN), settings)
        try:
            yield made
        finally:
            await made.aclose()
            await made.admin.aclose()


async def ok(answer: Awaitable[httpx.Response], code: int = 200) -> Any:
    """The JSON (an object or a list) of an answer that must have `code`."""
    response = await answer
    assert response.status_code == code, response.text
    return response.json()


async def agent(client: httpx.AsyncClient, agent_id: str, parent: str | None = None,
                lines: tuple[str, ...] = ("traffic_card", "number_card")) -> Any:
    return await ok(client.post("/v1/agents", json={
        "agent_id": agent_id, "name": f"Agent {agent_id}", "parent_id": parent,
        "business_lines": list(lines)}), 201)


async def package(client: httpx.AsyncClient, package_id: str, purchase: int = 5000,
                  **extra: Any) -> Any:
    return await ok(client.post("/v1/packages", json={
        "package_id": package_id, "name": f"Package {package_id}",
        "business_line": "traffic_card", "purchase_price_fen": purchase,
        "package_bytes": 1 << 30, **extra}), 201)


async def set_price(client: httpx.AsyncClient, kind: str, package_id: str, agent_id: str,
                    amount: int, code: int = 201, **extra: Any) -> Any:
    return await ok(client.post("/v1/prices", json={
        "kind": kind, "package_id": package_id, "agent_id": agent_id, "amount_fen": amount,
        **extra}), code)
