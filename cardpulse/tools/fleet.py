"""`cardpulse fleet`: a simulated fleet of cards for demos and load tests.

push mode (default): optionally register the cards, then push signed usage to the API.
poll mode: feed the operator simulator's counters, for CardPulse to poll
(set CARDPULSE_POLL_OPERATORS on the platform).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

import httpx

from core.settings import Settings
from simulators.fleet import FleetSpec
from simulators.fleet_push import (
    Progress,
    feed_counters,
    number_cards,
    push,
    push_card_events,
    register,
)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _admin_token(settings: Settings) -> str:
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = settings.state_dir / "admin-token"
    if not path.exists():
        raise SystemExit(f"cardpulse fleet: no admin token: set CARDPULSE_ADMIN_TOKEN or run "
                         f"`cardpulse up` first (it writes {path})")
    return path.read_text().strip()


async def _push_mode(args: argparse.Namespace, settings: Settings, spec: FleetSpec) -> Progress:
    base = f"http://{settings.host}:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        secret = args.secret
        if args.register:
            token = _admin_token(settings)
            if settings.operator_base_url is None:  # the simulator `up` runs: give numbers
                async with httpx.AsyncClient(base_url=settings.operator_url,
                                             timeout=60) as sim:
                    await number_cards(sim, spec)
            await register(http, token, "fleet", spec, args.concurrency, _say)
            if secret is None:
                secret = secrets.token_urlsafe(24)
                answer = await http.put(f"/v1/operators/{spec.operator}/push-secret",
                                        json={"secret": secret},
                                        headers={"Authorization": f"Bearer {token}"})
                answer.raise_for_status()
        if secret is None:
            raise SystemExit("cardpulse fleet: pass --secret (the operator's push secret) or "
                             "--register")
        progress = await push(http, secret, spec, args.records, args.batch, args.concurrency,
                              args.duration, _say)
        if args.card_events > 0:
            events = await push_card_events(http, secret, spec, args.card_events, args.batch,
                                            args.concurrency, args.duration, _say)
            progress.failed += events.failed
            progress.errors += events.errors
        return progress


async def _poll_mode(args: argparse.Namespace, settings: Settings, spec: FleetSpec) -> Progress:
    async with httpx.AsyncClient(base_url=settings.operator_url, timeout=30) as http:
        return await feed_counters(http, spec, args.records, args.batch, args.concurrency,
                                   args.duration, _say)


def run_fleet(args: argparse.Namespace, settings: Settings) -> int:
    spec = FleetSpec(args.cards, args.operator, args.seed)
    runner = _push_mode if args.mode == "push" else _poll_mode
    try:
        progress = asyncio.run(runner(args, settings, spec))
    except httpx.HTTPError as exc:
        _say(f"cardpulse fleet: cannot reach the platform ({exc}); is `cardpulse up` running?")
        return 1
    for error in progress.errors:
        _say(f"  e.g. {error}")
    return 0 if progress.failed == 0 else 1
