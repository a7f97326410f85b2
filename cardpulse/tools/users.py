"""`cardpulse users create`: a console user from the shell, with a one-time password.

It reaches the database of the platform `up` runs on the state dir (its embedded PostgreSQL
on CARDPULSE_POSTGRES_PORT), or CARDPULSE_DATABASE_URL when set.
"""

from __future__ import annotations

import argparse
import asyncio

import psycopg
from pydantic import ValidationError

from api.routers.people import make_user
from api.schemas.people import UserCreate
from cardpulse.supervisor.embedded import pg_url
from core.settings import Settings
from domain.people.rules import AGENT_ROLES, tenant_problem
from store.errors import AlreadyExists, NotFound


def database_url(settings: Settings) -> str:
    return settings.database_url or pg_url(settings.host, settings.postgres_port)


async def _create(url: str, body: UserCreate) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        made = await make_user(conn, body)
    return made.one_time_password


def create_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create the user and print its one-time password as the last word of the last line."""
    agent_role = args.role in AGENT_ROLES  # their tenant is an agent
    enterprise_id, agent_id = (None, args.tenant) if agent_role else (args.tenant, None)
    problem = tenant_problem(args.role, enterprise_id, agent_id)
    if problem:
        print(f"cardpulse users create: {problem} (--tenant)")
        return 2
    try:
        body = UserCreate(login=args.login, role=args.role, enterprise_id=enterprise_id,
                          agent_id=agent_id)
    except ValidationError as exc:
        print(f"cardpulse users create: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
        return 2
    url = database_url(settings)
    try:
        password = asyncio.run(_create(url, body))
    except (AlreadyExists, NotFound) as exc:
        print(f"cardpulse users create: {exc} (already exists or unknown tenant)")
        return 1
    except psycopg.OperationalError as exc:
        print(f"cardpulse users create: cannot reach the database at {url}: {exc}; "
              "is `cardpulse up` running on this state dir?")
        return 1
    tenant = f" of {args.tenant}" if args.tenant else ""
    print(f"created {args.role} {args.login}{tenant}; it must change this password at first "
          "login.")
    print(f"one-time password: {password}")
    return 0
