"""The rule editor of the platform (§5.1, §7.2 "H commission": create/version rules and tiers —
C for admin and platform_operator): create a rule of any kind with its terms and tiers, add a
version, retire a rule; and the what-if panel, which prices a version (typically one saved as a
draft) over a past period per agent, beside what the rule did pay — nothing is paid. The form's
fields become the body of `POST /v1/commission-rules` and go through its handlers with the
viewer's principal; a refusal (rule_overlap, one_time_exceeds_recharge, invalid_tiers,
tier_metric_unsupported …) is shown at its field in the spec's words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError

from api.console.auth import Page, Viewer
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.commission_agent import KIND_NAMES, commission_words, rule_terms
from api.console.pages.forms import say
from api.console.pages.money import BUSINESS, MONEY_GUARD, refused
from api.console.render import DEFAULT_TZ, html
from api.deps import Db
from api.routers import commission_rules as rule_api
from api.routers import commission_whatif as whatif_api
from api.schemas.commission_rules import RuleBody
from core.clock import now
from domain.refusals import Refusal
from store import commission_rules
from store.db import Conn
from store.errors import Invalid

BODY: TypeAdapter[Any] = TypeAdapter(RuleBody)
RULE_KINDS = ("per_order", "one_time", "long_term", "combined", "number_card_settlement")
FIELDS = ("rule_id", "agent_id", "kind", "package_ids", "business_line", "amount_mode",
          "amount_value", "freeze_days", "requires_approval", "effective_from", "status",
          "recharge_mode", "recharge_threshold_fen", "tiers_metric", "tiers_rows",
          "one_time_amount_mode", "one_time_amount_value", "one_time_recharge_mode",
          "one_time_recharge_threshold_fen", "gate", "gate_n", "gate_at",
          "first_recharge_fen", "min_tenure_days", "require_not_sanwu",
          "conditions_deadline_days", "new_version")
NOT_A_NUMBER = N_("Enter a whole number.")
NOT_TIERS = N_("Write the tiers as threshold:value, separated by commas, e.g. 0:500, 100:600.")
NOT_A_MOMENT = N_("Enter a date and time, for example 2026-01-31 08:00.")
BAD_PERIOD = N_("The period needs a start before its end.")
# The editor's choices: (value, English label translated in the template).
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "line_options": [("traffic_card", N_("Traffic card")), ("number_card", N_("Number card"))],
    "mode_options": [("percent", N_("Percent (basis points)")), ("fixed", N_("Fixed (fen)"))],
    "yes_no_default": [("", N_("the kind's default")), ("yes", N_("yes")), ("no", N_("no"))],
    "yes_no": [("yes", N_("yes")), ("no", N_("no"))],
    "status_options": [("active", N_("active")), ("draft", N_("draft (for what-if)"))],
    "recharge_options": [("first", N_("first recharge")), ("cumulative", N_("cumulative"))],
    "metric_options": [("pickup_volume", N_("pickup volume")),
                       ("activation_count", N_("activation count")),
                       ("deposit", N_("deposit"))],
    "gate_options": [("count", N_("after N one-time payments")), ("time", N_("at a time"))],
}


async def _rule_writer(request: Request, viewer: Page) -> None:
    """Only admin and platform operators write rules (§7.2); finance and ops read."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and viewer.principal.role not in BUSINESS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "platform operators write rules")


router = APIRouter(prefix="/console/ops/money/commission-rules",
                   dependencies=[*MONEY_GUARD, Depends(_rule_writer)])


