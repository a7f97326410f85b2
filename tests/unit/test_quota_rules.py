"""The quota rules, and the way CardPulse triggers them, checked against a from-scratch model.

`Incremental` re-runs `domain.quota.evaluate` only for what each trigger touches, exactly as
`store.quota.evaluate` is called by the worker (usage), the API (configuration, manual) and the
rollover timer. After any interleaving of operations, every card's reasons must equal a
recomputation from scratch, and `manual` must be present exactly when the last manual call was
a stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.quota import (
    MANUAL,
    PACKAGE_QUOTA,
    POOL_CARD_CAP,
    POOL_EXHAUSTED,
    CardInput,
    CardQuota,
    PoolInput,
    PoolQuota,
    desired_status,
    effective_reasons,
    evaluate,
    next_check,
    pool_exhausted,
    reached,
)
from domain.quota.rules import next_card_reasons

CARDS = ["c0", "c1", "c2", "c3"]
WARN = [50, 80, 90]
POOLS = ["p0", "p1"]


@dataclass
class Card:
    package: int | None = None
    pool: str | None = None
    usage: dict[int, int] = field(default_factory=dict)  # cycle -> bytes
    own: frozenset[str] = frozenset()
    manual: bool = False  # what the user last asked for


@dataclass
class Pool:
    limit: int = 100
    cap: int | None = None
    exhausted: bool = False


@dataclass
class Incremental:
    cards: dict[str, Card] = field(default_factory=lambda: {c: Card() for c in CARDS})
    pools: dict[str, Pool] = field(default_factory=lambda: {p: Pool() for p in POOLS})
    cycle: int = 0
    seen: set[str] = field(default_factory=set)
    # next_check per (card, cycle) with usage, as card_cycle_usage keeps it (a new row: 0)
    checks: dict[tuple[str, int], int | None] = field(default_factory=dict)

    def pool_used(self, pool_id: str) -> int:
        return sum(c.usage.get(self.cycle, 0) for c in self.cards.values() if c.pool == pool_id)

    def quota(self, iccid: str) -> CardQuota:
        card = self.cards[iccid]
        return CardQuota(iccid, card.package, card.pool, card.usage.get(self.cycle, 0), card.own)

    def pool_quota(self, pool_id: str) -> PoolQuota:
        pool = self.pools[pool_id]
        return PoolQuota(pool_id, pool.limit, pool.cap, self.pool_used(pool_id))

    def evaluate(self, iccids: list[str] = [], pools: list[str] = [],  # noqa: B006
                 members_of: list[str] = []) -> None:  # noqa: B006
        """As `store.quota.evaluate` does: load, `domain.quota.evaluate`, save."""
        chosen = set(iccids) | {i for i, c in self.cards.items() if c.pool in members_of}
        cycle = date(2000 + self.cycle // 12, self.cycle % 12 + 1, 1)
        loaded = [CardInput(self.quota(i), WARN, "e", cycle, False) for i in sorted(chosen)]
        wanted = set(pools) | {c.quota.pool_id for c in loaded if c.quota.pool_id}
        pool_inputs = {p: PoolInput(self.pool_quota(p), self.pools[p].exhausted, WARN, "e",
                                    cycle, False) for p in wanted}
        result = evaluate(loaded, pool_inputs, cause="test")
        for card_write in result.cards:
            if card_write.reasons is not None:
                self.cards[card_write.iccid].own = card_write.reasons
        for pool_write in result.pools:
            self.pools[pool_write.pool_id].exhausted = pool_write.exhausted
        for check in result.checks:  # evaluation writes (creating if need be) the current row
            self.checks[(check.iccid, self.cycle)] = check.next_check
        for change in result.changes:  # what is published is what the card now shows
            assert change.stop_reasons == self.shown(change.iccid)
            assert change.desired_status == desired_status(change.stop_reasons)

    # --- triggers, as the product fires them -------------------------------------------
    def usage(self, iccid: str, record: str, nbytes: int, late: bool) -> None:
        if record in self.seen:  # dedupe by record id: nothing is counted, nothing re-runs
            return
        self.seen.add(record)
        cycle = self.cycle - 1 if late else self.cycle
        card = self.cards[iccid]
        card.usage[cycle] = card.usage.get(cycle, 0) + nbytes
        # As store.usage picks candidates: the card when its total reached next_check, the
        # pool when it ran dry (the product also re-evaluates on warnings and stale state).
        check = self.checks.setdefault((iccid, cycle), 0)
        cards = [iccid] if check is not None and card.usage[cycle] >= check else []
        pool = card.pool
        pools = [pool] if (pool and not late and not self.pools[pool].exhausted
                           and self.pool_used(pool) >= self.pools[pool].limit) else []
        if cards or pools:
            self.evaluate(cards, pools)

    def set_package(self, iccid: str, package: int | None) -> None:
        self.cards[iccid].package = package
        self.evaluate([iccid])

    def move(self, iccid: str, pool: str | None) -> None:
        old = self.cards[iccid].pool
        self.cards[iccid].pool = pool
        self.evaluate([iccid], [p for p in (old, pool) if p])

    def set_limit(self, pool_id: str, limit: int) -> None:
        self.pools[pool_id].limit = limit
        self.evaluate(pools=[pool_id])

    def set_cap(self, pool_id: str, cap: int | None) -> None:
        self.pools[pool_id].cap = cap
        self.evaluate(pools=[pool_id], members_of=[pool_id])

    def manual(self, iccid: str, stop: bool) -> None:
        card = self.cards[iccid]
        card.manual = stop
        card.own = card.own | {MANUAL} if stop else card.own - {MANUAL}

    def rollover(self) -> None:
        self.cycle += 1
        stale = [i for i, c in self.cards.items() if c.own & {PACKAGE_QUOTA, POOL_CARD_CAP}]
        self.evaluate(stale, [p for p, pool in self.pools.items() if pool.exhausted])

    # --- the truth ---------------------------------------------------------------------
    def scratch(self, iccid: str) -> list[str]:
        card = self.cards[iccid]
        used = card.usage.get(self.cycle, 0)
        reasons = {MANUAL} if card.manual else set()
        if card.package is not None and used >= card.package:
            reasons.add(PACKAGE_QUOTA)
        if card.pool is not None:
            pool = self.pools[card.pool]
            if self.pool_used(card.pool) >= pool.limit:
                reasons.add(POOL_EXHAUSTED)
            if pool.cap is not None and used >= pool.cap:
                reasons.add(POOL_CARD_CAP)
        return effective_reasons(reasons, False)

    def shown(self, iccid: str) -> list[str]:
        card = self.cards[iccid]
        return effective_reasons(card.own, card.pool is not None and
                                 self.pools[card.pool].exhausted)


card_ids = st.sampled_from(CARDS)
pool_ids = st.sampled_from(POOLS)
amounts = st.integers(min_value=0, max_value=120)
operations = st.one_of(
    st.tuples(st.just("usage"), card_ids, st.sampled_from([f"r{n}" for n in range(12)]),
              amounts, st.booleans()),
    st.tuples(st.just("set_package"), card_ids, st.none() | amounts),
    st.tuples(st.just("move"), card_ids, st.none() | pool_ids),
    st.tuples(st.just("set_limit"), pool_ids, amounts),
    st.tuples(st.just("set_cap"), pool_ids, st.none() | amounts),
    st.tuples(st.just("manual"), card_ids, st.booleans()),
    st.tuples(st.just("rollover")),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(operations, max_size=40))
def test_incremental_reasons_equal_a_recomputation(ops: list[tuple[object, ...]]) -> None:
    model = Incremental()
    for op in ops:
        getattr(model, str(op[0]))(*op[1:])
        for iccid, card in model.cards.items():
            assert model.shown(iccid) == model.scratch(iccid), (op, iccid)
            assert (MANUAL in card.own) == card.manual, "manual changed only by manual calls"


def test_each_rule_touches_only_its_own_reason() -> None:
    card = CardQuota("c", package_bytes=10, pool_id="p", usage_bytes=50,
                     reasons=frozenset({MANUAL, "arrears"}))
    pool = PoolQuota("p", limit_bytes=1000, per_card_limit_bytes=40, used_bytes=50)
    assert next_card_reasons(card, pool) == {MANUAL, "arrears", PACKAGE_QUOTA, POOL_CARD_CAP}
    lower = CardQuota("c", 100, "p", 5, frozenset({MANUAL, PACKAGE_QUOTA, POOL_CARD_CAP}))
    assert next_card_reasons(lower, pool) == {MANUAL}


def test_limits_are_reached_at_equality() -> None:
    assert pool_exhausted(PoolQuota("p", 100, None, 100))
    assert not pool_exhausted(PoolQuota("p", 100, None, 99))
    card = CardQuota("c", 100, None, 100, frozenset())
    assert next_card_reasons(card, None) == {PACKAGE_QUOTA}


def test_desired_status_follows_the_set() -> None:
    assert desired_status([]) == "active"
    assert desired_status([MANUAL]) == "stopped"
    assert effective_reasons({POOL_CARD_CAP, MANUAL}, True) == [
        MANUAL, POOL_EXHAUSTED, POOL_CARD_CAP]


@settings(max_examples=300, deadline=None)
@given(st.none() | amounts, st.none() | amounts, st.lists(st.integers(1, 100), max_size=3),
       amounts, st.integers(min_value=0, max_value=60))
def test_no_rule_or_warning_changes_below_next_check(
        package: int | None, cap: int | None, warn: list[int], used: int, more: int) -> None:
    pool = PoolQuota("p", 10_000, cap, 0)
    card = CardQuota("c", package, "p", used, frozenset())
    check = next_check(card, pool, warn)
    later = CardQuota("c", package, "p", used + more, frozenset())
    if check is None or used + more < check:
        assert next_card_reasons(later, pool) == next_card_reasons(card, pool)
        if package:
            assert reached(used + more, package, warn) == reached(used, package, warn)
    else:
        assert check > used
