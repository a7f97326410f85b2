"""The operator simulator in tests: in process over ASGI with a hand-moved clock (unit tests),
or as a `cardpulse simulator` child process over real HTTP (integration tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cardpulse.supervisor.children import free_port, port_open
from simulators.knobs import SimKnobs
from simulators.operator_api import create_app
from tests.support.waiting import eventually

SIM_URL = "http://sim"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Sim:
    """The simulator app in process: its client, its clock, and every request it was sent.

    `per_request_s` moves the clock on every request (the operator's time passing between
    calls), for what a client waits for in real time, such as a OneLink batch job.
    """

    client: httpx.AsyncClient
    clock: Clock
    requests: list[str] = field(default_factory=list)
    per_request_s: float = 0.0

    async def seen(self, request: httpx.Request) -> None:
        """The client's request hook: note the path, let the operator's time pass."""
        self.requests.append(request.url.path)
        self.clock.advance(self.per_request_s)

    async def knobs(self, **changes: Any) -> dict[str, Any]:
        response = await self.client.put("/_sim/knobs", json=changes)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def card(self, iccid: str) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.client.get(f"/_sim/cards/{iccid}")).json()
        return answer

    async def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.client.get("/_sim/stats")).json()
        return answer

    async def usage(self, iccid: str, nbytes: int) -> None:
        body = {"records": [{"iccid": iccid, "bytes": nbytes}]}
        assert (await self.client.post("/_sim/usage", json=body)).json() == {"accepted": 1}

    def calls(self, prefix: str = "") -> list[str]:
        """The paths requested so far (outside `/_sim/`), starting with `prefix`."""
        return [p for p in self.requests if p.startswith(prefix) and not p.startswith("/_sim/")]


@asynccontextmanager
async def sim_in_process(knobs: SimKnobs | None = None) -> AsyncIterator[Sim]:
    """The simulator app over an in-process ASGI transport, on a clock the test moves."""
    clock = Clock()
    app = create_app(knobs or SimKnobs(), clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=SIM_URL) as client:
        sim = Sim(client, clock)
        client.event_hooks = {"request": [sim.seen]}
        yield sim


class Simulator:
    """`cardpulse simulator` as a child process on a free port, with `knobs` from the
    environment."""

    def __init__(self, tmp: Path, **knobs: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
        env.update({"CARDPULSE_SIM_PORT": str(self.port),
                    **{f"CARDPULSE_SIM_{k.upper()}": str(v) for k, v in knobs.items()}})
        self.log = (tmp / f"sim-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "cardpulse.cli", "simulator"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        eventually(lambda: port_open("127.0.0.1", self.port), timeout=20, what="simulator")

    def card(self, iccid: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/_sim/cards/{iccid}").json()
        return body

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats").json()
        return body

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
