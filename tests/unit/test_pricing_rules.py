"""The pure pricing rules (specs/business.md §1): bounds and the markup cap, the invalidation
cascade, the price chain, price-risk checks, visibility and the agent tree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Fen
from domain.people.rules import Role, tenant_problem
from domain.pricing.agents import check_lines, check_move
from domain.pricing.book import Key, bound_of, cascade, dependents_of
from domain.pricing.chain import Level, Package, PriceRow, build_chain
from domain.pricing.errors import (
    AgentDisabled,
    CostBelowPurchase,
    CyclicMove,
    LineNotAllowed,
    LinesBeyondParent,
    MarkupCapExceeded,
    PriceBelowCost,
    PriceUnavailable,
)
from domain.pricing.risk import price_risks
from domain.pricing.rules import MARKUP_FACTOR, Bound, check_price, markup_cap, price_problem
from domain.pricing.visibility import price_scope, relation, sees_agent, sees_price

AT = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)  # any fixed instant: these rules read no clock
TRAFFIC = Package("p50", "traffic_card", True, 3, Fen(5000), None, 1 << 30, 1)


@pytest.mark.req("G1-06")
def test_platform_cost_never_below_purchase() -> None:
    assert price_problem(5000, Bound.purchase(5000)) is None
    assert isinstance(price_problem(4999, Bound.purchase(5000)), CostBelowPurchase)
    assert price_problem(10**9, Bound.purchase(5000)) is None, "the platform has no cap"


@pytest.mark.req("G1-07", "G1-11")
def test_a_sale_is_never_below_the_sellers_cost() -> None:
    assert price_problem(6000, Bound.seller_cost(6000)) is None, "no markup is allowed"
    refused = price_problem(5999, Bound.seller_cost(6000))
    assert isinstance(refused, PriceBelowCost) and refused.code == "price_below_cost"
    assert (refused.message_zh, refused.message_en) == (
        "销售价格不能低于成本价", "Sale price must not be lower than the cost price")


@pytest.mark.req("G1-10")
def test_markup_cap_is_exactly_twice_the_own_cost() -> None:
    assert MARKUP_FACTOR == 2
    assert price_problem(12000, Bound.seller_cost(6000)) is None
    refused = price_problem(12001, Bound.seller_cost(6000))
    assert isinstance(refused, MarkupCapExceeded) and refused.field == "amount_fen"
    assert (refused.code, refused.message_zh, refused.message_en) == (
        "markup_cap_exceeded", "代理的销售价格不能大于成本价的两倍",
        "An agent's sale price must not exceed twice its cost price")
    with pytest.raises(MarkupCapExceeded):
        check_price(12001, Bound.seller_cost(6000))


@pytest.mark.req("G1-10")
@given(cost=st.integers(1, 10**10))
def test_the_cap_boundary_for_every_cost(cost: int) -> None:
    assert price_problem(2 * cost, Bound.seller_cost(cost)) is None
    assert isinstance(price_problem(2 * cost + 1, Bound.seller_cost(cost)), MarkupCapExceeded)
    assert markup_cap(cost) == 2 * cost


# A random tree of agents a0…an (each agent's parent comes before it) and a book on it.
@st.composite
def books(draw: st.DrawFn) -> tuple[dict[str, str | None], dict[Key, Fen], Fen]:
    size = draw(st.integers(1, 7))
    tree: dict[str, str | None] = {}
    for i in range(size):
        up = draw(st.none() | st.integers(0, i - 1)) if i else None
        tree[f"a{i}"] = None if up is None else f"a{up}"
    purchase = Fen(draw(st.integers(1, 10_000)))
    book: dict[Key, Fen] = {}
    for agent in tree:  # a valid book: every bound kept
        parent = tree[agent]
        seller_cost = purchase if parent is None else book.get(Key("cost", parent))
        if seller_cost is None:
            continue
        top = parent is None
        book[Key("cost", agent)] = Fen(draw(st.integers(
            seller_cost, 3 * seller_cost if top else 2 * seller_cost)))
        own = book[Key("cost", agent)]
        if draw(st.booleans()):
            book[Key("retail", agent)] = Fen(draw(st.integers(own, 2 * own)))
    return tree, book, purchase


def _valid(book: dict[Key, Fen], tree: dict[str, str | None], purchase: Fen) -> set[Key]:
    out = set()
    for key, amount in book.items():
        bound = bound_of(key, book, tree, purchase)
        if bound is not None and price_problem(amount, bound) is None:
            out.add(key)
    return out


@pytest.mark.req("G1-12")
@given(world=books(), data=st.data())
def test_a_cost_change_invalidates_exactly_the_dependents_that_break_a_bound(
        world: tuple[dict[str, str | None], dict[Key, Fen], Fen], data: st.DataObject) -> None:
    tree, book, purchase = world
    costs = [k for k in book if k.kind == "cost"]
    changed = data.draw(st.sampled_from(costs))
    after = {**book, changed: Fen(data.draw(st.integers(1, 40_000)))}
    valid = set(book)
    gone = cascade(after, tree, purchase, changed, valid)
    deps = set(dependents_of(changed, after, tree))
    assert gone <= deps, "only prices bounded by the changed cost"
    for key in deps:
        bound = bound_of(key, after, tree, purchase)
        assert bound is not None
        assert (key in gone) == (price_problem(after[key], bound) is not None)


def _path(agent: str, tree: dict[str, str | None]) -> list[str]:
    up: str | None = agent
    path: list[str] = []
    while up is not None:
        path.insert(0, up)
        up = tree[up]
    return path


@pytest.mark.req("G1-12", "G1-13")
@given(world=books(), data=st.data())
def test_a_valid_chain_stays_valid_after_a_change_off_its_path(
        world: tuple[dict[str, str | None], dict[Key, Fen], Fen], data: st.DataObject) -> None:
    tree, book, purchase = world
    assert _valid(book, tree, purchase) == set(book), "the generated book is valid"
    sellers = [k.agent_id for k in book if k.kind == "retail"]
    if not sellers:
        return
    seller = data.draw(st.sampled_from(sellers))
    path = _path(seller, tree)
    chain = {Key("cost", a) for a in path} | {Key("retail", seller)}
    off_path = [k for k in book if k.kind == "cost" and k.agent_id not in path]
    if not off_path:
        return
    changed = data.draw(st.sampled_from(off_path))
    after = {**book, changed: Fen(data.draw(st.integers(1, 40_000)))}
    assert not cascade(after, tree, purchase, changed, set(book)) & chain
    assert chain <= _valid(after, tree, purchase)


@pytest.mark.req("G1-06", "G1-12")
def test_a_purchase_raise_invalidates_top_level_costs_below_it() -> None:
    tree: dict[str, str | None] = {"A": None, "B": None, "A1": "A"}
    book = {Key("cost", "A"): Fen(6000), Key("cost", "B"): Fen(7000),
            Key("cost", "A1"): Fen(6500)}
    assert cascade(book, tree, Fen(6600), None, set(book)) == {Key("cost", "A")}


@pytest.mark.req("G1-12")
def test_the_spec_example_of_a_cost_change() -> None:
    tree: dict[str, str | None] = {"A": None, "A1": "A"}
    book = {Key("cost", "A"): Fen(9000), Key("retail", "A"): Fen(11000),
            Key("cost", "A1"): Fen(8000)}
    assert cascade(book, tree, Fen(5000), Key("cost", "A"), set(book)) == {Key("cost", "A1")}
    lower = {**book, Key("cost", "A"): Fen(5000)}
    assert cascade(lower, tree, Fen(5000), Key("cost", "A"), set(book)) == {Key("retail", "A")}


def _level(agent: str, amount: int | None, *, active: bool = True, status: str = "active",
           lines: tuple[str, ...] = ("traffic_card",)) -> Level:
    row = None if amount is None else PriceRow(hash(agent) % 1000, 1, Fen(amount),
                                               "active" if status == "active" else "invalid")
    return Level(agent, active, lines, row)


@pytest.mark.req("G1-13", "G1-05", "G1-09")
def test_the_chain_carries_every_level_and_version() -> None:
    chain = build_chain(TRAFFIC, [_level("A", 6000), _level("A1", 8000)],
                        PriceRow(77, 2, Fen(10000), "active"), AT)
    assert chain.purchase_price_fen == 5000 and chain.retail_price_fen == 10000
    assert [(lv.agent_id, lv.cost_price_fen) for lv in chain.levels] == [("A", 6000),
                                                                          ("A1", 8000)]
    assert (chain.retail_price_id, chain.retail_version, chain.package_version) == (77, 2, 3)
    assert chain.agent_path == ("A", "A1") and chain.seller_agent_id == "A1"


@pytest.mark.req("G1-08", "G1-12", "G1-20", "G1-19")
@pytest.mark.parametrize(("levels", "retail", "refusal"), [
    ([_level("A", 6000), _level("A1", None)], 9000, PriceUnavailable),  # no cost (G1-08)
    ([_level("A", 6000, status="invalid")], 9000, PriceUnavailable),  # invalid (G1-12)
    ([_level("A", 6000)], None, PriceUnavailable),  # no retail price
    ([_level("A", 6000), _level("A1", 13000)], 14000, PriceUnavailable),  # broken bound
    ([_level("A", 6000, active=False), _level("A1", 8000)], 9000, AgentDisabled),
    ([_level("A", 6000, lines=("number_card",))], 9000, LineNotAllowed),
])
def test_a_chain_with_a_missing_invalid_or_disabled_link_is_refused(
        levels: list[Level], retail: int | None, refusal: type[Exception]) -> None:
    row = None if retail is None else PriceRow(1, 1, Fen(retail), "active")
    with pytest.raises(refusal):
        build_chain(TRAFFIC, levels, row, AT)


@pytest.mark.req("G1-12")
def test_price_unavailable_says_the_spec_message() -> None:
    refused = PriceUnavailable()
    assert (refused.code, refused.message_zh, refused.message_en, refused.field) == (
        "price_unavailable", "该套餐暂不可售", "This package is temporarily not for sale", None)


@pytest.mark.req("G1-15")
def test_a_number_card_is_sold_at_the_factory_price_with_no_agent_levels() -> None:
    card = Package("n1", "number_card", True, 1, None, Fen(3900), None, 1)
    chain = build_chain(card, [_level("A", None, lines=("number_card",))], None, AT)
    assert chain.levels == () and chain.retail_price_fen == 3900
    assert price_risks(chain, Fen(1)) == []


@pytest.mark.req("G1-18")
def test_price_risks() -> None:
    chain = build_chain(TRAFFIC, [_level("A", 6000), _level("A1", 8000)],
                        PriceRow(1, 1, Fen(10000), "active"), AT)
    assert price_risks(chain, Fen(10000)) == []
    assert [r.code for r in price_risks(chain, Fen(7999))] == ["below_seller_cost"]
    assert [r.code for r in price_risks(chain, Fen(4999))] == ["below_seller_cost",
                                                                "negative_margin"]


@pytest.mark.req("G1-14")
def test_what_each_role_sees_of_the_menu() -> None:
    agent, end_user, platform = (price_scope("agent_admin", "A"),
                                 price_scope("end_user", "A"), price_scope("platform_ops", None))
    assert sees_price(platform, "cost", "B", None, "deleted")
    assert sees_price(agent, "cost", "A", None, "active"), "its own cost"
    assert sees_price(agent, "retail", "A", None, "invalid"), "its own retail, even invalid"
    assert sees_price(agent, "cost", "A1", "A", "active"), "the cost it set downstream"
    assert not sees_price(agent, "retail", "A1", "A", "active"), "not its downstream's retail"
    assert not sees_price(agent, "cost", "B", None, "active"), "not a sibling's"
    assert not sees_price(price_scope("agent_viewer", "A1"), "cost", "A", None, "active"), \
        "not its upstream's"
    assert sees_price(end_user, "retail", "A", None, "active")
    assert not sees_price(end_user, "retail", "A", None, "invalid")
    assert not sees_price(end_user, "cost", "A", None, "active")
    assert not sees_price(price_scope("enterprise_admin", None), "retail", "A", None, "active")


@pytest.mark.req("G1-14", "G1-21")
@given(path=st.lists(st.integers(1, 50).map(str), min_size=1, max_size=6, unique=True),
       cut=st.integers(0, 6))
def test_an_agent_sees_itself_and_its_downstream_only(path: list[str], cut: int) -> None:
    above = path[:max(1, min(cut, len(path)))]
    assert sees_agent(above, path) and relation(above, path) in ("self", "downstream")
    if len(above) < len(path):
        assert not sees_agent(path, above), "never upstream"
    assert not sees_agent(path, [*path[:-1], "99"]), "never a sibling"


@pytest.mark.req("G1-21", "G1-19")
def test_moves_stay_acyclic_and_lines_within_the_parents() -> None:
    check_move(("1", "2"), ("3",))
    check_move(("1", "2"), None)
    for below in (("1", "2"), ("1", "2", "5")):
        with pytest.raises(CyclicMove):
            check_move(("1", "2"), below)
    check_lines(["traffic_card"], ["traffic_card", "number_card"])
    with pytest.raises(LinesBeyondParent):
        check_lines(["number_card"], ["traffic_card"])


@pytest.mark.req("X-01")
def test_business_roles_have_their_tenants() -> None:
    platform: tuple[Role, ...] = ("platform_operator", "platform_finance")
    agents: tuple[Role, ...] = ("agent_admin", "agent_viewer", "end_user")
    for role in platform:
        assert tenant_problem(role, None) is None
        assert "no tenant" in (tenant_problem(role, None, "A") or "")
    for role in agents:
        assert tenant_problem(role, None, "A") is None
        assert "agent_id" in (tenant_problem(role, None) or "")
        assert "no enterprise" in (tenant_problem(role, "acme", "A") or "")
    assert "no agent" in (tenant_problem("enterprise_admin", "acme", "A") or "")
