"""An agent's commission pages, for its admin and viewer (§5 H, §7.2 "H commission": R own):
its commissions of a month by state and by kind (H-40) with its price differences (H-09), the
list with filters and exports, each line's explanation — why this amount: rule and version,
base and its source, formula, tier, conditions with their events, and its history (H-39) —
and the monthly activation report of month-end snapshots (H-30). Read only: the pages call the
same handlers as `/v1/commissions…` with the viewer's principal, so an agent's people see
their own agent's lines only (another's: 404)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import download, say
from api.console.pages.money_forms import AGENT_GUARD
from api.console.render import html
from api.deps import Db
from api.routers import commissions as commission_api
from api.schemas.commissions import CommissionPublic
from core.clock import now
from domain.commission import machines as sm
from domain.commission.rules import Rule, RuleBase
from domain.orders.report import month_bounds, month_of
from store import agents, commission_facts, commission_rules
from store import commission_views as views
from store.commission_views import RecordFilter
from store.db import Conn

router = APIRouter(prefix="/console/a/{agent_id}", dependencies=AGENT_GUARD)
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
YEAR = r"^\d{4}$"
SHOWN = 500  # the most lines a page (and an export) holds
Month = Annotated[str | None, Query(pattern=MONTH)]
StateQuery = Annotated[str | None, Query(pattern="^(" + "|".join(sm.STATES) + ")?$")]
KIND_CODES = ("per_order", "one_time", "long_term", "combined", "number_card",
              "number_card_settlement")
KindQuery = Annotated[str | None, Query(pattern="^(" + "|".join(KIND_CODES) + ")?$")]
# States, parts and kinds of commission lines as people read them (spec §5.7 names).
STATE_NAMES = {
    "awaiting_conditions": N_("Awaiting conditions"), "frozen": N_("Frozen"),
    "unfreezing": N_("Unfreezing"), "available": N_("Available (unfrozen)"),
    "invalid": N_("Invalid"), "rejected": N_("Rejected"), "reversed": N_("Reversed"),
    "pending": N_("Pending approval"), "approved": N_("Approved"), "closed": N_("Closed"),
}
KIND_NAMES = {
    "per_order": N_("Per-order commission"), "one_time": N_("One-time commission"),
    "long_term": N_("Long-term commission"), "combined": N_("Combined commission"),
    "number_card": N_("Number-card commission"),
    "number_card_settlement": N_("Number-card commission"),
    "price_difference": N_("Price difference"),
}
RECORD_COLUMNS = (N_("Line"), N_("Produced"), N_("Agent"), N_("Kind"), N_("Rule"),
                  N_("Version"), N_("State"), N_("Amount (fen)"), N_("ICCID"), N_("Order"),
                  N_("Settlement batch"), N_("Unfreezes at"), N_("Reason"))
ACTIVATION_COLUMNS = (N_("Agent"), N_("Month"), N_("Activations"), N_("Taken at"))
_COMMON = {f.name for f in fields(RuleBase)}


def rule_terms(rule: Rule) -> str:
    """What only the rule's kind has (recharge condition, gate, number-card conditions)."""
    own = {k: v for k, v in asdict(rule).items() if k not in _COMMON and k != "kind"}
    return json.dumps(own, ensure_ascii=False, default=str, separators=(", ", ": "))


def commission_words() -> dict[str, Any]:
    """The words the commission templates translate codes with."""
    return {"state_names": STATE_NAMES, "kind_names": KIND_NAMES, "states": sm.STATES,
            "kinds": KIND_CODES}


def chosen_month(month: str | None) -> str:
    return month or month_of(now())


async def lines(db: Conn, agent_id: str | None, month: str | None, state: str | None,
                kind: str | None) -> list[CommissionPublic]:
    """The lines produced in `month` (every month when None) in a state and of a kind."""
    start, end = month_bounds(month) if month else (None, None)
    found = await views.page(db, RecordFilter(agent_id, state or None, kind or None, start,
                                              end), SHOWN)
    return [commission_api.public(r) for r in found]


