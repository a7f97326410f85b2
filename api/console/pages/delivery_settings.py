"""The delivery workflow's system settings (I-61, I-62) and a person's 站内信 (X-04).

Holiday settings: a year's holidays (假期时间、放假天数、调休) and its special days, for the
readers of §7.2 "I delivery" (vendor and provider admins, platform staff); platform operators
(admin, platform_operator) change a day or enter a year here. Message templates and role
management: browsed with a filter on the name. The inbox: the reminders of the person signed
in, unread first. A role that may not read a page gets 404; a reader that may not change, 403.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse

from api.console.auth import Page, Viewer
from api.console.i18n import N_, lang_of
from api.console.layout import SETTINGS_READERS, frame
from api.console.pages.forms import say
from api.console.render import html
from api.deps import Db, actor
from core.clock import now
from domain.delivery.calendar import CalendarYearInvalid, holidays, year_days
from domain.delivery.mail import check_email
from domain.delivery.workdays import local_day
from domain.people.rules import BUSINESS_WRITERS
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import calendar, catalogue, emails, inbox

router = APIRouter(prefix="/console/delivery")
PAGE = 50
Year = Annotated[int | None, Query(ge=2000, le=2100)]
Name = Annotated[str, Query(max_length=40)]


def _reader(viewer: Page) -> None:
    if viewer.principal.role not in SETTINGS_READERS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")


def _writer(viewer: Page) -> None:
    """A guard: it answers before the form is read (a forged change is refused whatever)."""
    _reader(viewer)
    if viewer.principal.role not in BUSINESS_WRITERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


READ = [Depends(_reader)]
WRITE = [Depends(_writer)]


def _special(day: calendar.CalendarDay) -> bool:
    """A day the weekday alone does not explain: a holiday, a worked weekend, a named day."""
    return bool(day.name) or day.is_workday != (day.day.isoweekday() < 6)


async def _holidays_page(request: Request, viewer: Viewer, db: Conn, of: int | None, *,
                         code: int = 200, **shown: Any) -> HTMLResponse:
    year = of if of is not None else local_day(now()).year
    days = await calendar.year(db, year)
    values: dict[str, Any] = {"notice": None, "error": None, **shown}
    return html(request, "delivery_holidays.html", frame(
        viewer, "holidays", year=year, covered=len(days),
        holidays=holidays([d.plain() for d in days]),
        special=[d for d in days if _special(d)], coverage=await calendar.coverage(db),
        may_change=viewer.principal.role in BUSINESS_WRITERS, **values), status=code)


@router.get("/holidays", dependencies=READ)
async def holidays_page(request: Request, viewer: Page, db: Db, year: Year = None
                        ) -> HTMLResponse:
    return await _holidays_page(request, viewer, db, year)


@router.post("/holidays/day", dependencies=WRITE)
async def change_day(request: Request, viewer: Page, db: Db,
                     day: Annotated[date, Form()],
                     is_workday: Annotated[bool, Form()],
                     name: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    """Make one day a working day or a day off (running deadlines move, I-62)."""
    moved = await calendar.set_day(db, day, is_workday, name.strip(),
                                   actor(viewer.principal, request))
    return await _holidays_page(request, viewer, db, day.year, notice=say(
        request, N_("%(day)s is saved; %(count)s running deadlines were re-computed."),
        day=day.isoformat(), count=moved))


def _named_days(text: str) -> dict[date, str]:
    """Lines `YYYY-MM-DD name` (a name is required)."""
    found = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        day, _, name = line.strip().partition(" ")
        if not name.strip():
            raise CalendarYearInvalid
        try:
            found[date.fromisoformat(day)] = name.strip()[:40]
        except ValueError:
            raise CalendarYearInvalid from None
    return found


@router.post("/holidays/year", dependencies=WRITE)
async def enter_year(request: Request, viewer: Page, db: Db,
                     year: Annotated[int, Form(ge=2000, le=2100)],
                     holidays_text: Annotated[str, Form(alias="holidays", max_length=20_000)],
                     workdays_text: Annotated[str, Form(alias="workdays",
                                                        max_length=20_000)] = "",
                     replace: Annotated[bool, Form()] = False) -> HTMLResponse:
    """Enter a whole year from the State Council notice (one `YYYY-MM-DD name` a line)."""
    try:
        days = year_days(year, _named_days(holidays_text), _named_days(workdays_text))
        moved = await calendar.enter_year(db, year, days, actor(viewer.principal, request),
                                          replace=replace)
    except Refusal as refused:
        return await _holidays_page(
            request, viewer, db, year, code=409 if refused.field is None else 422,
            error=refused.message_en if lang_of(request) == "en" else refused.message_zh)
    return await _holidays_page(request, viewer, db, year, notice=say(
        request, N_("The year %(year)s is entered; %(count)s running deadlines were "
                    "re-computed."), year=year, count=moved))


@router.get("/message-templates", dependencies=READ)
async def message_templates_page(request: Request, viewer: Page, db: Db, name: Name = ""
                                 ) -> HTMLResponse:
    return html(request, "delivery_message_templates.html", frame(
        viewer, "message_templates", name=name,
        templates=await catalogue.message_templates(db, name.strip())))


@router.get("/roles", dependencies=READ)
async def roles_page(request: Request, viewer: Page, db: Db, name: Name = "") -> HTMLResponse:
    return html(request, "delivery_roles.html", frame(
        viewer, "roles", name=name, roles=await catalogue.roles(db, name.strip())))


def _person(viewer: Viewer) -> str:
    if viewer.principal.user_id is None:  # a console page always has a person behind it
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    return viewer.principal.user_id


async def _inbox_page(request: Request, viewer: Viewer, db: Conn, page: int, *,
                      code: int = 200, **shown: Any) -> HTMLResponse:
    user = _person(viewer)
    rows = await inbox.mine(db, user, limit=PAGE + 1, offset=(page - 1) * PAGE)
    values: dict[str, Any] = {"notice": None, "error": None, "draft": None, **shown}
    return html(request, "delivery_inbox.html", frame(
        viewer, "inbox", items=rows[:PAGE], more=len(rows) > PAGE, page=page,
        unread=await inbox.unread(db, user), email=await emails.email_of(db, user),
        **values), status=code)


@router.get("/inbox")
async def inbox_page(request: Request, viewer: Page, db: Db,
                     page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    return await _inbox_page(request, viewer, db, page)


@router.get("/inbox/unread")
async def unread_badge(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """The nav's unread count (loaded by htmx on every page of a delivery person)."""
    count = await inbox.unread(db, _person(viewer))
    return HTMLResponse(f'<span class="badge warn" data-testid="unread">{count}</span>'
                        if count else "<span></span>")


@router.post("/inbox/email")
async def set_email(request: Request, viewer: Page, db: Db,
                    email: Annotated[str | None, Form(max_length=254)] = None
                    ) -> HTMLResponse:
    """Where my reminders are also emailed (X-04); empty (or no field): nowhere."""
    user = _person(viewer)
    try:
        address = check_email(email)
    except Refusal as refused:
        return await _inbox_page(
            request, viewer, db, 1, code=422, draft=email,
            error=refused.message_en if lang_of(request) == "en" else refused.message_zh)
    await emails.set_email(db, user, address)
    return await _inbox_page(request, viewer, db, 1, notice=say(
        request, N_("Your reminders are also emailed to %(email)s.") if address else
        N_("Your reminders are no longer emailed."), email=address or ""))


@router.post("/inbox/{notification_id}/read")
async def read_one(request: Request, viewer: Page, db: Db,
                   notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> HTMLResponse:
    await inbox.mark_read(db, _person(viewer), notification_id)
    return await _inbox_page(request, viewer, db, 1)
