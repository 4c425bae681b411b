"""Impact pages: the dashboard of a region (county, township, village ... by its code in
the URL) and the drill-down rows of one number. Server-rendered SVG, no JavaScript
chart library, no tile server: the map is the county outline shipped in the data
folder with the child regions drawn at their seats (docs/adr/0017-impact-indicators.md).
Thin: every read is a selector taking the user's scope."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, path, reverse
from django.utils import translation
from django.views.decorators.http import require_GET

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen
from cunzhan.core.views import require_perm
from cunzhan.impact import periods, selectors
from cunzhan.impact.models import Indicator
from cunzhan.network import geo

NEUTRAL = "#546e7a"
PERIOD_LABELS = {"day": "日", "week": "周", "month": "月", "quarter": "季", "year": "年"}


def _name(ind: Indicator) -> str:
    return ind.name_en if translation.get_language() == "en" else ind.name_zh


def legend_colour(ind: Indicator, value: float | None) -> str:
    colour = NEUTRAL
    if value is None:
        return colour
    for band in ind.legend:
        if value >= band["min"]:
            colour = band["color"]
    return colour


def fmt(ind: Indicator, value: float | None) -> str:
    if value is None:
        return "—"
    if ind.is_ratio:
        return f"{value:.1f}{ind.unit}"
    if ind.unit == "分":  # money: integer fen shown in yuan
        return format_fen(int(value))
    return f"{value:,.0f}"


@functools.lru_cache(maxsize=4096)
def _path(name: str, code: str, prefix: str) -> str:
    """``reverse`` of a region page, cached: a dashboard links every child region and
    every card (about 75 links a page)."""
    return reverse(name, kwargs={"code": code})


def _rows_url(code: str, ind: Indicator, pt: str, ps: dt.date, part: str = "") -> str:
    q = {"indicator": ind.code, "period_type": pt, "period_start": ps.isoformat()}
    if part:
        q["part"] = part
    return _path("impact:rows", code, get_script_prefix()) + "?" + urlencode(q)


def _region_url(code: str, ind: Indicator, pt: str, ps: dt.date | None = None) -> str:
    q = {"indicator": ind.code, "period_type": pt}
    if ps:
        q["period_start"] = ps.isoformat()
    return _path("impact:region", code, get_script_prefix()) + "?" + urlencode(q)


def _get_date(request: HttpRequest, name: str) -> dt.date | None:
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ApplicationError(f"{name}: a date YYYY-MM-DD", code="invalid_date") from exc


def _bad_request(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(request, "impact/error.html", {"error": exc.message}, status=400)


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The regions in the user's scope; one county: straight to its dashboard."""
    from cunzhan.network.models import Region

    scope = scope_for_user(request.user)
    if scope.everything:
        regions = list(Region.objects.filter(level=3).order_by("code")[:500])
    else:
        regions = list(Region.objects.filter(code__in=scope.prefixes).order_by("code"))
        if len(regions) == 1:
            return redirect("impact:region", code=regions[0].code)
    return render(request, "impact/home.html", {"regions": regions})


def _series_svg(
    ind: Indicator, cells: list[Any], code: str, pt: str, width: int = 720, height: int = 200
) -> dict[str, Any]:
    values = [c.value or 0.0 for c in cells]
    top = max([*values, ind.target or 0.0, 1e-9])
    pad_l, pad_b, pad_t = 48, 24, 10
    n = max(len(cells) - 1, 1)
    pts = []
    for i, c in enumerate(cells):
        x = pad_l + i * (width - pad_l - 10) / n
        y = pad_t + (height - pad_t - pad_b) * (1 - (c.value or 0.0) / top)
        pts.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "label": f"{c.period_start.isoformat()}: {fmt(ind, c.value)}",
                "url": _rows_url(code, ind, pt, c.period_start),
                "tick": c.period_start.strftime("%m-%d")
                if i % max(1, len(cells) // 6) == 0
                else "",
                "missing": c.value is None,  # a ratio over nothing: no point on the line
            }
        )
    target_y = None
    if ind.target is not None:
        target_y = round(pad_t + (height - pad_t - pad_b) * (1 - ind.target / top), 1)
    return {
        "width": width,
        "height": height,
        "points": pts,
        "line": " ".join(f"{p['x']},{p['y']}" for p in pts if not p["missing"]),
        "top": fmt(ind, top),
        "target_y": target_y,
        "base_y": height - pad_b,
        "pad_l": pad_l,
    }


