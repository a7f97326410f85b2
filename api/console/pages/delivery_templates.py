"""The service-flow templates of the delivery console (§6 I-10 … I-23, SM-I-TEMPLATE, §7.2 I):
the list (own and public, status, copy / publish / delete) and the editor, a server-rendered
form: nodes with their per-type fields, containers with children, reminder rows; every button
saves the draft through the API's handlers with the viewer's principal, and publishing shows
every violation at its node and field, in the reader's language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.auth import Page, Viewer
from api.console.i18n import N_, lang_of
from api.console.layout import frame
from api.console.pages.money import refused
from api.console.render import html
from api.deps import Db
from api.routers import delivery_templates as api
from api.schemas.delivery_templates import NodeBody, TemplateCreate, TemplateUpdate
from domain.delivery.nodes import DEFAULT_LABELS, NODE_KINDS, TRIGGER_NAMES
from domain.refusals import Refusal
from store.delivery import templates as store
from store.delivery.templates import Template, TemplateInvalid

router = APIRouter(prefix="/console/delivery/templates")
BASE = "/console/delivery/templates"
KIND_NAMES = {"assign_provider": N_("Assign provider"), "container": N_("Container"),
              "submit_requirement": N_("Submit requirement"), "confirm": N_("Confirm"),
              "claim": N_("Claim order"), "assign": N_("Assign order"),
              "general": N_("General"), "complete": N_("Complete project")}
RECEIVER_NAMES = {"customer": N_("Customer"), "operator": N_("Node operator"),
                  "provider_admin": N_("Provider admin"), "vendor_admin": N_("Vendor admin")}
ADDABLE = [k for k in NODE_KINDS if k != "assign_provider"]
FLAGS = ("rejectable", "auto_advance", "upload")
TEXTS = ("key", "kind", "name", "role", "side", "timeout_days", "rule", "form_id", "effect")


def words() -> dict[str, Any]:
    return {"kind_names": KIND_NAMES, "receiver_names": RECEIVER_NAMES,
            "trigger_names": TRIGGER_NAMES, "addable": ADDABLE, "base": BASE,
            "label_names": list(DEFAULT_LABELS)}


def _writable(viewer: Viewer, template: Template | None = None) -> bool:
    try:
        tenant = api.writer(viewer.principal)
    except HTTPException:
        return False
    return template is None or template.vendor_id == tenant


def _owner(viewer: Viewer) -> str | None:
    """The tenant whose templates the viewer changes (None: public), "-" for readers."""
    return api.writer(viewer.principal) if _writable(viewer) else "-"


@router.get("")
async def list_page(request: Request, viewer: Page, db: Db,
                    scope: Annotated[str | None, Query(pattern="^(public|own)$")] = None,
                    state: Annotated[str | None,
                                     Query(pattern="^(unpublished|published)$")] = None,
                    name: Annotated[str | None, Query(max_length=100)] = None
                    ) -> HTMLResponse:
    """Own and public templates with their status and actions (I-10, I-21)."""
    found = await api.list_templates(viewer.principal, db, scope, state, name or None)
    return html(request, "delivery_templates.html", frame(
        viewer, "delivery_templates", templates=found, may_write=_writable(viewer),
        writer_of=_owner(viewer), error=None, **words(),
        chosen={"scope": scope or "", "state": state or "", "name": name or ""}))


@router.post("")
async def create(request: Request, viewer: Page, db: Db) -> Response:
    """A new template from its name and description (I-11); then its editor."""
    form = await request.form()
    name, description = str(form.get("name") or ""), str(form.get("description") or "")
    try:
        made = await api.create_template(TemplateCreate(name=name, description=description),
                                         viewer.principal, db)
    except Refusal as exc:
        found = await api.list_templates(viewer.principal, db, None, None, None)
        return html(request, "delivery_templates.html", frame(
            viewer, "delivery_templates", templates=found, may_write=True,
            writer_of=_owner(viewer),
            chosen={"scope": "", "state": "", "name": ""}, error=refused(request, exc),
            **words()), status=422)
    return RedirectResponse(f"{BASE}/{made.template_id}", status.HTTP_303_SEE_OTHER)


@router.post("/{template_id}/copy")
async def copy(template_id: str, viewer: Page, db: Db) -> RedirectResponse:
    made = await api.copy_template(template_id, viewer.principal, db)
    return RedirectResponse(f"{BASE}/{made.template_id}", status.HTTP_303_SEE_OTHER)


@router.post("/{template_id}/delete")
async def delete(request: Request, template_id: str, viewer: Page, db: Db) -> Response:
    """Delete a draft; the form confirms it (`confirm=yes`)."""
    await api.writable(db, template_id, viewer.principal)
    if (await request.form()).get("confirm") != "yes":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "confirm the deletion")
    await api.delete_template(template_id, viewer.principal, db)
    return RedirectResponse(BASE, status.HTTP_303_SEE_OTHER)


def _path_key(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in path.split("."))


def nodes_of(form: dict[str, str]) -> list[dict[str, Any]]:
    """The editor's fields (`{path}:{field}`, path `3` or `3.1`) as the node list."""
    paths = sorted({k.split(":")[0] for k in form if k.endswith(":kind")}, key=_path_key)
    made: dict[str, dict[str, Any]] = {}
    top: list[dict[str, Any]] = []
    for path in paths:
        node: dict[str, Any] = {f: form.get(f"{path}:{f}", "").strip() or None for f in TEXTS}
        node = {k: v for k, v in node.items() if v is not None}
        node.update({f: form.get(f"{path}:{f}") == "on" for f in FLAGS})
        node["labels"] = {n: form[f"{path}:label_{n}"] for n in DEFAULT_LABELS
                          if f"{path}:label_{n}" in form}
        rows = sorted({int(k.split(":")[1][1:]) for k in form
                       if k.startswith(f"{path}:r") and k.endswith(":receiver")})
        node["reminders"] = [{"receiver": form.get(f"{path}:r{i}:receiver", ""),
                              "trigger": form.get(f"{path}:r{i}:trigger", ""),
                              "template": form.get(f"{path}:r{i}:template", "")} for i in rows]
        node["children"] = []
        made[path] = node
        parent = path.rpartition(".")[0]
        (made[parent]["children"] if parent in made else top).append(node)
    return top


