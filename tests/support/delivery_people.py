"""The delivery workflow's people in tests: tenants made by the platform, users made through
the API (each with its own client, logged in, its one-time password changed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
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
class Crowd:
    """The app, the administrator's client, and a client per delivery person by login."""

    app: FastAPI
    admin: httpx.AsyncClient
    people: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url="http://api")

    async def tenant(self, tenant_id: str) -> None:
        made = await self.admin.post("/v1/delivery/tenants",
                                     json={"tenant_id": tenant_id, "name": tenant_id.upper()})
        assert made.status_code == 201, made.text

    async def sign_in(self, login: str, password: str) -> httpx.AsyncClient:
        """A client of `login`, its one-time password changed; sends its CSRF token."""
        own = self.client()
        signed = await own.post("/v1/session", json={"login": login, "password": password})
        assert signed.status_code == 200, signed.text
        own.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        changed = await own.put("/v1/session/password", json={
            "current_password": password, "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        self.people[login] = own
        return own

    async def person(self, login: str, role: str, tenant: str, *,
                     by: httpx.AsyncClient | None = None, **fields: Any) -> httpx.AsyncClient:
        """A user made by `by` (the platform admin by default), signed in."""
        body = {"login": login, "role": role, "display_name": login, "tenant_id": tenant,
                **fields}
        if role == "provider_staff":
            body.setdefault("business_roles", ["设计师"])
        made = await (by or self.admin).post("/v1/delivery/users", json=body)
        assert made.status_code == 201, made.text
        return await self.sign_in(made.json()["login"], made.json()["one_time_password"])

    async def aclose(self) -> None:
        for each in self.people.values():
            await each.aclose()


@asynccontextmanager
async def crowd(settings: Settings) -> AsyncIterator[Crowd]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        made = Crowd(app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                            base_url="http://api", headers=ADMIN))
        try:
            yield made
        finally:
            await made.aclose()
            await made.admin.aclose()


def users_create(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`cardpulse users create ARGS` on the test's database."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")},
           "CARDPULSE_DATABASE_URL": settings.require_database()}
    return subprocess.run([sys.executable, "-m", "cardpulse.cli", "users", "create", *args],  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=60, check=False)
