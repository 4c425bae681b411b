"""Relapse-risk monitoring pages (防返贫监测, ADR 0019): the queue of flagged
households (counts per township, filters by township and status, a county's scan) and
a case page with its reasons, the household's income by year, its history and the
follow-up forms (assign, visit, assistance, close; plain POST, then back to the case).
Thin: the rules live in ``risk.py``, the reads in ``risk_selectors.py``. No names and
no ID numbers here: a household is its number and its village; the registry page (for
roles that may read it) is one link away."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen, yuan_to_fen
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.impact import risk, risk_selectors
from cunzhan.impact.risk_api import case_read_audit
from cunzhan.impact.risk_models import AssistanceKind, CaseOutcome, CaseStatus, RiskCase


def _pct(value: Any) -> str:
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "—"


def reason_text(r: dict[str, Any]) -> str:
    """One reason in the reader's language, its measured value against its threshold."""
    code = r.get("code")
    if code == "income_below_line":
        return _("人均纯收入 %(value)s，低于 %(year)s 年监测线 %(threshold)s") % {
            "value": format_fen(r.get("value")),
            "year": r.get("line_year", r.get("year", "")),
            "threshold": format_fen(r.get("threshold")),
        }
    if code == "income_fall":
        return _("家庭总收入 %(before)s → %(now)s，下降 %(value)s（阈值 %(threshold)s）") % {
            "before": format_fen(r.get("before_fen")),
            "now": format_fen(r.get("now_fen")),
            "value": _pct(r.get("value")),
            "threshold": _pct(r.get("threshold")),
        }
    if code == "sales_falling":
        return _(
            "近 %(months)s 个月销售额 %(recent)s，此前 %(months)s 个月 %(earlier)s，"
            "下降 %(value)s（阈值 %(threshold)s）"
        ) % {
            "months": r.get("months", ""),
            "recent": format_fen(r.get("recent_fen")),
            "earlier": format_fen(r.get("earlier_fen")),
            "value": _pct(r.get("value")),
            "threshold": _pct(r.get("threshold")),
        }
    unit = r.get("unit")

    def show(v: Any) -> str:
        if unit == "fen":
            return format_fen(v)
        if unit == "share":
            return _pct(v)
        return "" if v is None else str(v)

    label = _(risk.signal_label(str(r.get("signal") or code)))
    return _("%(label)s：%(value)s（阈值 %(threshold)s）") % {
        "label": label,
        "value": show(r.get("value")),
        "threshold": show(r.get("threshold")),
    }


def _reasons(case: RiskCase) -> list[dict[str, Any]]:
    return [
        {
            "code": r.get("code", ""),
            "label": _(risk.signal_label(str(r.get("signal") or r.get("code", "")))),
            "score": r.get("score", 0),
            "text": reason_text(r),
        }
        for r in case.reasons
    ]


def _county_of(scope: Any, region: str) -> str:
    """The county the queue is about: the region's county, or the user's only one."""
    if len(region) >= 6:
        return region[:6]
    if not scope.everything and len(scope.prefixes) == 1 and len(scope.prefixes[0]) >= 6:
        return scope.prefixes[0][:6]
    return ""


@login_required
@require_perm(Perm.VIEW_RISK)
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """Flagged households in the user's scope: counts per township, the cases (filter by
    region and status; default: not closed), highest score first."""
    scope = scope_for_user(request.user)
    region = (request.GET.get("region") or "").strip()[:12]
    status = (request.GET.get("status") or "active").strip()[:10]
    try:
        townships = risk_selectors.township_counts(scope=scope, region=region[:6])
        page = Paginator(
            risk_selectors.case_list(scope=scope, region=region, status=status), 50
        ).get_page(request.GET.get("page"))
    except ApplicationError as exc:
        return render(request, "impact/error.html", {"error": exc.message}, status=400)
    county = _county_of(scope, region)
    if county and not scope.contains_code(county):
        county = ""
    statuses = [("active", _("未结案")), *((s.value, s.label) for s in CaseStatus), ("", _("全部"))]
    for t in townships:
        t["url"] = reverse("impact:risk") + "?" + urlencode({"region": t["code"]})
    rows = [
        {
            "case": c,
            "reasons": ", ".join(r["label"] for r in _reasons(c)),
            "url": reverse("impact:risk_case", kwargs={"case_id": c.uuid}),
        }
        for c in page.object_list
    ]
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "impact/risk_queue.html",
        {
            "townships": townships,
            "rows": rows,
            "page": page,
            "query": params.urlencode(),
            "region": region,
            "status": status,
            "statuses": statuses,
            "county": county,
            "can_manage": request.user.can(Perm.MANAGE_RISK),  # type: ignore[union-attr]
            "last_year": timezone.localdate().year - 1,
        },
    )


