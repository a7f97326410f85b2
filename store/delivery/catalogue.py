"""The platform's delivery settings as the console's system-settings pages browse them (I-61):
the business roles (`dl_roles`) and the message templates (`dl_message_templates`), each
filtered by a part of its name. Read-only here: d-templates' store maintains them."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.rows import class_row

from store.db import Conn


@dataclass(frozen=True)
class RoleRow:
    name: str
    side: str
    description: str


@dataclass(frozen=True)
class MessageTemplateRow:
    name: str
    node_kind: str
    receiver: str
    body_zh: str
    body_en: str
    remark: str


_ROLES = """
SELECT name, side, description FROM dl_roles
WHERE strpos(lower(name), lower(%(part)s)) > 0 ORDER BY side DESC, name
"""
_TEMPLATES = """
SELECT name, node_kind, receiver, body_zh, body_en, remark FROM dl_message_templates
WHERE strpos(lower(name), lower(%(part)s)) > 0 ORDER BY name
"""


async def roles(conn: Conn, name_part: str = "") -> list[RoleRow]:
    """Vendor roles first, then provider roles, whose name holds `name_part`."""
    async with conn.cursor(row_factory=class_row(RoleRow)) as cur:
        await cur.execute(_ROLES, {"part": name_part})
        return await cur.fetchall()


async def message_templates(conn: Conn, name_part: str = "") -> list[MessageTemplateRow]:
    """The message templates ("发送节点-发送对象") whose name holds `name_part`."""
    async with conn.cursor(row_factory=class_row(MessageTemplateRow)) as cur:
        await cur.execute(_TEMPLATES, {"part": name_part})
        return await cur.fetchall()