class BadField(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _int(form: dict[str, str], name: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadField(name, NOT_A_NUMBER) from None


def _instant(form: dict[str, str], name: str) -> str | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadField(name, NOT_A_MOMENT) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(DEFAULT_TZ))
    return at.isoformat()


def _tiers(form: dict[str, str]) -> dict[str, Any] | None:
    metric = form.get("tiers_metric", "").strip()
    if not metric:
        return None
    rows = []
    for part in form.get("tiers_rows", "").replace("，", ",").split(","):
        if not part.strip():
            continue
        threshold, _, value = part.partition(":")
        try:
            rows.append({"threshold": int(threshold), "value": int(value)})
        except ValueError:
            raise BadField("tiers_rows", NOT_TIERS) from None
    return {"metric": metric, "rows": rows}


def _recharge(form: dict[str, str], prefix: str) -> dict[str, Any] | None:
    mode = form.get(f"{prefix}_mode", "").strip()
    if not mode:
        return None
    return {"mode": mode, "threshold_fen": _int(form, f"{prefix}_threshold_fen")}


def body_of(form: dict[str, str]) -> dict[str, Any]:
    """The JSON body of `/v1/commission-rules` the form's fields make (None left out)."""
    kind = form.get("kind", "")
    packages = [p.strip() for p in form.get("package_ids", "").replace("，", ",").split(",")
                if p.strip()]
    approval = form.get("requires_approval", "")
    body: dict[str, Any] = {
        "rule_id": form.get("rule_id", "").strip() or None, "kind": kind,
        "agent_id": form.get("agent_id", "").strip(), "package_ids": packages,
        "business_line": form.get("business_line", "") or None,
        "amount": {"mode": form.get("amount_mode", ""), "value": _int(form, "amount_value")},
        "freeze_days": _int(form, "freeze_days"),
        "requires_approval": {"yes": True, "no": False}.get(approval),
        "tiers": _tiers(form), "effective_from": _instant(form, "effective_from"),
        "status": form.get("status", "active") or "active"}
    if kind in ("one_time", "long_term", "combined"):
        body["recharge"] = _recharge(form, "recharge")
    if kind == "combined":
        body["one_time"] = {"amount": {"mode": form.get("one_time_amount_mode", ""),
                                       "value": _int(form, "one_time_amount_value")},
                            "recharge": _recharge(form, "one_time_recharge")}
        body["gate"] = ({"gate": "time", "at": _instant(form, "gate_at")}
                        if form.get("gate") == "time"
                        else {"gate": "count", "n": _int(form, "gate_n")})
    if kind == "number_card_settlement":
        for name in ("first_recharge_fen", "min_tenure_days", "conditions_deadline_days"):
            body[name] = _int(form, name)
        body["require_not_sanwu"] = form.get("require_not_sanwu", "yes") != "no"
    return {k: v for k, v in body.items() if v is not None}


def field_of(loc: tuple[Any, ...] | str | None) -> str:
    """The form field a pydantic location or a refusal's field (`amount.value`) names."""
    if loc is None:
        return "form"
    parts = [str(p) for p in (loc.split(".") if isinstance(loc, str) else loc)]
    if parts and parts[0] in (*RULE_KINDS, "scope"):
        parts = parts[1:]
    parts = [p for p in parts if not p.isdigit() and p not in ("count", "time")]
    while parts:
        name = "_".join(parts)
        if name in FIELDS:
            return name
        if name == "gate_at" or name == "gate_n":
            return name
        parts = parts[:-1]
    return "form"


def _options(request: Request) -> dict[str, Any]:
    """The editor's choices with their labels in the reader's language."""
    told: dict[str, Any] = {name: [(value, say(request, label)) for value, label in choices]
                            for name, choices in OPTIONS.items()}
    told["kind_options"] = [(k, say(request, KIND_NAMES[k])) for k in RULE_KINDS]
    return told


async def _rules_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                      **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"errors": {}, "values": {}, "notice": None, "error": None,
                              "chosen_agent": "", **shown}
    found = await commission_rules.list_rules(db, agent_id=values["chosen_agent"] or None)
    return html(request, "commission_rules.html", frame(
        viewer, "commission_rules", agent=None, rules=found, terms=rule_terms,
        base="/console/ops/money/commission-rules", rule_kinds=RULE_KINDS,
        may_write=viewer.principal.role in BUSINESS, **_options(request),
        **commission_words(), **values),
        status=code)


@router.get("")
async def rules_page(request: Request, viewer: Page, db: Db,
                     agent_id: Annotated[str | None, Query(max_length=64)] = None
                     ) -> HTMLResponse:
    """Every agent's rules (latest version of each), and the editor for those who write."""
    return await _rules_page(request, viewer, db, chosen_agent=agent_id or "")


@router.post("")
async def save_rule(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """Create a rule (or, ticked, a new version of it) from the editor's fields."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and k in FIELDS}
    if not form.get("kind"):
        return await _rules_page(request, viewer, db, code=422, values=form,
                                 errors={"kind": say(request, N_("Choose the kind."))})
    try:
        body = BODY.validate_python(body_of(form))
        if form.get("new_version") == "yes":
            made = await rule_api.new_version(form.get("rule_id", ""), body, viewer.principal,
                                              db, request)
        else:
            made = await rule_api.create_rule(body, viewer.principal, db, request)
    except BadField as exc:
        return await _rules_page(request, viewer, db, code=422, values=form,
                                 errors={exc.field: say(request, exc.message)})
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        return await _rules_page(request, viewer, db, code=422, values=form,
                                 errors={field_of(first["loc"]): message})
    except Invalid as exc:
        return await _rules_page(request, viewer, db, code=422, values=form,
                                 errors={field_of(exc.field): exc.message})
    except Refusal as exc:
        return await _rules_page(request, viewer, db, code=422 if exc.field else 409,
                                 values=form,
                                 errors={field_of(exc.field): refused(request, exc)})
    return await _rules_page(request, viewer, db, notice=say(
        request, N_("Rule %(id)s version %(v)s is saved."), id=made.rule_id, v=made.version))


@router.post("/{rule_id}/retire")
async def retire(request: Request, rule_id: str, viewer: Page, db: Db) -> HTMLResponse:
    await rule_api.retire_rule(rule_id, viewer.principal, db, request)
    return await _rules_page(request, viewer, db,
                             notice=say(request, N_("Rule %(id)s is retired."), id=rule_id))


Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]


@router.get("/{rule_id}/what-if")
async def what_if(request: Request, rule_id: str, viewer: Page, db: Db,
                  start: Day = None, end: Day = None,
                  version: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    """What a version (the latest by default) would have paid per agent over [start, end)."""
    versions = await rule_api.get_rule(rule_id, viewer.principal, db)
    chosen = version or versions[-1].version
    zone = ZoneInfo(DEFAULT_TZ)
    local = now().astimezone(zone)
    first = datetime.fromisoformat(start).replace(tzinfo=zone) if start else \
        (local - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    last = datetime.fromisoformat(end).replace(tzinfo=zone) if end else \
        local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    result, problem = None, None
    if last <= first:
        problem = say(request, BAD_PERIOD)
    else:
        result = await whatif_api.what_if(rule_id, chosen, viewer.principal, db, first, last)
    return html(request, "commission_whatif.html", frame(
        viewer, "commission_rules", rule_id=rule_id, versions=versions, version=chosen,
        start=first.date().isoformat(), end=(last.date()).isoformat(), result=result,
        problem=problem, **commission_words()), status=422 if problem else 200)
