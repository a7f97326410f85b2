"""Talking to the API in tests: the administrator's header, a tenant with a key, signed pushes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from core.signing import sign

ADMIN_TOKEN = "test-admin-token"  # noqa: S105 - the `settings` fixture's admin token
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def setup_tenant(client: httpx.AsyncClient, enterprise: str = "acme") -> dict[str, str]:
    """An enterprise with an admin key; returns that key's auth header."""
    made = await client.post("/v1/enterprises", json={"enterprise_id": enterprise,
                                                      "name": enterprise.title()}, headers=ADMIN)
    assert made.status_code == 201, made.text
    key = await client.post(f"/v1/enterprises/{enterprise}/api-keys",
                            json={"role": "enterprise_admin"}, headers=ADMIN)
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


def signed_body(body: dict[str, Any], secret: str, ts: int | None = None
                ) -> tuple[bytes, dict[str, str]]:
    """A JSON body and the headers of a push signed with `secret` (now, or at `ts`)."""
    raw = orjson.dumps(body)
    stamp = str(int(time.time()) if ts is None else ts)
    return raw, {"X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(secret, stamp, raw),
                 "Content-Type": "application/json"}