def _bars(ind: Indicator, children: list[Any], pt: str, ps: dt.date) -> list[dict[str, Any]]:
    top = max([c.value or 0.0 for c in children] + [1e-9])
    return [
        {
            "code": c.region_code,
            "name": c.region_name,
            "value": fmt(ind, c.value),
            "pct": round(100 * (c.value or 0.0) / top, 1),
            "colour": legend_colour(ind, c.value),
            "url": _region_url(c.region_code, ind, pt, ps),
            "rows_url": _rows_url(c.region_code, ind, pt, ps),
        }
        for c in sorted(children, key=lambda c: (-(c.value or 0.0), c.region_code))
    ]


@functools.lru_cache(maxsize=64)
def _outline(data_dir: str, county: str) -> tuple[geo.Projection, str] | None:
    """The county's projection and outline path (the shipped outlines do not change
    while the process runs: drawn once, not on every request)."""
    fences = geo.county_fences(Path(data_dir), county)
    box = geo.bbox(fences) if fences else None
    if box is None:
        return None
    proj = geo.Projection.fit(box, width=420, pad=10, max_height=520)
    return proj, " ".join(geo.svg_path(f, proj) for f in fences)


def _map(region: Any, ind: Indicator, children: list[Any], pt: str, ps: dt.date) -> Any:
    """The county outline with the child regions at their seats, coloured by the legend
    and sized by value. None when no outline is shipped for the county."""
    from cunzhan.network.models import Region

    if len(region.code) < 6:
        return None
    outline = _outline(str(settings.DATA_DIR), region.code[:6])
    if outline is None:
        return None
    proj, path = outline
    seats = {
        r.code: (r.longitude, r.latitude)
        for r in Region.objects.filter(code__in=[c.region_code for c in children])
        if r.longitude is not None and r.latitude is not None
    }
    top = max([c.value or 0.0 for c in children] + [1e-9])
    dots = []
    for c in children:
        if c.region_code not in seats:
            continue
        x, y = proj.xy(*seats[c.region_code])
        dots.append(
            {
                "x": x,
                "y": y,
                "r": round(4 + 12 * ((c.value or 0.0) / top) ** 0.5, 1),
                "colour": legend_colour(ind, c.value),
                "name": c.region_name,
                "value": fmt(ind, c.value),
                "url": _rows_url(c.region_code, ind, pt, ps),
            }
        )
    return {
        "view_box": proj.view_box,
        "outline": path,
        "dots": dots,
    }


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def region(request: HttpRequest, code: str) -> HttpResponse:
    """The dashboard of one region: a card per indicator (value against target, legend
    colour), the chosen indicator's series, bars and map of the child regions."""
    scope = scope_for_user(request.user)
    try:
        reg = selectors.region_get(scope=scope, code=code)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    indicators = list(selectors.indicator_list())
    if not indicators:
        raise Http404("no indicator defined")
    try:
        ind = next((i for i in indicators if i.code == request.GET.get("indicator")), indicators[0])
        pt = selectors.check_period_type(ind, request.GET.get("period_type", ""))
        today = dt.date.today()
        ps = _get_date(request, "period_start") or selectors.latest_period(
            indicator=ind, region_code=reg.code, period_type=pt, today=today
        )
        periods.check_aligned(ps, pt)
        first = ps
        for _i in range(selectors.DEFAULT_SPAN[pt] - 1):
            first = periods.period_start(first - dt.timedelta(days=1), pt)
        series = selectors.value_series(
            scope=scope, indicator=ind, region_code=reg.code, period_type=pt, start=first, end=ps
        )
        _r, children = selectors.children_values(
            scope=scope, indicator=ind, region_code=reg.code, period_type=pt, period_start=ps
        )
    except ApplicationError as exc:
        return _bad_request(request, exc)
    cards = []
    # the cards' cells in one query (the region is scope-checked above)
    wanted = []
    for other in indicators:
        opt = pt if pt in periods.types_from(other.period_type) else other.period_type
        wanted.append((other, opt, periods.period_start(ps, opt)))
    cells = selectors.cells_for(indicators=wanted, region=reg)
    for other, opt, ops in wanted:
        cell = cells[other.code]
        cards.append(
            {
                "code": other.code,
                "name": _name(other),
                "value": fmt(other, cell.value),
                "raw": cell,
                "target": fmt(other, other.target) if other.target is not None else "",
                "colour": legend_colour(other, cell.value),
                "period": f"{PERIOD_LABELS[opt]} {ops.isoformat()}",
                "url": _rows_url(reg.code, other, opt, ops),
                "den_url": _rows_url(reg.code, other, opt, ops, "denominator")
                if other.is_ratio
                else "",
                "select_url": _region_url(reg.code, other, opt, ops),
                "active": other.code == ind.code,
            }
        )
    ancestors = [a for a in _ancestors(reg) if scope.contains_code(a.code)]
    return render(
        request,
        "impact/region.html",
        {
            "region": reg,
            "ancestors": [
                {"name": a.name, "url": _region_url(a.code, ind, pt, ps)} for a in ancestors
            ],
            "indicator": ind,
            "indicator_name": _name(ind),
            "period_type": pt,
            "period_start": ps,
            "period_types": [
                {"code": t, "label": PERIOD_LABELS[t], "url": _region_url(reg.code, ind, t)}
                for t in periods.types_from(ind.period_type)
            ],
            "cards": cards,
            "series": _series_svg(ind, series, reg.code, pt),
            "bars": _bars(ind, children, pt, ps),
            "map": _map(reg, ind, children, pt, ps),
            "legend": ind.legend,
        },
    )