def _case(request: HttpRequest, case_id: uuid.UUID) -> tuple[Any, RiskCase]:
    scope = scope_for_user(request.user)
    try:
        return scope, risk_selectors.case_get(scope=scope, case_id=case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _case_page(
    request: HttpRequest, scope: Any, case: RiskCase, *, error: str = "", status: int = 200
) -> HttpResponse:
    user: Any = request.user
    can_manage = user.can(Perm.MANAGE_RISK)
    events = []
    for e in risk_selectors.case_events(case=case):
        events.append(
            {
                "e": e,
                "amount": format_fen(e.amount_fen) if e.amount_fen is not None else "",
                "assistance": AssistanceKind(e.assistance_kind).label if e.assistance_kind else "",
                "outcome": CaseOutcome(e.data["outcome"]).label
                if e.data.get("outcome") in CaseOutcome.values
                else "",
                "assignee": e.data.get("assignee_name", ""),
                "score": e.data.get("score"),
            }
        )
    incomes = [
        {
            **row,
            "total": format_fen(row["total_fen"]),
            "per_capita": format_fen(row["per_capita_fen"]),
        }
        for row in risk_selectors.household_incomes_by_year(case=case)
    ]
    others = [c for c in risk_selectors.household_cases(scope=scope, case=case) if c.pk != case.pk]
    return render(
        request,
        "impact/risk_case.html",
        {
            "case": case,
            "reasons": _reasons(case),
            "events": events,
            "incomes": incomes,
            "others": others,
            "can_manage": can_manage and not case.is_closed,
            "registry_url": reverse(
                "registry:household", kwargs={"household_id": case.household.uuid}
            )
            if user.can(Perm.VIEW_REGISTRY)
            else "",
            "assignees": risk_selectors.assignee_choices(scope=scope, case=case)
            if can_manage and not case.is_closed
            else [],
            "assistance_kinds": AssistanceKind.choices,
            "outcomes": CaseOutcome.choices,
            "today": timezone.localdate().isoformat(),
            "error": error,
            "post": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@login_required
@require_perm(Perm.VIEW_RISK)
@require_GET
def case_detail(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    scope, case = _case(request, case_id)
    case_read_audit(case, request.user, "page")
    return _case_page(request, scope, case)


def _act(request: HttpRequest, case_id: uuid.UUID, step: Any, done: str) -> HttpResponse:
    scope, case = _case(request, case_id)
    try:
        step(scope, case)
    except ApplicationError as exc:
        return _case_page(request, scope, case, error=exc.message, status=400)
    messages.success(request, done)
    return redirect("impact:risk_case", case_id=case.uuid)


@login_required
@require_perm(Perm.MANAGE_RISK)
@require_POST
def case_assign(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    from cunzhan.accounts.models import User

    def step(scope: Any, case: RiskCase) -> None:
        raw = (request.POST.get("assignee") or "").strip()
        assignee = User.objects.filter(pk=int(raw)).first() if is_ascii_digits(raw) else None
        risk.case_assign(case=case, assignee=assignee, actor=request.user, scope=scope)

    return _act(request, case_id, step, _("已分派"))


@login_required
@require_perm(Perm.MANAGE_RISK)
@require_POST
def case_visit(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    def step(scope: Any, case: RiskCase) -> None:
        risk.case_visit(
            case=case,
            day=request.POST.get("day") or "",
            findings=request.POST.get("findings") or "",
            actor=request.user,
        )

    return _act(request, case_id, step, _("已记录走访"))


@login_required
@require_perm(Perm.MANAGE_RISK)
@require_POST
def case_assistance(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    def step(scope: Any, case: RiskCase) -> None:
        raw = (request.POST.get("amount_yuan") or "").strip()
        amount = yuan_to_fen(raw) if raw else None
        if amount is not None and amount < 0:
            raise ApplicationError(_("金额不能为负"), code="invalid_amount")
        risk.case_assistance(
            case=case,
            kind=request.POST.get("kind") or "",
            day=request.POST.get("day") or "",
            amount_fen=amount,
            note=request.POST.get("note") or "",
            actor=request.user,
        )

    return _act(request, case_id, step, _("已记录帮扶措施"))


@login_required
@require_perm(Perm.MANAGE_RISK)
@require_POST
def case_close(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    def step(scope: Any, case: RiskCase) -> None:
        risk.case_close(
            case=case,
            outcome=request.POST.get("outcome") or "",
            note=request.POST.get("note") or "",
            actor=request.user,
        )

    return _act(request, case_id, step, _("已结案"))


@login_required
@require_perm(Perm.MANAGE_RISK)
@require_POST
def scan(request: HttpRequest, county_code: str) -> HttpResponse:
    """Scan the county (a form on the queue); back to its queue with the counts."""
    scope = scope_for_user(request.user)
    if not scope.contains_code(county_code):
        raise Http404("county not found")
    raw = (request.POST.get("year") or "").strip()
    try:
        result = risk.risk_scan(
            county_code=county_code,
            year=int(raw) if is_ascii_digits(raw) else None,
            actor=request.user,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        return render(request, "impact/error.html", {"error": exc.message}, status=400)
    messages.success(
        request,
        _("%(year)s 年扫描：%(evaluated)s 户中 %(flagged)s 户达到预警分，新增 %(opened)s 件")
        % {
            "year": result.year,
            "evaluated": result.evaluated,
            "flagged": result.flagged,
            "opened": result.opened,
        },
    )
    return redirect(reverse("impact:risk") + "?" + urlencode({"region": county_code}))


urlpatterns = [
    path("risk/", queue, name="risk"),
    path("risk/scan/<str:county_code>/", scan, name="risk_scan"),
    path("risk/c/<uuid:case_id>/", case_detail, name="risk_case"),
    path("risk/c/<uuid:case_id>/assign/", case_assign, name="risk_assign"),
    path("risk/c/<uuid:case_id>/visit/", case_visit, name="risk_visit"),
    path("risk/c/<uuid:case_id>/assistance/", case_assistance, name="risk_assistance"),
    path("risk/c/<uuid:case_id>/close/", case_close, name="risk_close"),
]
