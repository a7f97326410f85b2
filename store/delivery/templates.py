"""Service-flow templates (I-10 … I-23, SM-I-TEMPLATE) and the platform's presets they refer to
(I-08: roles, message templates, requirement forms).

A template of a vendor carries its `vendor_id`; a public one (the platform's) none. A new one
is `unpublished` and starts with the built-in assign-provider node; it is edited while
unpublished, published once the I-22 check finds nothing (every violation is reported at
once), and never changes after (the `dl_templates_frozen` trigger refuses it too). A copy is a
new unpublished template of the copier's tenant.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from domain.delivery.templates import Catalogue, Violation, violations, with_keys, with_start
from domain.refusals import Refusal
from store.db import Conn
from store.errors import NotFound


class TemplatePublished(Refusal):
    """I-21: a published template is never edited (nor deleted)."""

    code = "template_published"
    message_zh = "已发布的模板不支持编辑"
    message_en = "A published template cannot be edited"


class TemplateInvalid(Refusal):
    """I-22: publishing refused, with every violation."""

    code = "template_invalid"
    message_zh = "模板校验未通过，请修改后再发布"
    message_en = "The template has problems: correct them before publishing"

    def __init__(self, found: Sequence[Violation]) -> None:
        super().__init__()
        self.violations = list(found)


@dataclass(frozen=True)
class Template:
    template_id: str
    vendor_id: str | None
    name: str
    description: str
    status: str
    nodes: list[dict[str, Any]]
    copied_from: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class Role:
    name: str
    side: str
    description: str


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    node_kind: str
    receiver: str
    body_zh: str
    body_en: str
    remark: str


@dataclass(frozen=True)
class RequirementForm:
    form_id: str
    name: str
    fields: list[dict[str, Any]]


_INSERT = """
INSERT INTO dl_templates (template_id, vendor_id, name, description, nodes, copied_from)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING *
"""
_GET = "SELECT * FROM dl_templates WHERE template_id = %s"
_LIST = """
SELECT * FROM dl_templates
WHERE (%(all)s OR vendor_id IS NULL OR vendor_id = %(vendor)s)
  AND (%(public)s::boolean IS NULL OR (vendor_id IS NULL) = %(public)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(name)s::text IS NULL OR name ILIKE '%%' || %(name)s || '%%')
