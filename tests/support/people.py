"""People in tests: users created through the API, logged in through the API or the console."""

from __future__ import annotations

import httpx

from tests.support.api import ADMIN

NEW_PASSWORD = "a long new passphrase"  # noqa: S105 - what test users change theirs to


async def make_user(client: httpx.AsyncClient, login: str, role: str,
                    tenant: str | None = "acme", headers: dict[str, str] = ADMIN) -> str:
    """Create a user; returns its one-time password."""
    answer = await client.post("/v1/users", json={"login": login, "role": role,
                                                  "enterprise_id": tenant}, headers=headers)
    assert answer.status_code == 201, answer.text
    password: str = answer.json()["one_time_password"]
    return password


async def log_in(client: httpx.AsyncClient, login: str, password: str,
                 change_to: str | None = NEW_PASSWORD) -> dict[str, str]:
    """Log in (changing a one-time password); returns the CSRF header of the session."""
    client.cookies.clear()
    answer = await client.post("/v1/session", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.text
    csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
    if answer.json()["must_change_password"] and change_to:
        changed = await client.put("/v1/session/password", headers=csrf, json={
            "current_password": password, "new_password": change_to})
        assert changed.status_code == 204, changed.text
    return csrf


async def person(client: httpx.AsyncClient, login: str, role: str,
                 tenant: str | None = "acme") -> dict[str, str]:
    """A user of `role` who has logged in and chosen a password; returns the CSRF header."""
    return await log_in(client, login, await make_user(client, login, role, tenant))
