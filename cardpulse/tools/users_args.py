"""The arguments of `cardpulse users` (kept apart so the CLI imports no API to parse them)."""

from __future__ import annotations

import argparse

from domain.people.rules import ROLES


def add_arguments(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = verbs.add_parser("users", help="create console users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a user; prints a one-time password")
    create.add_argument("--login", required=True, help="3 to 64 letters, digits, . _ @ -")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--tenant", default=None,
                        help="the enterprise of an enterprise_admin or enterprise_viewer; "
                             "the agent of an agent_admin, agent_viewer or end_user")
    create.add_argument("--dl-tenant", default=None,
                        help="the delivery tenant of a vendor_admin, vendor_pm, provider_admin "
                             "or provider_staff (§6 I); its login gets the @<tenant> suffix")
    create.add_argument("--name", default=None,
                        help="a delivery user's name (default: the login)")
    create.add_argument("--business-role", action="append", default=[],
                        help="a provider_staff's preset business role (repeat for several)")
    create.add_argument("--state-dir", default=None,
                        help="the state dir of the `up` whose database to use (.cardpulse)")
