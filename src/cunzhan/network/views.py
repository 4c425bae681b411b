from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import NotFound
from cunzhan.core.rollups import region_counters
from cunzhan.core.views import require_perm
from cunzhan.network.models import LEVEL_CODE_LENGTH, Level
from cunzhan.network.selectors import (
    region_ancestors,
    region_children,
    region_display_name,
    region_get,
    region_resolve,
)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def region_browser(request: HttpRequest, code: str | None = None) -> HttpResponse:
    """Drill down from province to village, with counts at every level."""
    scope = scope_for_user(request.user)
    region = alias = None
    if code:
        try:
            region = region_get(scope=scope, code=code)
            _, alias = region_resolve(code=code)
        except NotFound as exc:
            raise Http404(exc.message) from exc
    children = list(region_children(scope=scope, code=region.code if region else None))
    counters = [c for c in region_counters() if c.perm is None or request.user.can(c.perm)]  # type: ignore[union-attr]
    child_len = (
        LEVEL_CODE_LENGTH.get(Level(region.level + 1))
        if region and region.level < 5
        else (2 if region is None else None)
    )
    columns = []
    if child_len:
        parent_code = region.code if region else ""
        for c in counters:
            columns.append((c, c.func(scope, parent_code, child_len)))
    rows = [
        {"region": child, "counts": [values.get(child.code, 0) for _c, values in columns]}
        for child in children
    ]
    ctx = {
        "region": region,
        "display_name": region_display_name(region, alias) if region else "",
        "ancestors": region_ancestors(region=region) if region else [],
        "rows": rows,
        "columns": [c for c, _v in columns],
        "totals": [sum(v.values()) for _c, v in columns],
    }
    template = (
        "network/_region_rows.html" if request.headers.get("HX-Request") else "network/regions.html"
    )
    return render(request, template, ctx)
