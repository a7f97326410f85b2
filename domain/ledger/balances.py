"""Account balances (TigerBeetle's four totals) and the floor decision: what a batch of
transfers does to the accounts it touches, or which debit it must refuse.

balance (posted) = credits_posted − debits_posted; available = posted − debits_pending. Pending
debits count against the floor (a hold reserves), pending credits are not spendable yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.money import Fen
from domain.ledger.accounts import Floor, account_kind
from domain.ledger.errors import HoldNotPending, InsufficientFunds, InvalidTransfer
from domain.ledger.transfers import Phase, Transfer


@dataclass(frozen=True)
class Balance:
    """An account's totals, as stored in `ledger_accounts`."""

    account: str
    floor: Floor
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def posted(self) -> Fen:
        return Fen(self.credits_posted - self.debits_posted)

    @property
    def available(self) -> Fen:
        """What a debit may take now: the posted balance less what holds reserve."""
        return Fen(self.posted - self.debits_pending)


def empty(account: str) -> Balance:
    """A new account: all totals 0, the floor of its kind."""
    return Balance(account, account_kind(account).floor)


def check(balance: Balance, transfer: Transfer) -> InsufficientFunds | None:
    """The refusal of debiting `transfer` from `balance` (the debit account), or None.

    Only a single transfer or a hold takes from what is available; posting a hold takes at most
    what the hold reserved and a void gives it back, so neither can break a floor."""
    if transfer.phase not in (Phase.SINGLE, Phase.PENDING) or transfer.allow_negative:
        return None
    if balance.floor is Floor.NONE or balance.available >= transfer.amount:
        return None
    return InsufficientFunds(balance.account, balance.available, transfer.amount)


def resolution_problem(hold: Transfer, state: str, transfer: Transfer) -> HoldNotPending | None:
    """Why `transfer` cannot post or void `hold` (in `state`), or None."""
    if state != "pending":
        return HoldNotPending(hold.transfer_id, f"already {state}")
    if (transfer.debit, transfer.credit) != (hold.debit, hold.credit):
        return HoldNotPending(hold.transfer_id, "a post or void moves between the hold's accounts")
    if transfer.amount > hold.amount:
        return HoldNotPending(hold.transfer_id, "a post may not exceed the hold")
    if transfer.phase is Phase.VOID_PENDING and transfer.amount != hold.amount:
        return HoldNotPending(hold.transfer_id, "a void releases the whole hold")
    return None


def apply(balance: Balance, transfer: Transfer, held: int = 0) -> Balance:
    """`balance` after `transfer` (`held`: the amount of the hold a post or void resolves)."""
    debit = balance.account == transfer.debit
    if not debit and balance.account != transfer.credit:
        return balance
    side = "debits" if debit else "credits"
    if transfer.phase is Phase.PENDING:
        return _add(balance, f"{side}_pending", transfer.amount)
    if transfer.phase is not Phase.SINGLE:
        balance = _add(balance, f"{side}_pending", -held)
    if transfer.phase is Phase.VOID_PENDING:
        return balance
    return _add(balance, f"{side}_posted", transfer.amount)


def _add(balance: Balance, total: str, amount: int) -> Balance:
    return replace(balance, **{total: getattr(balance, total) + amount})


def plan(balances: Mapping[str, Balance], transfers: tuple[Transfer, ...],
         holds: Mapping[str, tuple[Transfer, str]]) -> dict[str, Balance]:
    """The balances after applying `transfers` in order, or the first refusal raised.

    `balances` must hold every account the batch touches; `holds` every hold it resolves,
    with its state."""
    after = dict(balances)
    known = dict(holds)  # and the holds the batch itself makes
    for t in transfers:
        held = 0
        if t.pending_id is not None:
            if t.pending_id not in known:
                raise InvalidTransfer(t.transfer_id, f"no hold {t.pending_id!r}")
            pending, state = known[t.pending_id]
            problem = resolution_problem(pending, state, t)
            if problem is not None:
                raise problem
            known[t.pending_id] = (pending, "posted" if t.phase is Phase.POST_PENDING
                                   else "voided")
            held = pending.amount
        elif t.phase is Phase.PENDING:
            known[t.transfer_id] = (t, "pending")
        refusal = check(after[t.debit], t)
        if refusal is not None:
            raise refusal
        after[t.debit] = apply(after[t.debit], t, held)
        after[t.credit] = apply(after[t.credit], t, held)
    return after