def record_row(request: Request, r: CommissionPublic) -> list[Any]:
    return [r.record_id, r.produced_at, r.agent_id, say(request, KIND_NAMES.get(r.part, r.part)),
            r.rule_id, r.rule_version, say(request, STATE_NAMES.get(r.state, r.state)),
            r.amount_fen, r.iccid, r.order_id, r.batch_id, r.unfreeze_due_at, r.reason]


def query_of(**values: str | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


@router.get("/commissions")
async def commissions_page(request: Request, agent_id: str, viewer: Page, db: Db,
                           month: Month = None, state: StateQuery = None,
                           kind: KindQuery = None) -> HTMLResponse:
    """H-40: the month's totals by state and kind, the lines with filters; H-09 differences."""
    chosen = chosen_month(month)
    summary = await commission_api.summary(viewer.principal, db, agent_id, chosen)
    differences = await commission_api.price_differences(viewer.principal, db, agent_id,
                                                         chosen)
    return await _page(request, viewer, db, "commission_agent.html", agent_id,
                       month=chosen, summary=summary, differences=differences,
                       lines=await lines(db, agent_id, chosen, state, kind),
                       chosen={"state": state or "", "kind": kind or ""},
                       query=query_of(month=chosen, state=state, kind=kind))


@router.get("/commissions.{fmt}")
async def commissions_export(request: Request, agent_id: str, fmt: Format, viewer: Page,
                             db: Db, month: Month = None, state: StateQuery = None,
                             kind: KindQuery = None) -> Response:
    chosen = chosen_month(month)
    rows = [record_row(request, r) for r in await lines(db, agent_id, chosen, state, kind)]
    return download(request, fmt, f"commissions-{agent_id}-{chosen}", RECORD_COLUMNS, rows)


@router.get("/commissions/{record_id}")
async def commission_page(request: Request, agent_id: str, record_id: str, viewer: Page,
                          db: Db) -> HTMLResponse:
    """H-39: why this amount, and every state change with who and when."""
    detail = await commission_api.get_commission(record_id, viewer.principal, db)
    return await _page(request, viewer, db, "commission_line.html", agent_id, line=detail,
                       back=f"/console/a/{agent_id}/commissions")


@router.get("/activations")
async def activations_page(request: Request, agent_id: str, viewer: Page, db: Db,
                           year: Annotated[str | None, Query(pattern=YEAR)] = None
                           ) -> HTMLResponse:
    """H-30: the activation count of each month, as snapshotted at the month's end."""
    chosen = year or month_of(now())[:4]
    found = await commission_facts.snapshots(db, agent_id, f"{chosen}-01", f"{chosen}-12")
    return await _page(request, viewer, db, "commission_activations.html", agent_id,
                       section="activations", year=chosen, snapshots=found,
                       query=query_of(year=chosen),
                       base=f"/console/a/{agent_id}/activations")


@router.get("/activations.{fmt}")
async def activations_export(request: Request, agent_id: str, fmt: Format, viewer: Page,
                             db: Db, year: Annotated[str | None, Query(pattern=YEAR)] = None
                             ) -> Response:
    chosen = year or month_of(now())[:4]
    found = await commission_facts.snapshots(db, agent_id, f"{chosen}-01", f"{chosen}-12")
    return download(request, fmt, f"activations-{agent_id}-{chosen}", ACTIVATION_COLUMNS,
                    [[s.agent_id, s.month, s.activations, s.taken_at] for s in found])


@router.get("/commission-rules")
async def rules_page(request: Request, agent_id: str, viewer: Page, db: Db) -> HTMLResponse:
    """The agent's own rules, latest version of each (§7.2: R own rules)."""
    found = await commission_rules.list_rules(db, agent_id=agent_id)
    return await _page(request, viewer, db, "commission_rules.html", agent_id,
                       section="commission_rules", rules=found, terms=rule_terms,
                       base=f"/console/a/{agent_id}/commission-rules", chosen_agent="")


async def _page(request: Request, viewer: Viewer, db: Conn, template: str, agent_id: str,
                section: str = "commissions", **values: Any) -> HTMLResponse:
    agent = await agents.get_agent(db, agent_id)
    return html(request, template, frame(viewer, section, None, agent=agent,
                                         platform_view=False, **commission_words(), **values))
