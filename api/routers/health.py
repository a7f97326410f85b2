"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Res
from api.schemas.health import Health
from store.db import ping

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


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(res: Res) -> Response:
    problems = await platform_problems(res)
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(res: Res) -> Response:
    return Response(generate_latest(res.metrics.registry), media_type=CONTENT_TYPE_LATEST)
