"""The operator simulator in tests: in process over ASGI with a hand-moved clock (unit tests),
or as a `cardpulse simulator` child process over real HTTP (integration tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx

from cardpulse.supervisor.children import free_port, port_open
from core.ctcc_des import password_field, sign_field
from simulators.beijing import BEIJING
from simulators.knobs import SimKnobs
from simulators.operator_api import create_app
from tests.support.waiting import eventually

SIM_URL = "http://sim"


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
            second: float = 0) -> float:
    """Unix seconds of a Beijing (Asia/Shanghai) wall-clock time."""
    whole = int(second)
    at = datetime(year, month, day, hour, minute, whole, tzinfo=BEIJING)
    return at.timestamp() + (second - whole)


class Clock:
    """A clock the test moves by hand (unix seconds: the simulator's calendar follows it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def set(self, t: float) -> None:
        """Jump to unix time `t`, e.g. `clock.set(beijing(2025, 3, 31, 23, 59, 30))`."""
        self.t = t


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

    async def edit_card(self, iccid: str, **fields: Any) -> dict[str, Any]:
        """`PUT /_sim/cards/{iccid}`: the operator's own change (number, platform, status,
        stop reason, freeze); returns the card's view."""
        response = await self.client.put(f"/_sim/cards/{iccid}", json=fields)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def register(self, *cards: dict[str, Any]) -> None:
        """`POST /_sim/cards`: give cards (`{"iccid", "msisdn", "platform"?}`) their numbers."""
        response = await self.client.post("/_sim/cards", json={"cards": list(cards)})
        assert response.json() == {"registered": len(cards)}, response.text

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
    environment (`with_env`: more variables, such as the payment channel's)."""

    def __init__(self, tmp: Path, **knobs: object) -> None:
        self._start(tmp, {}, knobs)

    @classmethod
    def with_env(cls, tmp: Path, env: dict[str, str], **knobs: object) -> Simulator:
        """The simulator with more variables in its environment (the payment channel's)."""
        sim = cls.__new__(cls)
        sim._start(tmp, env, knobs)
        return sim

    def _start(self, tmp: Path, given: dict[str, str], knobs: dict[str, object]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
        env.update({**given, "CARDPULSE_SIM_PORT": str(self.port),
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

    def register(self, numbers: dict[str, str]) -> None:
        """Give cards (ICCID → number) their numbers at the operator."""
        answer = httpx.post(f"{self.url}/_sim/cards", json={"cards": [
            {"iccid": i, "msisdn": m} for i, m in numbers.items()]})
        assert answer.is_success, answer.text

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


# --- Wire helpers: one call of each dialect, as a client would send it ------------------------

APPID = "app1"
JASPER_AUTH = ("acct", "api-key")
CTCC_USER = "cardpulse-user-0000000000000000"
# What a CTCC `sign` covers besides the card, user_id, the password and the method.
CTCC_SIGNED = {"disabledNumber": ("acctCd", "orderTypeId"), "queryCardMainStatus": (),
               "queryTraffic": ("needDtl",), "queryTrafficByDate": ("startDate", "endDate")}


def transid(appid: str = APPID, seq: int = 1) -> str:
    """A OneLink transid: appid + YYYYMMDDHHMMSS + an 8-digit sequence."""
    return f"{appid}20250101120000{seq:08d}"


async def onelink(sim: Sim, call: str, **params: Any) -> dict[str, Any]:
    """One OneLink call (`/v5/ec/<call>`): HTTP 200 and the `{status, message, result}`
    envelope, checked."""
    response = await sim.client.get(f"/v5/ec/{call}", params=params)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"status", "message", "result"}
    return answer


async def onelink_token(sim: Sim, appid: str = APPID) -> str:
    """A fresh OneLink token for `appid`."""
    answer = await onelink(sim, "get/token", appid=appid, password="pw", transid=transid(appid))
    assert answer["status"] == "0", answer
    token: str = answer["result"][0]["token"]
    return token


async def onelink_call(sim: Sim, call: str, token: str, **params: Any) -> dict[str, Any]:
    """One OneLink call with `token` and a valid transid."""
    return await onelink(sim, call, token=token, transid=transid(), **params)


async def jasper(sim: Sim, method: str, path: str, body: Any = None,
                 auth: tuple[str, str] | None = JASPER_AUTH) -> httpx.Response:
    """One Jasper call under `/rws/api/v1/devices/`."""
    return await sim.client.request(method, f"/rws/api/v1/devices/{path}", json=body, auth=auth)


def ctcc_params(method: str, *, password: str | None = None, key: str | None = None,
                user_id: str = CTCC_USER, **params: object) -> dict[str, str]:
    """The query of one CTCC call, `passWord` and `sign` made with the demo's DES (by default
    with the account of the default knobs)."""
    password = SimKnobs().ctcc_password if password is None else password
    key = SimKnobs().ctcc_key if key is None else key
    given = {name: str(value) for name, value in params.items()}
    card = [given[name] for name in ("access_number", "iccid") if name in given]
    extras = [given[name] for name in CTCC_SIGNED.get(method, ()) if name in given]
    values = [*card, user_id, password, method, *extras]
    return {"method": method, "user_id": user_id, "passWord": password_field(password, key),
            "sign": sign_field(values, key), **given}


async def ctcc(sim: Sim, method: str, **params: Any) -> httpx.Response:
    """One signed CTCC call (`GET /m2m_ec/query.do`)."""
    response = await sim.client.get("/m2m_ec/query.do", params=ctcc_params(method, **params))
    assert response.status_code == 200
    return response


def xml_fields(response: httpx.Response) -> dict[str, str]:
    """The text of every leaf element of an XML answer, by local name (namespaces dropped)."""
    root = ElementTree.fromstring(response.content)  # noqa: S314 (our own simulator's answer)
    return {leaf.tag.rpartition("}")[2]: leaf.text or "" for leaf in root.iter()
            if len(leaf) == 0}
