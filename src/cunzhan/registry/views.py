"""Registry pages: list, detail (masked IDs, audited reveal), create, import + report."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from django.contrib import messages
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
from cunzhan.core.tabular import ImportLimits, read_upload
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.registry import importers, selectors, services
from cunzhan.registry.forms import (
    FIELD_MAP,
    ConsentGrantForm,
    HouseholdCreateForm,
    HouseholdEditForm,
    HouseholdFilterForm,
    ImportForm,
    PersonCreateForm,
    PersonEditForm,
    PovertyExitForm,
    PovertyRegisterForm,
)
from cunzhan.registry.models import Household, IncomeSource, Person, PovertyCause


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
    resolved = None
    choices: list[Any] = []
    region_missing = False
    if form.is_valid():
        region = form.cleaned_data["region"]
        q = form.cleaned_data["q"]
        poor = form.cleaned_data["poor"]
    code = region if is_ascii_digits(region) else ""
    if region and not code:
        # a name (玉舍): one unit resolves it, several are offered as choices
        matches = selectors.region_matches(scope=scope, text=region)
        if len(matches) == 1:
            resolved = matches[0]
            code = resolved.code
        else:
            choices, region_missing = matches, not matches
    qs = selectors.household_list(
        scope=scope,
        region=code,
        poor_only=poor,
        q=q,
    )
    if region and not code:
        qs = qs.none()
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "form": form,
        "page": page,
        "query": params.urlencode(),
        "region_text": region,
        "resolved": resolved,
        "region_choices": choices,
        "region_missing": region_missing,
        "choice_query": _without(params, "region"),
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
@require_perm(Perm.VIEW_RESIDENTS)
def resident_list_page(request: HttpRequest) -> HttpResponse:
    """The village directory (村民名单) for station work: names and household numbers,
    nothing of the register; 50 households a page."""
    q = (request.GET.get("q") or "").strip()[:40]
    qs = selectors.resident_list(scope=scope_for_user(request.user), q=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registry/residents.html",
        {
            "page": page,
            "q": q,
            "query": f"q={quote(q)}" if q else "",
            "can_view_register": request.user.can(Perm.VIEW_REGISTRY),  # type: ignore[union-attr]
        },
    )


def _without(params: Any, key: str) -> str:
    rest = params.copy()
    rest.pop(key, None)
    return str(rest.urlencode())


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
    members = list(selectors.household_members(household=household))
    consents = selectors.household_consents(household=household)
    for m in members:
        m.consent_list = consents.get(m.pk, [])  # type: ignore[attr-defined]
        m.consent_form = ConsentGrantForm(auto_id=f"id_%s_{m.uuid}")  # type: ignore[attr-defined]
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "members": members,
            "can_audit": request.user.can(Perm.VIEW_AUDIT),  # type: ignore[union-attr]
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
                data=read_upload(upload),
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("registry:import_batch", batch_id=batch.uuid)
    scope = scope_for_user(request.user)
    recent = selectors.import_batch_list(scope=scope, user=request.user)[:10]
    village = selectors.first_village(scope=scope)
    return render(
        request,
        "registry/import.html",
        {
            "form": form,
            "columns": importers.COLUMNS,
            "recent": recent,
            "accepted": importers.accepted_values(),
            "income_columns": importers.income_columns(),
            "example_village": village,
            "max_mb": ImportLimits.from_settings().max_bytes // (1024 * 1024),
            "max_rows": ImportLimits.from_settings().max_rows,
        },
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
    return render(
        request,
        "registry/import_batch.html",
        {"batch": batch, "rows_not_listed": importers.rows_not_listed(batch)},
    )


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
    return quote(text, safe="")


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def import_template(request: HttpRequest) -> HttpResponse:
    """The header and, if the user's scope has a village, one example row that imports
    as it stands (into the first village of the scope)."""
    village = selectors.first_village(scope=scope_for_user(request.user))
    response = HttpResponse(
        importers.template_csv(village.code if village else None),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="registry-import-template.csv"'
    return response


# -- editing: members, the household, the poverty register, consents ------------------


def _person_or_404(request: HttpRequest, person_id: uuid.UUID) -> Person:
    try:
        return selectors.person_get(scope=scope_for_user(request.user), person_id=person_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def person_edit_page(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Edit a member. An empty ID number keeps the number on record."""
    person = _person_or_404(request, person_id)
    if request.method == "GET":
        selectors.person_record_read(person=person, user=request.user, channel="edit page")
    initial = {
        "name": person.name,
        "sex": person.sex,
        "relation": person.relation,
        "birth_year": person.birth_year,
        "phone": person.phone,
    }
    form = PersonEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _p, changed = services.person_update(
                    person=person, actor=request.user, **form.cleaned_data
                )
            except ApplicationError as exc:
                _form_error(form, exc, {k: k for k in form.fields})
            else:
                if changed:
                    messages.success(request, _("已保存成员“%(n)s”的信息") % {"n": person.name})
                return redirect("registry:household", household_id=person.household.uuid)
        status = 400
    return render(
        request,
        "registry/person_edit.html",
        {"form": form, "person": person, "household": person.household},
        status=status,
    )


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def household_edit_page(request: HttpRequest, household_id: uuid.UUID) -> HttpResponse:
    household = _household_or_404(request, household_id)
    form = HouseholdEditForm(request.POST or None, initial={"address": household.address})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            services.household_update(
                household=household, address=form.cleaned_data["address"], actor=request.user
            )
            return redirect("registry:household", household_id=household.uuid)
        status = 400
    return render(
        request,
        "registry/household_edit.html",
        {"form": form, "household": household},
        status=status,
    )


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def poverty_register_page(request: HttpRequest, household_id: uuid.UUID) -> HttpResponse:
    """Register the household as poor (建档立卡), or correct year and cause."""
    household = _household_or_404(request, household_id)
    reg = getattr(household, "poverty_registration", None)
    initial = {"year_registered": reg.year_registered, "main_cause": reg.main_cause} if reg else {}
    form = PovertyRegisterForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.poverty_register(
                    household=household,
                    actor=request.user,
                    year_exited=reg.year_exited if reg else None,
                    **form.cleaned_data,
                )
            except ApplicationError as exc:
                _form_error(form, exc, {k: k for k in form.fields})
            else:
                return redirect("registry:household", household_id=household.uuid)
        status = 400
    return render(
        request,
        "registry/poverty_form.html",
        {"form": form, "household": household, "registration": reg, "mode": "register"},
        status=status,
    )


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def poverty_exit_page(request: HttpRequest, household_id: uuid.UUID) -> HttpResponse:
    """Record the year a registered household exited poverty (脱贫)."""
    household = _household_or_404(request, household_id)
    reg = getattr(household, "poverty_registration", None)
    form = PovertyExitForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.poverty_exit(
                    household=household,
                    year_exited=form.cleaned_data["year_exited"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                _form_error(form, exc, {k: k for k in form.fields})
            else:
                return redirect("registry:household", household_id=household.uuid)
        status = 400
    return render(
        request,
        "registry/poverty_form.html",
        {"form": form, "household": household, "registration": reg, "mode": "exit"},
        status=status,
    )


def _consents_fragment(
    request: HttpRequest, person: Person, form: Any = None, status: int = 200, error: str = ""
) -> HttpResponse:
    return render(
        request,
        "registry/_consents.html",
        {
            "m": person,
            "consent_error": error,
            "consents": list(selectors.consent_list(person=person)),
            "consent_form": form or ConsentGrantForm(auto_id=f"id_%s_{person.uuid}"),
            "can_edit": True,
        },
        status=status,
    )


@login_required
@require_perm(Perm.EDIT_REGISTRY)
def consent_grant_page(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Record a member's consent (htmx: answers with the member's consent block)."""
    person = _person_or_404(request, person_id)
    form = ConsentGrantForm(request.POST or None, auto_id=f"id_%s_{person.uuid}")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.consent_grant(person=person, actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                _form_error(form, exc, {k: k for k in form.fields})
            else:
                if request.headers.get("HX-Request"):
                    return _consents_fragment(request, person)
                return redirect("registry:household", household_id=person.household.uuid)
        status = 400
        if request.headers.get("HX-Request"):
            return _consents_fragment(request, person, form, status=status)
    return render(
        request,
        "registry/consent_form.html",
        {
            "m": person,
            "household": person.household,
            "consents": list(selectors.consent_list(person=person)),
            "consent_form": form,
            "can_edit": True,
        },
        status=status,
    )


@login_required
@require_perm(Perm.EDIT_REGISTRY)
@require_POST
def consent_withdraw_page(request: HttpRequest, consent_id: int) -> HttpResponse:
    """Record that a consent was withdrawn (now); htmx answers with the consent block."""
    try:
        consent = selectors.consent_get(scope=scope_for_user(request.user), consent_id=consent_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    person = consent.person
    try:
        services.consent_withdraw(consent=consent, actor=request.user)
    except ApplicationError as exc:
        if request.headers.get("HX-Request"):
            return _consents_fragment(request, person, status=400, error=exc.message)
        messages.error(request, exc.message)
    if request.headers.get("HX-Request"):
        return _consents_fragment(request, person)
    return redirect("registry:household", household_id=person.household.uuid)
