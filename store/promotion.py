"""Promotion links and card boards (G1-16): made by an agent for a listed number card it may
sell; `attribute` names the agent an activation through a code belongs to (for commission)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from psycopg.rows import class_row

from domain.pricing.errors import LineNotAllowed, NotPromotable
from store import audit
from store.agents import Actor, Agent
from store.db import Conn
from store.errors import NotFound
from store.packages import get_package

Medium = Literal["link", "board"]


@dataclass(frozen=True)
class PromotionLink:
    code: str
    agent_id: str
    package_id: str
    medium: Medium
    status: Literal["active", "revoked"]
    created_by: str
    created_at: datetime


_INSERT = """
INSERT INTO promotion_links (code, agent_id, package_id, medium, created_by)
VALUES (%s, %s, %s, %s, %s) RETURNING *
"""
_LIST = "SELECT * FROM promotion_links WHERE agent_id = %s ORDER BY created_at, code"
_ACTIVE = "SELECT * FROM promotion_links WHERE code = %s AND status = 'active'"


async def create_link(conn: Conn, agent: Agent, package_id: str, medium: Medium,
                      actor: Actor) -> PromotionLink:
    """A new code for `agent` to promote the listed number card `package_id`."""
    package = await get_package(conn, package_id)
    if package.business_line != "number_card" or not package.listed:
        raise NotPromotable()
    if "number_card" not in agent.business_lines or agent.status != "active":
        raise LineNotAllowed()
    async with conn.transaction():
        async with conn.cursor(row_factory=class_row(PromotionLink)) as cur:
            await cur.execute(_INSERT, ("pl_" + secrets.token_urlsafe(12), agent.agent_id,
                                        package_id, medium, actor.who))
            made = await cur.fetchone()
        if made is None:
            raise NotFound("promotion link")
        await audit.record(conn, actor.transition("promotion_link", made.code, None, "active",
                                                  agent_id=agent.agent_id,
                                                  package_id=package_id))
    return made


async def list_links(conn: Conn, agent_id: str) -> list[PromotionLink]:
    async with conn.cursor(row_factory=class_row(PromotionLink)) as cur:
        await cur.execute(_LIST, (agent_id,))
        return await cur.fetchall()


async def attribute(conn: Conn, code: str) -> PromotionLink | None:
    """The active link an activation came through (None: unknown or revoked code)."""
    async with conn.cursor(row_factory=class_row(PromotionLink)) as cur:
        await cur.execute(_ACTIVE, (code,))
        return await cur.fetchone()
