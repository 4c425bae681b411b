"""The PUBLIC trace pages (no login): ``/t/`` (type a code), ``/t/<code>/`` (a lot's
story: product, grade, village, township and county, the steps; NO personal data: no
person's name, no phone) and ``/t/<code>/qr.svg`` (the QR code of the page's URL).
Unknown code: a 404 page that says so."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from cunzhan.commerce import codes, qr, selectors
from cunzhan.commerce.api import public_details
from cunzhan.commerce.models import ProducerKind
from cunzhan.core.errors import NotFound


def _not_found(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "commerce/trace_404.html", {"code": code[:40]}, status=404)


@require_GET
def trace_home(request: HttpRequest) -> HttpResponse:
    """Type the code printed on the package."""
    code = request.GET.get("code", "").strip()[:40]
    if code:
        normal = codes.normalise(code)
        if normal is not None:
            return redirect("trace:lot", trace_code=normal)
        return _not_found(request, code)
    return render(request, "commerce/trace_home.html", {})


@require_GET
@cache_control(public=True, max_age=60)
def trace_page(request: HttpRequest, trace_code: str) -> HttpResponse:
    try:
        lot = selectors.lot_by_code(code=trace_code)
    except NotFound:
        return _not_found(request, trace_code)
    if lot.code != trace_code:  # a typed variant (lower case, hyphen): the canonical URL
        return redirect("trace:lot", trace_code=lot.code)
    steps = [{"s": s, "details": public_details(s.details)} for s in selectors.lot_story(lot=lot)]
    return render(
        request,
        "commerce/trace.html",
        {
            "lot": lot,
            "code": codes.display(lot.code),
            "places": selectors.lot_places(lot=lot),
            "steps": steps,
            "cooperative": lot.producer.name
            if lot.producer.kind == ProducerKind.COOPERATIVE
            else "",
            "producer_kind": lot.producer.get_kind_display(),
            "epcis_url": f"/api/v1/commerce/trace/{lot.code}/epcis",
        },
    )


@require_GET
@cache_control(public=True, max_age=86400)
def trace_qr(request: HttpRequest, trace_code: str) -> HttpResponse:
    try:
        lot = selectors.lot_by_code(code=trace_code)
    except NotFound:
        return _not_found(request, trace_code)
    url = request.build_absolute_uri(reverse("trace:lot", kwargs={"trace_code": lot.code}))
    return HttpResponse(qr.qr_svg(url), content_type="image/svg+xml")


app_name = "trace"
urlpatterns = [
    path("", trace_home, name="home"),
    path("<str:trace_code>/", trace_page, name="lot"),
    path("<str:trace_code>/qr.svg", trace_qr, name="qr"),
]
