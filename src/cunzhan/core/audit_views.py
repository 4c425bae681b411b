from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cunzhan.core.audit import audit_event_list
from cunzhan.core.models import AuditEvent
from cunzhan.core.views import require_perm, user_scope

VIEW_AUDIT = "view_audit"


@login_required
@require_perm(VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, filterable by actor, action, object type and personal-data reads."""
    g = request.GET
    pd = g.get("personal_data")
    qs = audit_event_list(
        scope=user_scope(request),
        actor_name=g.get("actor", "").strip(),
        action=g.get("action", ""),
        object_type=g.get("object_type", "").strip(),
        object_id=g.get("object_id", "").strip(),
        personal_data=True if pd == "1" else None,
    )
    page = Paginator(qs, 50).get_page(g.get("page"))
    return render(
        request,
        "core/audit.html",
        {"page": page, "actions": AuditEvent.Action.choices, "f": g},
    )