def _at(nodes: list[dict[str, Any]], path: str) -> tuple[list[dict[str, Any]], int]:
    """The list holding the node at `path`, and its index there."""
    *parents, last = _path_key(path)
    holder = nodes
    for i in parents:
        holder = holder[i]["children"]
    return holder, last


def apply(nodes: list[dict[str, Any]], op: str, form: dict[str, str]) -> None:
    """One editor button: add, move, remove a node, add a child, add or drop a reminder."""
    verb, _, rest = op.partition(":")
    if verb == "add":
        kind = form.get("new_kind", "")
        at = len(nodes) - 1 if nodes and nodes[-1].get("kind") == "complete" else len(nodes)
        nodes.insert(at, blank(kind))
        return
    path, _, extra = rest.partition(":")
    holder, i = _at(nodes, path)
    if verb == "up" and i > 0:
        holder[i - 1], holder[i] = holder[i], holder[i - 1]
    elif verb == "down" and i + 1 < len(holder):
        holder[i + 1], holder[i] = holder[i], holder[i + 1]
    elif verb == "remove" and holder[i].get("kind") != "assign_provider":
        del holder[i]
    elif verb == "child":
        holder[i]["children"].append(blank(form.get(f"{path}:new_child_kind", "confirm")))
    elif verb == "remind":
        holder[i]["reminders"].append({"receiver": "customer", "trigger": "entered",
                                       "template": ""})
    elif verb == "unremind" and extra.isdigit():
        del holder[i]["reminders"][int(extra)]


