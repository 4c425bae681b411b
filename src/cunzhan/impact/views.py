"""Impact pages: the dashboard of a region (county, township, village ... by its code in
the URL) and the drill-down rows of one number. Server-rendered SVG, no JavaScript
chart library, no tile server: the map is the county outline shipped in the data
folder with the child regions drawn at their seats (docs/adr/0017-impact-indicators.md).
Thin: every read is a selector taking the user's scope."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_GET

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen
from cunzhan.core.views import require_perm
from cunzhan.impact import export_views, periods, selectors
from cunzhan.impact.models import Indicator
from cunzhan.impact.pages import bad_request, get_date
from cunzhan.network import geo

NEUTRAL = "#546e7a"
PERIOD_LABELS = {
    "day": gettext_lazy("日"),
    "week": gettext_lazy("周"),
    "month": gettext_lazy("月"),
    "quarter": gettext_lazy("季"),
    "year": gettext_lazy("年"),
}
# The legend band labels of the built-in indicators (data migrations), for the catalogue.
LEGEND_LABELS = (
    gettext_noop("低"),
    gettext_noop("中"),
    gettext_noop("达标"),
    gettext_noop("偏高"),
    gettext_noop("过高"),
)


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
    url = _path("impact:rows", selectors.url_code(code), get_script_prefix())
    return url + "?" + urlencode(q)


def _region_url(code: str, ind: Indicator, pt: str, ps: dt.date | None = None) -> str:
    q = {"indicator": ind.code, "period_type": pt}
    if ps:
        q["period_start"] = ps.isoformat()
    url = _path("impact:region", selectors.url_code(code), get_script_prefix())
    return url + "?" + urlencode(q)


@login_required
@require_perm(Perm.VIEW_IMPACT)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The regions in the user's scope; one county: straight to its dashboard."""
    from cunzhan.network.models import Region

    scope = scope_for_user(request.user)
    if scope.everything:
        regions = list(Region.objects.filter(level=1).order_by("code"))
    else:
        regions = list(Region.objects.filter(code__in=scope.prefixes).order_by("code"))
        if len(regions) == 1:
            return redirect("impact:region", code=regions[0].code)
    return render(request, "impact/home.html", {"regions": regions, "national": scope.everything})


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
        "lines": series_segments(pts),
        "top": fmt(ind, top),
        "target_y": target_y,
        "base_y": height - pad_b,
        "pad_l": pad_l,
    }


def series_segments(points: list[dict[str, Any]]) -> list[str]:
    """The polyline point lists of a series, broken where a period has no value (a
    ratio over nothing): a gap, never a fall to zero. A lone point is its own segment
    (drawn by its dot)."""
    out: list[list[str]] = [[]]
    for p in points:
        if p["missing"]:
            if out[-1]:
                out.append([])
            continue
        out[-1].append(f"{p['x']},{p['y']}")
    return [" ".join(seg) for seg in out if len(seg) > 1]


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


def _child_fences(child_codes: list[str]) -> dict[str, tuple[str, ...]]:
    """The shipped outline files of each child region that has one: its own file when
    one is keyed by its code, else the files of the units it replaced (crosswalk)."""
    index = geo.fence_index(settings.DATA_DIR)
    out: dict[str, tuple[str, ...]] = {}
    for code in child_codes:
        key = code if len(code) == 6 else (code + "00" if len(code) == 4 else "")
        files = (key,) if key in index.get(key, ()) else index.get(key, ())
        if files:
            out[code] = tuple(files)
    return out


def _geometries(files: tuple[str, ...]) -> list[Any]:
    return [geo.load_fence(settings.DATA_DIR, f) for f in files]


@functools.lru_cache(maxsize=256)
def _bbox(files: tuple[str, ...]) -> tuple[float, float, float, float] | None:
    return geo.bbox(_geometries(files)) if files else None


@functools.lru_cache(maxsize=256)
def _svg(files: tuple[str, ...], proj: geo.Projection) -> str:
    """The SVG path of shipped outlines under a projection (the files do not change while
    the process runs: drawn once, not on every request)."""
    return " ".join(geo.svg_path(g, proj) for g in _geometries(files))