ORDER BY vendor_id NULLS FIRST, created_at DESC, template_id
"""
_UPDATE = """
UPDATE dl_templates SET name = %s, description = %s, nodes = %s, updated_at = cp_now()
WHERE template_id = %s RETURNING *
"""
_PUBLISH = """
UPDATE dl_templates SET status = 'published', published_at = cp_now(), updated_at = cp_now()
WHERE template_id = %s RETURNING *
"""
_DELETE = "DELETE FROM dl_templates WHERE template_id = %s"
_ROLES = "SELECT name, side, description FROM dl_roles ORDER BY side DESC, name"
_MESSAGES = """
SELECT name, node_kind, receiver, body_zh, body_en, remark FROM dl_message_templates
WHERE (%(name)s::text IS NULL OR name ILIKE '%%' || %(name)s || '%%')
ORDER BY node_kind, receiver
"""
_FORMS = "SELECT form_id, name, fields FROM dl_requirement_forms ORDER BY form_id"


async def roles(conn: Conn) -> list[Role]:
    """The preset business roles (I-08)."""
    async with conn.cursor(row_factory=class_row(Role)) as cur:
        await cur.execute(_ROLES)
        return await cur.fetchall()


async def message_templates(conn: Conn, name: str | None = None) -> list[MessageTemplate]:
    """The preset message templates "发送节点-发送对象" (I-20), filtered by name (I-61)."""
    async with conn.cursor(row_factory=class_row(MessageTemplate)) as cur:
        await cur.execute(_MESSAGES, {"name": name})
        return await cur.fetchall()


async def requirement_forms(conn: Conn) -> list[RequirementForm]:
    """The preset requirement forms (I-16)."""
    async with conn.cursor(row_factory=class_row(RequirementForm)) as cur:
        await cur.execute(_FORMS)
        return await cur.fetchall()


async def catalogue(conn: Conn) -> Catalogue:
    """What publish validation checks references against."""
    return Catalogue(
        roles=frozenset(r.name for r in await roles(conn)),
        messages={m.name: (m.node_kind, m.receiver) for m in await message_templates(conn)},
        forms=frozenset(f.form_id for f in await requirement_forms(conn)))


async def get_template(conn: Conn, template_id: str) -> Template:
    async with conn.cursor(row_factory=class_row(Template)) as cur:
        await cur.execute(_GET, (template_id,))
        found = await cur.fetchone()
    if found is None:
        raise NotFound(f"template {template_id!r}")
    return found


async def list_templates(conn: Conn, vendor_id: str | None, *, everything: bool = False,
                         public: bool | None = None, status: str | None = None,
                         name: str | None = None) -> list[Template]:
    """A vendor's templates and the public ones (`everything`: every vendor's, for the
    platform); filtered by public/own, status and a part of the name."""
    async with conn.cursor(row_factory=class_row(Template)) as cur:
        await cur.execute(_LIST, {"all": everything, "vendor": vendor_id, "public": public,
                                  "status": status, "name": name})
        return await cur.fetchall()


async def _insert(conn: Conn, vendor_id: str | None, name: str, description: str,
                  nodes: Sequence[Mapping[str, Any]], copied_from: str | None) -> Template:
    async with conn.cursor(row_factory=class_row(Template)) as cur:
        await cur.execute(_INSERT, ("tpl_" + secrets.token_hex(6), vendor_id, name, description,
                                    Jsonb(list(nodes)), copied_from))
        made = await cur.fetchone()
    if made is None:  # INSERT … RETURNING returns the row
        raise NotFound("template")
    return made


async def create_template(conn: Conn, vendor_id: str | None, name: str, description: str = "",
                          nodes: Sequence[Mapping[str, Any]] = ()) -> Template:
    """A new unpublished template, the built-in assign-provider node first (I-11, I-12)."""
    return await _insert(conn, vendor_id, name, description, with_start(nodes), None)


async def update_template(conn: Conn, template_id: str, *, name: str, description: str,
                          nodes: Sequence[Mapping[str, Any]]) -> Template:
    """Save an unpublished template's name, description and nodes (I-21)."""
    current = await get_template(conn, template_id)
    if current.status == "published":
        raise TemplatePublished()
    try:
        async with conn.cursor(row_factory=class_row(Template)) as cur:
            await cur.execute(_UPDATE, (name, description, Jsonb(with_keys(nodes)),
                                        template_id))
            saved = await cur.fetchone()
    except psycopg.errors.CheckViolation:  # published meanwhile: the trigger refuses
        raise TemplatePublished() from None
    if saved is None:
        raise NotFound(f"template {template_id!r}")
    return saved


async def publish_template(conn: Conn, template_id: str) -> Template:
    """Publish (I-21, I-22): refused with every violation, or with 409 if already published."""
    async with conn.transaction():
        current = await get_template(conn, template_id)
        if current.status == "published":
            raise TemplatePublished()
        found = violations(current.nodes, await catalogue(conn), name=current.name,
                           public=current.vendor_id is None)
        if found:
            raise TemplateInvalid(found)
        async with conn.cursor(row_factory=class_row(Template)) as cur:
            await cur.execute(_PUBLISH, (template_id,))
            published = await cur.fetchone()
    if published is None:
        raise NotFound(f"template {template_id!r}")
    return published


async def copy_template(conn: Conn, template_id: str, vendor_id: str | None) -> Template:
    """A new unpublished template of `vendor_id` with the nodes of this one (I-10)."""
    source = await get_template(conn, template_id)
    return await _insert(conn, vendor_id, source.name, source.description, source.nodes,
                         source.template_id)


async def delete_template(conn: Conn, template_id: str) -> None:
    """Delete an unpublished template (SM-I-TEMPLATE); a published one answers 409."""
    current = await get_template(conn, template_id)
    if current.status == "published":
        raise TemplatePublished()
    try:
        await conn.execute(_DELETE, (template_id,))
    except psycopg.errors.CheckViolation:
        raise TemplatePublished() from None
    except psycopg.errors.ForeignKeyViolation:  # copied from by another template
        raise Refusal(code="template_in_use", message_zh="该模板已被复制或使用，不能删除",
                      message_en="The template was copied or is in use: it cannot be deleted",
                      ) from None
