"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Res
from api.schemas.health import Health
from store.db import ping
from store.delivery.calendar import coverage

router = APIRouter(tags=["health"])


async def platform_problems(res: Res) -> list[str]:
    """What keeps the API from taking traffic: the database or the broker unreachable."""
    problems = []
    try:
        async with res.pool.connection(timeout=2) as conn:
            await ping(conn)
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    if not await res.publisher.ready():
        problems.append("kafka: usage topic not reachable")
    return problems


async def platform_warnings(res: Res) -> list[str]:
    """What needs the people on watch soon without keeping the API from traffic: the work
    calendar covering less than today + 60 days (I-41: deadlines past its end are unknown).
    Also sets the `cardpulse_work_calendar_left_seconds` gauge (days left × 86,400). A
    database that does not answer is a problem already (platform_problems), not a warning."""
    try:
        async with res.pool.connection(timeout=2) as conn:
            reach = await coverage(conn)
    except Exception:
        return []
    res.metrics.calendar_left.set(reach.days_left * 86_400)
    problem = reach.problem()
    return [] if problem is None else [problem]


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(res: Res) -> Response:
    problems = await platform_problems(res)
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    # Warnings keep the status ok: supervision (`make run`, load balancers) reads the status.
    warnings = await platform_warnings(res)
    return JSONResponse({"status": "ok", "warnings": warnings} if warnings else {"status": "ok"})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(res: Res) -> Response:
    await platform_warnings(res)  # the calendar gauge is read when scraped
    return Response(generate_latest(res.metrics.registry), media_type=CONTENT_TYPE_LATEST)
