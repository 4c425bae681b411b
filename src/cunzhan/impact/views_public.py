"""The public transparency page (no login): yearly aggregates per region, the child
regions' table and a small yearly series, with cells resting on fewer than 5 households
suppressed (:mod:`cunzhan.impact.public`). No drill-down link, no row, no name, no
phone, no household number."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact import public
from cunzhan.impact.models import Indicator
from cunzhan.impact.views import fmt, series_segments

SUPPRESSED = "<5"


def _name(ind: Indicator) -> str:
    return ind.name_en if translation.get_language() == "en" else ind.name_zh


def _show(ind: Indicator, c: public.PublicCell) -> str:
    """A small cell shows "<5"; a cell withheld so that a small one cannot be worked out
    by subtraction says so (it is not small: "<5" would be false)."""
    if not c.suppressed:
        return fmt(ind, c.value)
    return SUPPRESSED if c.reason != "complementary" else _("隐去")


def _url(code: str, ind: Indicator | None = None, year: int | None = None) -> str:
    base = reverse("open:region", kwargs={"code": code}) if code else reverse("open:home")
    q: dict[str, Any] = {}
    if ind is not None:
        q["indicator"] = ind.code
    if year is not None:
        q["year"] = year
    return base + ("?" + urlencode(q) if q else "")


def _series(ind: Indicator, cells: list[public.PublicCell]) -> dict[str, Any]:
    width, height, pad_l, pad_b, pad_t = 520, 160, 48, 24, 10
    top = max([c.value or 0.0 for c in cells] + [1e-9])
    n = max(len(cells) - 1, 1)
    pts = []
    for i, c in enumerate(cells):
        x = pad_l + i * (width - pad_l - 16) / n
        y = pad_t + (height - pad_t - pad_b) * (1 - (c.value or 0.0) / top)
        pts.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "label": f"{c.year}: {_show(ind, c)}",
                "tick": str(c.year),
                "missing": c.value is None,  # no value, or suppressed: a gap
            }
        )
    return {
        "width": width,
        "height": height,
        "points": pts,
        "lines": series_segments(pts),
        "top": fmt(ind, top),
        "base_y": height - pad_b,
        "pad_l": pad_l,
    }


def _year(request: HttpRequest) -> int | None:
    raw = (request.GET.get("year") or "").strip()
    if not raw:
        return None
    if not is_ascii_digits(raw) or len(raw) != 4:
        raise ApplicationError("year: four digits, e.g. 2025", code="invalid_year")
    return int(raw)


def _page(request: HttpRequest, code: str) -> HttpResponse:
    from cunzhan.network.models import Region

    try:
        region = public.public_region(code)
    except (NotFound, ApplicationError) as exc:
        raise Http404(str(exc)) from exc
    try:
        year = public.check_year(_year(request))
    except ApplicationError as exc:
        return render(request, "impact/error.html", {"error": exc.message}, status=400)
    cards = []
    chosen = None
    for ind, cell in public.region_cells(region_code=code, year=year):
        active = ind.code == request.GET.get("indicator")
        cards.append(
            {
                "code": ind.code,
                "name": _name(ind),
                "value": _show(ind, cell),
                "suppressed": cell.suppressed,
                "reason": cell.reason,
                "url": _url(code, ind, year),
                "active": active,
            }
        )
        if active:
            chosen = ind
    if not cards:
        raise Http404("no indicator")
    if chosen is None:
        chosen = public.public_indicators()[0]
        cards[0]["active"] = True
    children = public.children_cells(indicator=chosen, region_code=code, year=year)
    series = public.year_series(indicator=chosen, region_code=code, year=year)
    ancestors = []
    if region is not None:
        codes = [code[:n] for n in (2, 4, 6, 9) if n < len(code)]
        ancestors = [
            {"name": r.name, "url": _url(r.code, chosen, year)}
            for r in Region.objects.filter(code__in=codes).order_by("code")
        ]
    return render(
        request,
        "impact/public.html",
        {
            "region": region,
            "code": code,
            "year": year,
            "years": [{"year": y, "url": _url(code, chosen, y)} for y in range(year - 4, year + 1)],
            "ancestors": [{"name": _("全国"), "url": _url("", chosen, year)}, *ancestors]
            if region is not None
            else [],
            "cards": cards,
            "indicator": chosen,
            "indicator_name": _name(chosen),
            "children": [
                {
                    "name": c.region_name,
                    "url": _url(c.region_code, chosen, year),
                    "value": _show(chosen, c),
                    "suppressed": c.suppressed,
                }
                for c in children
            ],
            "series": _series(chosen, series),
            "min_households": public.MIN_HOUSEHOLDS,
            "any_suppressed": any(c["suppressed"] for c in cards)
            or any(c.suppressed for c in children),
        },
    )


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The nation's page."""
    return _page(request, "")


@require_GET
def region(request: HttpRequest, code: str) -> HttpResponse:
    """A province's, prefecture's, county's, township's or village's page."""
    if not code:
        raise Http404()
    return _page(request, code)


app_name = "open"
urlpatterns = [
    path("", home, name="home"),
    path("r/<str:code>/", region, name="region"),
]
