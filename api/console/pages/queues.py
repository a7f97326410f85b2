"""What the platform kept aside or gave up on, for its people to fix and send again: dead
letters (filtered, previewed, replayed through the API's own replay) and operator commands
that failed for good (re-armed, so the reconciler tries again). Other roles get 404; platform
operations see the lists and change nothing."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from api.console.auth import Page, Viewer, require_admin, require_platform
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.common import PLATFORM_GUARD
from api.console.pages.forms import download, say
from api.console.render import html
from api.console.words import OPERATOR_NAMES
from api.deps import Db, Res
from api.routers.dead_letters import replay_letters
from store import controls, dead_letters
from store.db import Conn
from store.dead_letters import Letter
from streams.publish import Unavailable

router = APIRouter(prefix="/console/ops", dependencies=PLATFORM_GUARD)
SHOWN = 200  # rows listed on a page
MOST = 10_000  # letters replayed or cards re-armed by one "all"
PREVIEW = 160  # characters of a payload shown in the table
LETTER_COLUMNS = (N_("Id"), N_("Received"), N_("Source"), N_("Reason"), N_("Operator"),
                  N_("ICCID"), N_("Replayed"), N_("Payload"))
FAILED_COLUMNS = (N_("ICCID"), N_("Enterprise"), N_("Operator"), N_("Target"), N_("Attempts"),
                  N_("Outcome"), N_("Last error"), N_("Last command"))
Text = Annotated[str | None, Query(max_length=200)]


def _filters(source: str | None, reason: str | None, replayed: bool) -> dict[str, Any]:
    return {"source": source or None, "reason": reason or None, "replayed": replayed}


def preview(payload: object) -> str:
    """A payload as one line of JSON, cut to PREVIEW characters."""
    text = orjson.dumps(payload).decode()
    return text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…"


async def _letters(db: Conn, chosen: dict[str, Any]) -> list[Letter]:
    return await dead_letters.list_letters(db, chosen["source"], chosen["reason"],
                                           chosen["replayed"], SHOWN)


async def _letters_page(request: Request, viewer: Viewer, db: Conn, chosen: dict[str, Any], *,
                        code: int = 200, notice: str | None = None) -> HTMLResponse:
    letters = await _letters(db, chosen)
    pairs = await dead_letters.kinds(db)
    return html(request, "ops_dead_letters.html", frame(
        viewer, "dead_letters", letters=letters, preview=preview, chosen=chosen, notice=notice,
        replayable=await dead_letters.can_replay(db, [letter.id for letter in letters]),
        sources=sorted({s for s, _ in pairs}), reasons=sorted({r for _, r in pairs}),
        query=str(request.url.query)), status=code)


@router.get("/dead-letters")
async def dead_letters_page(request: Request, viewer: Page, db: Db, source: Text = None,
                            reason: Text = None, replayed: bool = False) -> HTMLResponse:
    require_platform(viewer)
    return await _letters_page(request, viewer, db, _filters(source, reason, replayed))


@router.get("/dead-letters.{fmt}")
async def dead_letters_export(request: Request, fmt: Format, viewer: Page, db: Db,
                              source: Text = None, reason: Text = None,
                              replayed: bool = False) -> Response:
    require_platform(viewer)
    rows = [(d.id, d.created_at, d.source, d.reason, d.operator, d.iccid, d.replayed_at,
             orjson.dumps(d.payload).decode())
            for d in await _letters(db, _filters(source, reason, replayed))]
    return download(request, fmt, "dead-letters", LETTER_COLUMNS, rows)


async def _replay(request: Request, viewer: Viewer, db: Conn, res: Res,
                  only: list[int] | None) -> HTMLResponse:
    require_admin(viewer)
    try:
        count = await replay_letters(db, res.publisher, MOST, only)
    except Unavailable as exc:  # nothing was marked replayed: the letters stay
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"usage could not be queued ({type(exc).__name__}); retry",
                            headers={"Retry-After": "5"}) from None
    notice = say(request, N_("%(count)s dead letters replayed."), count=count)
    return await _letters_page(request, viewer, db, _filters(None, None, True), notice=notice)


@router.post("/dead-letters/replay")
async def replay_chosen(request: Request, viewer: Page, db: Db, res: Res,
                        ids: Annotated[list[int] | None, Form(max_length=SHOWN)] = None
                        ) -> HTMLResponse:
    """Replay the letters ticked (those that can be replayed now)."""
    if not ids:
        require_admin(viewer)
        return await _letters_page(request, viewer, db, _filters(None, None, False), code=422,
                                   notice=say(request, N_("Tick the letters to replay first.")))
    return await _replay(request, viewer, db, res, ids)


@router.post("/dead-letters/replay-all")
async def replay_all(request: Request, viewer: Page, db: Db, res: Res) -> HTMLResponse:
    """Replay every letter that can be replayed now (up to MOST)."""
    return await _replay(request, viewer, db, res, None)


def _failed_filters(operator: str | None, enterprise_id: str | None) -> dict[str, Any]:
    if operator and operator not in OPERATOR_NAMES:
        operator = None
    return {"operator": operator or None, "enterprise_id": enterprise_id or None}


async def _failed(db: Conn, chosen: dict[str, Any], limit: int = SHOWN
                  ) -> list[controls.FailedControl]:
    return await controls.failed_controls(db, limit, operator=chosen["operator"],
                                          enterprise_id=chosen["enterprise_id"])


async def _failed_page(request: Request, viewer: Viewer, db: Conn, chosen: dict[str, Any], *,
                       code: int = 200, notice: str | None = None) -> HTMLResponse:
    return html(request, "ops_failed.html", frame(
        viewer, "failed", failed=await _failed(db, chosen), chosen=chosen, notice=notice,
        operators=OPERATOR_NAMES, query=str(request.url.query)), status=code)


@router.get("/failed-commands")
async def failed_page(request: Request, viewer: Page, db: Db, operator: Text = None,
                      enterprise_id: Text = None) -> HTMLResponse:
    require_platform(viewer)
    return await _failed_page(request, viewer, db, _failed_filters(operator, enterprise_id))


@router.get("/failed-commands.{fmt}")
async def failed_export(request: Request, fmt: Format, viewer: Page, db: Db,
                        operator: Text = None, enterprise_id: Text = None) -> Response:
    require_platform(viewer)
    rows = [(f.iccid, f.enterprise_id, f.operator, say(request, f.target), f.attempts,
             f.last_outcome, f.last_error, f.last_command_at)
            for f in await _failed(db, _failed_filters(operator, enterprise_id))]
    return download(request, fmt, "failed-commands", FAILED_COLUMNS, rows)


async def _rearm(request: Request, viewer: Viewer, db: Conn, iccids: list[str]
                 ) -> HTMLResponse:
    require_admin(viewer)
    count = await controls.rearm_failed(db, iccids)
    notice = say(request, N_("%(count)s cards re-armed: the reconciler sends their command "
                             "again in its next round."), count=count)
    return await _failed_page(request, viewer, db, _failed_filters(None, None), notice=notice)


@router.post("/failed-commands/rearm")
async def rearm_chosen(request: Request, viewer: Page, db: Db,
                       iccids: Annotated[list[str] | None, Form(max_length=SHOWN)] = None
                       ) -> HTMLResponse:
    """Re-arm the cards ticked."""
    if not iccids:
        require_admin(viewer)
        return await _failed_page(request, viewer, db, _failed_filters(None, None), code=422,
                                  notice=say(request, N_("Tick the cards to re-arm first.")))
    return await _rearm(request, viewer, db, iccids)


@router.post("/failed-commands/rearm-all")
async def rearm_all(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """Re-arm every failed card (up to MOST)."""
    require_admin(viewer)
    every = await controls.failed_controls(db, MOST)
    return await _rearm(request, viewer, db, [f.iccid for f in every])

SHOWN_STATES = (N_("replayed"), N_("replayable"), N_("kept"))
