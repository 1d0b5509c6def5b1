"""The audit log's viewer: GET /api/v1/audit and the /admin/audit page. Who may see them is the composition
root's to say (`routes(guards)`): this module sits below auth, which records its own changes here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get
from litestar.params import Parameter
from litestar.response import Template

from nl2sql.audit.diff import field_changes
from nl2sql.audit.log import AuditEntry, AuditLog
from nl2sql.web import render

PER_PAGE = 50


class AuditPage(msgspec.Struct):
    entries: list[AuditEntry]
    total: int
    page: int
    per_page: int


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", summary="The audit log of admin changes, newest first (admin)")
    async def audit(
        self,
        audit_log: AuditLog,
        action: str | None = None,
        target: str | None = None,
        actor_id: int | None = None,
        page: Annotated[int, Parameter(ge=1)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=500)] = 50,
    ) -> AuditPage:
        entries, total = await audit_log.search(
            action=action, target=target, actor_id=actor_id, limit=per_page, offset=(page - 1) * per_page
        )
        return AuditPage(entries=entries, total=total, page=page, per_page=per_page)


class AuditPages(Controller):
    path = "/admin/audit"
    include_in_schema = False

    @get("/")
    async def audit(self, request: Request, audit_log: AuditLog, action: str | None = None,
                    target: str | None = None, page: int = 1) -> Template:
        page = max(1, page)
        entries, total = await audit_log.named(action=action, target=target, limit=PER_PAGE,
                                               offset=(page - 1) * PER_PAGE)
        ctx = {"entries": entries, "total": total, "page": page, "pages": max(1, -(-total // PER_PAGE)),
               "action": action or "", "target": target or "",
               "changes": {e.id: field_changes(e.before, e.after) for e in entries}}
        return render(request, "audit/audit.html", ctx, fragment="audit/_audit.html")


def routes(guards: Sequence[Any]) -> Router:
    """The viewer's API and page, behind `guards` (the app passes its admin guard)."""
    return Router(path="/", route_handlers=[AuditController, AuditPages], guards=list(guards))