def blank(kind: str) -> dict[str, Any]:
    """A new node of `kind` with the default labels of its buttons (I-16 … I-18)."""
    labels = {"submit_requirement": ("submit_label", "view_label"),
              "confirm": ("confirm_label", "reject_label"),
              "general": ("view_label", "confirm_label", "upload_label"),
              "complete": ("confirm_label", "reject_label")}.get(kind, ())
    made: dict[str, Any] = {"kind": kind, "name": "", "labels": {
        n: DEFAULT_LABELS[n] for n in labels}, "reminders": [], "children": []}
    if kind in ("confirm", "general"):
        made["side"] = "provider"
    if kind == "assign":
        made["rule"] = "provider_first"
    return made


async def _editor(request: Request, viewer: Viewer, db: Db, template: Template, *,
                  nodes: list[dict[str, Any]] | None = None, code: int = 200,
                  errors: dict[str, list[str]] | None = None, notice: str | None = None
                  ) -> HTMLResponse:
    writable = _writable(viewer, template) and template.status == "unpublished"
    return html(request, "delivery_template_editor.html", frame(
        viewer, "delivery_templates", template=template,
        nodes=nodes if nodes is not None else template.nodes, writable=writable,
        errors=errors or {}, notice=notice, roles=await store.roles(db),
        messages=await store.message_templates(db), forms=await store.requirement_forms(db),
        **words()), status=code)


@router.get("/{template_id}")
async def editor(request: Request, template_id: str, viewer: Page, db: Db) -> HTMLResponse:
    """The template's nodes: a form while it is an unpublished template of the viewer's, else
    read-only."""
    return await _editor(request, viewer, db, await api.visible(db, template_id,
                                                                viewer.principal))


def _violations(request: Request, exc: TemplateInvalid) -> dict[str, list[str]]:
    """Each violation at `{node_key}:{field}` (`:name` for the template's name)."""
    english = lang_of(request) == "en"
    found: dict[str, list[str]] = {}
    for v in exc.violations:
        found.setdefault(f"{v.node_key or ''}:{v.field}", []).append(
            v.message_en if english else v.message_zh)
    return found


@router.post("/{template_id}")
async def save(request: Request, template_id: str, viewer: Page, db: Db
               ) -> Response:
    """Save the draft after one button (`op`): save, publish, add/move/remove a node, add a
    child or a reminder row."""
    current = await api.writable(db, template_id, viewer.principal)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    op = form.get("op", "")
    if not op:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose what to do")
    try:
        nodes = nodes_of(form)
        if op not in ("save", "publish"):
            apply(nodes, op, form)
    except (ValueError, IndexError, KeyError, TypeError):  # a forged field or button
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "the editor's fields do not make a node list") from None
    try:
        body = TemplateUpdate(name=form.get("name", ""), description=form.get(
            "description", ""), nodes=[NodeBody.model_validate(n) for n in nodes])
        await api.update_template(template_id, body, viewer.principal, db)
    except Refusal as exc:
        return await _editor(request, viewer, db, current, nodes=nodes, code=422,
                             errors={":name": [refused(request, exc)]})
    except ValueError as exc:  # a node the schema refuses (a key, a length)
        return await _editor(request, viewer, db, current, nodes=nodes, code=422,
                             errors={":form": [str(exc).splitlines()[0]]})
    saved = await store.get_template(db, template_id)
    if op != "publish":
        return await _editor(request, viewer, db, saved)
    try:
        await store.publish_template(db, template_id)
    except TemplateInvalid as exc:
        return await _editor(request, viewer, db, saved, code=422,
                             errors=_violations(request, exc))
    return RedirectResponse(f"{BASE}/{template_id}", status.HTTP_303_SEE_OTHER)


@router.post("/{template_id}/publish")
async def publish(request: Request, template_id: str, viewer: Page, db: Db
                  ) -> Response:
    """Publish from the list (I-22): refused, the editor shows every violation."""
    current = await api.writable(db, template_id, viewer.principal)
    try:
        await store.publish_template(db, template_id)
    except TemplateInvalid as exc:
        return await _editor(request, viewer, db, current, code=422,
                             errors=_violations(request, exc))
    return RedirectResponse(BASE, status.HTTP_303_SEE_OTHER)
