"""The delivery project centre's actions (I-43 … I-45, I-51, I-33, I-35 … I-37): the buttons of
the project detail page — confirm, reject with a reason, submit the requirement form, pause with
a remark and start, change the operator, change the provider (after the warning), cancel —,
订单认领 and the queue's 分单. Each calls the engine's own API handler
(api/routers/delivery_projects.py) with the viewer's principal, so the page and the API refuse
alike; a guard answers 404/403 before the form is read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import Page
from api.console.errors import redirect
from api.console.pages.delivery_projects import detail_page, may_act, page
from api.console.pages.forms import problem_of
from api.console.pages.money import refused
from api.deps import Db, Principal
from api.routers import delivery_files as files_api
from api.routers import delivery_projects as engine
from api.schemas.delivery_projects import (
    AssignBody,
    CancelBody,
    ClaimBody,
    ConfirmBody,
    EvaluationBody,
    OperatorChange,
    PauseBody,
    ProviderChange,
    PurchaseCreate,
    RejectBody,
    RequirementBody,
)
from domain.delivery.machines import QUEUE_ASSIGNERS
from domain.refusals import Refusal
from store.db import Conn

router = APIRouter(prefix="/console/delivery")
Action = Literal["confirm", "reject", "requirement", "pause", "resume", "cancel", "provider",
                 "operator", "evaluate"]
OptionalText = Annotated[str | None, Form(max_length=500)]


async def act_guard(project_id: str, viewer: Page, db: Db) -> None:
    """404 outside the viewer's projects, 403 for who may take no action on it."""
    row = await files_api.readable(viewer.principal, db, project_id)
    if not any((await may_act(viewer.principal, db, row)).values()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


async def _dispatch(request: Request, principal: Principal, db: Conn, project_id: str,
                    action: Action, run_id: int | None, values: dict[str, Any]) -> None:
    if action in ("confirm", "reject", "requirement") and run_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "run_id: required")
    run = run_id or 0
    if action == "confirm":
        await engine.confirm(project_id, run, ConfirmBody(remark=values["remark"]), db,
                             principal, request)
    elif action == "reject":
        await engine.reject(project_id, run, RejectBody(reason=values["reason"]), db,
                            principal, request)
    elif action == "requirement":
        await engine.submit_requirement(project_id, run, RequirementBody(
            answers=values["answers"]), db, principal, request)
    elif action == "pause":
        await engine.pause(project_id, PauseBody(remark=values["remark"]), db, principal)
    elif action == "resume":
        await engine.resume(project_id, db, principal)
    elif action == "cancel":
        await engine.cancel(project_id, CancelBody(remark=values["remark"]), db, principal)
    elif action == "evaluate":
        await engine.evaluate(project_id, EvaluationBody(stars=values["stars"],
                                                         text=values["remark"]), db, principal)
    elif action == "provider":
        await engine.change_provider(project_id, ProviderChange(
            provider_id=values["provider_id"], remark=values["remark"]), db, principal,
            request)
    else:
        await engine.change_operator(project_id, OperatorChange(
            user_id=values["user_id"], remark=values["remark"]), db, principal)


@router.post("/projects/{project_id}/act", dependencies=[Depends(act_guard)])
async def act(request: Request, project_id: str, viewer: Page, db: Db,
              action: Annotated[Action | None, Form()] = None,
              run_id: Annotated[int | None, Form(ge=1, le=1 << 62)] = None,
              remark: OptionalText = "", reason: OptionalText = "",
              provider_id: OptionalText = "", user_id: OptionalText = "",
              stars: Annotated[int, Form()] = 0) -> Response:
    """One action of the detail page; a refusal shows on the page with the spec's words."""
    if action is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "action: required")
    form = await request.form()
    answers = {str(k).removeprefix("answer."): v for k, v in form.items()
               if str(k).startswith("answer.") and isinstance(v, str) and v.strip()}
    values = {"remark": (remark or "").strip(), "reason": (reason or "").strip(),
              "provider_id": provider_id or "", "user_id": user_id or "", "answers": answers,
              "stars": stars}
    try:
        await _dispatch(request, viewer.principal, db, project_id, action, run_id, values)
    except ValidationError as exc:
        return await detail_page(request, viewer, db, project_id, code=422,
                                 error=problem_of(exc))
    except Refusal as exc:
        return await detail_page(request, viewer, db, project_id,
                                 code=422 if exc.field else 409, error=refused(request, exc))
    return redirect(request, f"/console/delivery/projects/{project_id}")


CLAIMERS = ("provider_admin", "provider_staff", "vendor_admin")


def claim_guard(viewer: Page) -> None:
    if viewer.principal.role not in CLAIMERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not claim orders")


@router.get("/claim", dependencies=[Depends(claim_guard)])
async def claim_page(request: Request, viewer: Page) -> HTMLResponse:
    """订单认领 (I-33): an order number to claim."""
    return page(request, viewer, "delivery_claim.html", "delivery_claim", error=None,
                order_no="")


@router.post("/claim", dependencies=[Depends(claim_guard)])
async def claim(request: Request, viewer: Page, db: Db,
                order_no: Annotated[str, Form(max_length=64)]) -> Response:
    try:
        claimed = await engine.claim(ClaimBody(order_no=order_no.strip()), db,
                                     viewer.principal, request)
    except ValidationError as exc:
        error = problem_of(exc)
    except Refusal as exc:
        error = refused(request, exc)
    else:
        return redirect(request, f"/console/delivery/projects/{claimed.project_id}")
    return page(request, viewer, "delivery_claim.html", "delivery_claim", code=422,
                error=error, order_no=order_no)


def buyer_guard(viewer: Page) -> None:
    if viewer.principal.role != "customer":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a customer buys services")


@router.post("/purchased/buy", dependencies=[Depends(buyer_guard)])
async def buy(request: Request, viewer: Page, db: Db,
              product_id: Annotated[str, Form(min_length=1, max_length=64)]) -> Response:
    """A customer buys a service (I-53): its project starts; the customer lands on it."""
    try:
        made = await engine.buy(PurchaseCreate(product_id=product_id), db, viewer.principal,
                                request)
    except Refusal as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, refused(request, exc)) from None
    return redirect(request, f"/console/delivery/projects/{made.project_id}")


def assign_guard(viewer: Page) -> None:
    if not any(viewer.principal.role in roles for roles in QUEUE_ASSIGNERS.values()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not assign the queue")


@router.post("/queue/assign", dependencies=[Depends(assign_guard)])
async def assign(request: Request, viewer: Page, db: Db,
                 kind: Annotated[Literal["provider", "staff"], Form()],
                 product_id: Annotated[str | None, Form(max_length=64)] = None) -> Response:
    """分单 (SM-I-QUEUE): assign what the queue can now, oldest first."""
    done = await engine.assign_now(AssignBody(kind=kind, product_id=product_id or None), db,
                                   viewer.principal, request)
    return redirect(request, f"/console/delivery/queue?kind={kind}&assigned={done.assigned}")
