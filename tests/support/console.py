"""Driving the console over HTTP in tests: a person logged in (pages in English), the value a
page shows once, and a form post with the session's CSRF token."""

from __future__ import annotations

import re

import httpx

from tests.support.people import person

SHOWN_ONCE = re.compile(r'data-testid="shown-once">([^<]+)<')


async def signed_in(client: httpx.AsyncClient, login: str, role: str,
                    tenant: str | None = "acme") -> str:
    """Log `login` in (a new user of `role`), pages in English; returns the CSRF token."""
    csrf = (await person(client, login, role, tenant))["X-CSRF-Token"]
    client.cookies.set("cardpulse_lang", "en")
    return csrf


def shown_once(page: httpx.Response) -> str:
    """The secret (key, password) a page shows once; fails when there is none."""
    found = SHOWN_ONCE.search(page.text)
    assert found is not None, page.text[:2000]
    return found.group(1).strip()


async def post_form(client: httpx.AsyncClient, path: str, csrf: str,
                    **fields: str | list[str]) -> httpx.Response:
    """A plain form post, as a browser without JavaScript sends it."""
    return await client.post(path, data={"csrf_token": csrf, **fields})
