"""`cardpulse users create`: a console user from the shell, with a one-time password.

It reaches the database of the platform `up` runs on the state dir (its embedded PostgreSQL
on CARDPULSE_POSTGRES_PORT), or CARDPULSE_DATABASE_URL when set.
"""

from __future__ import annotations

import argparse
import asyncio

import psycopg
from pydantic import ValidationError

from api.deps import Principal
from api.routers import delivery_people
from api.routers.people import make_user
from api.schemas.delivery_people import DeliveryUserCreate
from api.schemas.people import UserCreate
from cardpulse.supervisor.embedded import pg_url
from core.settings import Settings
from domain.people.rules import AGENT_ROLES, DELIVERY_ROLES, tenant_problem
from domain.refusals import Refusal
from store.errors import AlreadyExists, NotFound


def database_url(settings: Settings) -> str:
    return settings.database_url or pg_url(settings.host, settings.postgres_port)


async def _create(url: str, body: UserCreate | DeliveryUserCreate) -> tuple[str, str]:
    """(login, one-time password) of the new user."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if isinstance(body, DeliveryUserCreate):  # as the platform administrator would
            made = await delivery_people.make_user(conn, Principal("admin", key_id="cli"),
                                                   body)
            return made.login, made.one_time_password
        created = await make_user(conn, body)
    return created.login, created.one_time_password


def _body(args: argparse.Namespace) -> UserCreate | DeliveryUserCreate:
    if args.role in DELIVERY_ROLES:
        return DeliveryUserCreate(login=args.login, role=args.role, tenant_id=args.dl_tenant,
                                  display_name=args.name or args.login,
                                  business_roles=args.business_role)
    agent_role = args.role in AGENT_ROLES  # their tenant is an agent
    enterprise_id, agent_id = (None, args.tenant) if agent_role else (args.tenant, None)
    return UserCreate(login=args.login, role=args.role, enterprise_id=enterprise_id,
                      agent_id=agent_id)


def create_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create the user and print its one-time password as the last word of the last line."""
    agent_role = args.role in AGENT_ROLES  # their tenant is an agent
    enterprise_id, agent_id = (None, args.tenant) if agent_role else (args.tenant, None)
    delivery = args.role in DELIVERY_ROLES
    problem = tenant_problem(args.role, enterprise_id, agent_id, args.dl_tenant)
    if problem:
        flag = "--dl-tenant" if delivery or args.dl_tenant else "--tenant"
        print(f"cardpulse users create: {problem} ({flag})")
        return 2
    try:
        body = _body(args)
    except ValidationError as exc:
        print(f"cardpulse users create: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
        return 2
    url = database_url(settings)
    try:
        login, password = asyncio.run(_create(url, body))
    except (AlreadyExists, NotFound) as exc:
        print(f"cardpulse users create: {exc} (already exists or unknown tenant)")
        return 1
    except Refusal as exc:
        print(f"cardpulse users create: {exc.field}: {exc.message_en}")
        return 2
    except psycopg.OperationalError as exc:
        print(f"cardpulse users create: cannot reach the database at {url}: {exc}; "
              "is `cardpulse up` running on this state dir?")
        return 1
    tenant = args.dl_tenant if delivery else args.tenant
    of = f" of {tenant}" if tenant else ""
    print(f"created {args.role} {login}{of}; it must change this password at first login.")
    print(f"one-time password: {password}")
    return 0
