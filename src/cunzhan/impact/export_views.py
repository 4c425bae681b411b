"""Impact download pages (ADR 0021): the dashboard's tables and the raw event history
as CSV, XLSX or Parquet. Thin: the same selectors and writers as the API; a region
outside the user's scope is 404, bad input a 400 page naming it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.views import require_perm
from cunzhan.impact import exports, periods, selectors
from cunzhan.impact.models import Indicator
from cunzhan.impact.pages import bad_request, get_date


def _region(request: HttpRequest, code: str) -> Any:
    try:
        return selectors.region_get(scope=scope_for_user(request.user), code=code)
    except ApplicationError as exc:  # NotFound or a malformed code
        raise Http404(exc.message) from exc


def download_links(code: str, ind: Indicator, pt: str, ps: dt.date) -> dict[str, Any]:
    """The dashboard's download links: the children table of the shown period, the
    series of the shown range, and the event history page."""
    first = ps
    for _i in range(selectors.DEFAULT_SPAN[pt] - 1):
        first = periods.period_start(first - dt.timedelta(days=1), pt)

    def url(table: str, start: dt.date, fmt: str) -> str:
        q = {
            "indicator": ind.code,
            "table": table,
            "period_type": pt,
            "start": start.isoformat(),
            "end": ps.isoformat(),
            "format": fmt,
        }
        return (
            reverse("impact:export", kwargs={"code": selectors.url_code(code)}) + "?" + urlencode(q)
        )

    return {
        "children": [(f, url("children", ps, f)) for f in exports.FORMATS],
        "series": [(f, url("series", first, f)) for f in exports.FORMATS],
        # the raw history goes per province or below (see exports.event_history)
        "events": reverse("impact:events", kwargs={"code": code}) if code else "",
    }


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def export(request: HttpRequest, code: str) -> Any:
    """Download one of the dashboard's tables."""
    reg = _region(request, code)
    try:
        wanted = request.GET.get("indicator", "")
        first = selectors.indicator_list().first()
        ind = selectors.indicator_get(code=wanted or (first.code if first else ""))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        fmt = exports.check_format(request.GET.get("format", "csv"))
        table = exports.indicator_table(
            scope=scope_for_user(request.user),
            indicator=ind,
            region_code=reg.code,
            table=request.GET.get("table", "series"),
            period_type=request.GET.get("period_type", ""),
            start=get_date(request, "start"),
            end=get_date(request, "end"),
        )
        return exports.response(table, fmt)
    except ApplicationError as exc:
        return bad_request(request, exc)


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def events(request: HttpRequest, code: str) -> Any:
    """The event-history download: a form (kind, days, format); with ``format`` the
    file itself (audited)."""
    reg = _region(request, code)
    today = timezone.localdate()
    if not request.GET.get("format"):
        return render(
            request,
            "impact/events.html",
            {
                "region": reg,
                "first": today - dt.timedelta(days=29),
                "last": today,
                "formats": list(exports.FORMATS),
                "back": reverse("impact:region", kwargs={"code": selectors.url_code(reg.code)}),
            },
        )
    try:
        fmt = exports.check_format(request.GET["format"])
        table = exports.event_table(
            scope=scope_for_user(request.user),
            region_code=reg.code,
            kind=request.GET.get("kind", "scans"),
            first=get_date(request, "first"),
            last=get_date(request, "last"),
        )
    except ApplicationError as exc:
        return bad_request(request, exc)
    exports.event_export_audit(
        user=request.user, table=table, region_code=reg.code, fmt=fmt, channel="page"
    )
    return exports.response(table, fmt)


urlpatterns = [
    path("r/<str:code>/export/", export, name="export"),
    path("r/<str:code>/events/", events, name="events"),
]