def _seats(children: list[Any]) -> dict[str, tuple[float, float]]:
    """Where to draw each child: its own coordinates, else the mean of the seats of the
    counties below it (provinces and prefectures carry no coordinates of their own)."""
    from django.db.models import Q

    from cunzhan.core.scope import prefix_q
    from cunzhan.network.models import Level, Region

    codes = [c.region_code for c in children]
    seats: dict[str, tuple[float, float]] = {}
    for code, lon, lat in Region.objects.filter(
        code__in=codes, longitude__isnull=False, latitude__isnull=False
    ).values_list("code", "longitude", "latitude"):
        seats[code] = (float(lon or 0.0), float(lat or 0.0))
    missing = [c for c in codes if c not in seats and len(c) < 6]
    if missing:
        under = Q()
        for code in missing:
            under |= prefix_q("code", code)
        sums: dict[str, list[float]] = {}
        for code, lon, lat in (
            Region.objects.filter(under, level=Level.COUNTY)
            .filter(longitude__isnull=False, latitude__isnull=False)
            .values_list("code", "longitude", "latitude")
        ):
            acc = sums.setdefault(code[: len(missing[0])], [0.0, 0.0, 0.0])
            acc[0] += float(lon or 0.0)
            acc[1] += float(lat or 0.0)
            acc[2] += 1
        for code, (lon, lat, n) in sums.items():
            seats[code] = (lon / n, lat / n)
    return seats


def _map(region: Any, ind: Indicator, children: list[Any], pt: str, ps: dt.date) -> Any:
    """A map of the child regions: the child's shipped outline filled with its legend
    colour where the data folder has one (the counties of 六盘水), else a circle at its
    seat sized by value; the region's own outline behind them when shipped. None when
    nothing can be placed."""
    code = region.code
    own_key = code[:6] if len(code) >= 6 else (code + "00" if len(code) == 4 else "")
    own = tuple(geo.fence_index(settings.DATA_DIR).get(own_key, ())) if own_key else ()
    shapes = _child_fences([c.region_code for c in children]) if len(code) in (2, 4) else {}
    seats = _seats([c for c in children if c.region_code not in shapes])
    points = [(lon, lat) for lon, lat in seats.values() if lon is not None and lat is not None]
    boxes = [b for b in (_bbox(own), *(_bbox(fs) for fs in shapes.values())) if b]
    if points:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        boxes.append((min(lons), min(lats), max(lons), max(lats)))
    if not boxes:
        return None
    box = (
        min(b[0] for b in boxes) - (0.05 if not own else 0),
        min(b[1] for b in boxes) - (0.05 if not own else 0),
        max(b[2] for b in boxes) + (0.05 if not own else 0),
        max(b[3] for b in boxes) + (0.05 if not own else 0),
    )
    # circles alone (no outline) need less height than a county's shape
    proj = geo.Projection.fit(box, width=420, pad=14, max_height=520 if own or shapes else 300)
    top = max([c.value or 0.0 for c in children] + [1e-9])
    areas, dots = [], []
    for c in children:
        item = {
            "colour": legend_colour(ind, c.value),
            "name": c.region_name,
            "value": fmt(ind, c.value),
            "url": _region_url(c.region_code, ind, pt, ps),
        }
        if c.region_code in shapes:
            item["d"] = _svg(shapes[c.region_code], proj)
            # with a legend the colour tells the band; without one the shade tells the value
            share = (c.value or 0.0) / top
            item["opacity"] = 0.75 if ind.legend else round(0.12 + 0.78 * share, 2)
            if not ind.legend:
                item["colour"] = "#1565c0"
            areas.append(item)
        elif c.region_code in seats:
            x, y = proj.xy(*seats[c.region_code])
            item.update(x=x, y=y, r=round(4 + 12 * ((c.value or 0.0) / top) ** 0.5, 1))
            dots.append(item)
    if not areas and not dots and not own:
        return None
    return {
        "view_box": proj.view_box,
        "outline": _svg(own, proj) if own else "",
        "areas": areas,
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
        today = timezone.localdate()
        ps = get_date(request, "period_start") or selectors.latest_period(
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
        return bad_request(request, exc)
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
            "downloads": export_views.download_links(reg.code, ind, pt, ps),
        },
    )


def _ancestors(reg: Any) -> list[Any]:
    from cunzhan.network.models import Region

    codes = [reg.code[:n] for n in (2, 4, 6, 9) if n < len(reg.code)]
    found = list(Region.objects.filter(code__in=codes).order_by("code"))
    return [selectors.National(), *found] if reg.code else []


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
        ps = get_date(request, "period_start") or periods.period_start(timezone.localdate(), pt)
        out = selectors.drilldown(
            scope=scope,
            indicator=ind,
            region_code=reg.code,
            period_type=pt,
            period_start=ps,
            part=request.GET.get("part", "numerator"),
            user=request.user,
        )
    except ApplicationError as exc:
        return bad_request(request, exc)
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
