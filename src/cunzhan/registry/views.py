"""Registry pages: list, detail (masked IDs, audited reveal), create, import + report."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen
from cunzhan.core.views import require_perm
from cunzhan.registry import importers, selectors, services
from cunzhan.registry.forms import (
    FIELD_MAP,
    HouseholdCreateForm,
    HouseholdFilterForm,
    ImportForm,
    PersonCreateForm,
)
from cunzhan.registry.models import Household, IncomeSource, PovertyCause


def _household_or_404(request: HttpRequest, household_id: uuid.UUID) -> Household:
    try:
        return selectors.household_get(
            scope=scope_for_user(request.user), household_id=household_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _form_error(form: Any, exc: ApplicationError, fields: dict[str, str]) -> None:
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    target = fields.get(str(field)) if field else None
    form.add_error(target if target in form.fields else None, exc.message)


@login_required
@require_perm(Perm.VIEW_REGISTRY)
def household_list_page(request: HttpRequest) -> HttpResponse:
    """Households in scope: filter by region (code prefix), name/number/address and
    registered-poor status; 25 a page."""
    scope = scope_for_user(request.user)
    form = HouseholdFilterForm(request.GET or None)
    region = q = ""
    poor = False
    if form.is_valid():
        region = form.cleaned_data["region"]
        q = form.cleaned_data["q"]
        poor = form.cleaned_data["poor"]
    qs = selectors.household_list(scope=scope, region=region, poor_only=poor, q=q)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "form": form,
        "page": page,
        "query": params.urlencode(),
        "can_edit": request.user.can(Perm.EDIT_REGISTRY),  # type: ignore[union-attr]
    }
    template = (
        "registry/_household_rows.html"
        if request.headers.get("HX-Request")
        and request.headers.get("HX-Target") == "household-results"
        else "registry/households.html"
    )
    return render(request, template, ctx)


@login_required
@require_perm(Perm.VIEW_REGISTRY)
def household_detail_page(request: HttpRequest, household_id: uuid.UUID) -> HttpResponse:
    household = _household_or_404(request, household_id)
    selectors.household_record_read(household=household, user=request.user, channel="page")
    incomes = list(selectors.household_incomes(household=household))
    labels = dict(IncomeSource.choices)
    by_year: dict[int, dict[str, Any]] = {}
    for rec in incomes:
        row = by_year.setdefault(rec.year, {"year": rec.year, "items": [], "total": 0})
        row["items"].append((labels.get(rec.source, rec.source), format_fen(rec.amount_fen)))
        row["total"] += rec.amount_fen
    income_rows = [
        {**r, "total_display": format_fen(r["total"])}
        for r in sorted(by_year.values(), key=lambda r: -r["year"])
    ]
    reg = getattr(household, "poverty_registration", None)
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "members": selectors.household_members(household=household),
            "registration": reg,
            "cause_label": dict(PovertyCause.choices).get(reg.main_cause) if reg else "",
            "income_rows": income_rows,
            "can_reveal": request.user.can(Perm.VIEW_ID_NUMBERS),  # type: ignore[union-attr]
            "can_edit": request.user.can(Perm.EDIT_REGISTRY),  # type: ignore[union-attr]
        },
    )


@login_required
@require_perm(Perm.VIEW_ID_NUMBERS)
@require_POST
def person_id_number_reveal(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """htmx: the full ID number in place of the mask (audited; POST so it is never
    prefetched or cached)."""
    try:
        person, number = selectors.person_id_number_reveal(
            scope=scope_for_user(request.user), user=request.user, person_id=person_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = render(request, "registry/_id_number.html", {"person": person, "number": number})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def household_create_page(request: HttpRequest) -> HttpResponse:
    form = HouseholdCreateForm(
        request.POST or None, initial={"village_code": request.GET.get("village", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            household = services.household_create(
                scope=scope_for_user(request.user), actor=request.user, **form.cleaned_data
            )
        except ApplicationError as exc:
            _form_error(form, exc, FIELD_MAP)
        else:
            return redirect("registry:household", household_id=household.uuid)
    return render(request, "registry/household_create.html", {"form": form})


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def person_create_page(request: HttpRequest, household_id: uuid.UUID) -> HttpResponse:
    household = _household_or_404(request, household_id)
    form = PersonCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_create(household=household, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            _form_error(form, exc, {k: k for k in form.fields})
        else:
            return redirect("registry:household", household_id=household.uuid)
    return render(request, "registry/person_create.html", {"form": form, "household": household})


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload a CSV/XLSX file; on success go to its report page."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = importers.registry_import(
                scope=scope_for_user(request.user),
                user=request.user,
                file_name=upload.name,
                data=upload.read(),
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("registry:import_batch", batch_id=batch.uuid)
    recent = selectors.import_batch_list(scope=scope_for_user(request.user), user=request.user)[:10]
    return render(
        request,
        "registry/import.html",
        {"form": form, "columns": importers.COLUMNS, "recent": recent},
    )


def _batch_or_404(request: HttpRequest, batch_id: uuid.UUID) -> Any:
    try:
        return selectors.import_batch_get(
            scope=scope_for_user(request.user), user=request.user, batch_id=batch_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_perm(Perm.VIEW_REGISTRY)
def import_batch_page(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    return render(request, "registry/import_batch.html", {"batch": batch})


@login_required
@require_perm(Perm.VIEW_REGISTRY)
def import_report_csv(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    response = HttpResponse(importers.report_csv(batch), content_type="text/csv; charset=utf-8")
    stem = batch.file_name.rsplit(".", 1)[0] or "import"
    name = _quote(f"{stem}-{_('问题报告')}.csv")
    response["Content-Disposition"] = (
        f"attachment; filename=\"import-report.csv\"; filename*=UTF-8''{name}"
    )
    return response


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(importers.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="registry-import-template.csv"'
    return response