def _ancestors(reg: Any) -> list[Any]:
    from cunzhan.network.models import Region

    codes = [reg.code[:n] for n in (2, 4, 6, 9) if n < len(reg.code)]
    return list(Region.objects.filter(code__in=codes).order_by("code"))


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def rows(request: HttpRequest, code: str) -> HttpResponse:
    """The rows that make one number, inside the user's scope."""
    scope = scope_for_user(request.user)
    try:
        reg = selectors.region_get(scope=scope, code=code)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    try:
        wanted = request.GET.get("indicator", "")
        first = selectors.indicator_list().first()
        ind = selectors.indicator_get(code=wanted or (first.code if first else ""))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        pt = selectors.check_period_type(ind, request.GET.get("period_type", ""))
        ps = _get_date(request, "period_start") or periods.period_start(dt.date.today(), pt)
        out = selectors.drilldown(
            scope=scope,
            indicator=ind,
            region_code=reg.code,
            period_type=pt,
            period_start=ps,
            part=request.GET.get("part", "numerator"),
        )
    except ApplicationError as exc:
        return _bad_request(request, exc)
    return render(
        request,
        "impact/rows.html",
        {
            "region": reg,
            "indicator": ind,
            "indicator_name": _name(ind),
            "period_type": pt,
            "period_start": ps,
            "out": out,
            "back": _region_url(reg.code, ind, pt, ps),
        },
    )


app_name = "impact"
urlpatterns = [
    path("", home, name="home"),
    path("r/<str:code>/", region, name="region"),
    path("r/<str:code>/rows/", rows, name="rows"),
]
