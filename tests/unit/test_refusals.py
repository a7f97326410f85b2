"""Business refusals answer in the C-06 shapes: 409 with code and both messages, or 422 naming
the field with the same three keys."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api import errors
from domain.ledger.errors import InsufficientFunds
from domain.refusals import Refusal


class MarkupCap(Refusal):
    code = "markup_cap_exceeded"
    message_zh = "代理的销售价格不能大于成本价的两倍"
    message_en = "An agent's sale price must not exceed twice its cost price"


def _app() -> httpx.AsyncClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/conflict")
    def conflict() -> None:
        raise InsufficientFunds("agent:a:available", 100, 600)  # type: ignore[arg-type]

    @app.get("/field")
    def field() -> None:
        raise MarkupCap(field="retail_price")

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.req("G2-04")
async def test_a_state_conflict_is_409_with_code_and_both_messages() -> None:
    async with _app() as client:
        answer = await client.get("/conflict")
    assert answer.status_code == 409
    assert answer.json() == {"detail": {"code": "insufficient_balance", "message_zh": "余额不足",
                                        "message_en": "Insufficient balance"}}


@pytest.mark.req("G1-10")
async def test_a_field_refusal_is_422_in_fastapis_shape_with_the_three_keys() -> None:
    async with _app() as client:
        answer = await client.get("/field")
    assert answer.status_code == 422
    (item,) = answer.json()["detail"]
    assert item["loc"] == ["body", "retail_price"] and item["code"] == "markup_cap_exceeded"
    assert item["message_zh"] == "代理的销售价格不能大于成本价的两倍"
    assert item["message_en"] == item["msg"]
