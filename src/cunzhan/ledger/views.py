"""Ledger pages: a county's ledger home (accounts with balances, settlement rules,
payout batches, recent transactions, booking the station fees), an account's printable
statement, a station's statement, a payout batch with its bank file. Thin: the rules
live in ``services.py``, ``payouts.py`` and ``selectors.py``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.errors import PermissionDenied as CorePermissionDenied
from cunzhan.core.money import format_fen
from cunzhan.core.scope import RegionScope
from cunzhan.core.views import require_perm
from cunzhan.ledger import bank_details, bankfile, payouts, selectors, services
from cunzhan.ledger.api import period
from cunzhan.ledger.models import (
    BANKABLE_KINDS,
    Account,
    AccountKind,
    BankDetailsStatus,
    PayoutStatus,
)

ACCOUNT_ROWS = 300
RECENT_TRANSACTIONS = 30


def _call(fn: Callable[[], Any]) -> Any:
    """Run a service or selector for a page: scope misses are 404, permissions 403."""
    try:
        return fn()
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except CorePermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc


def _can(request: HttpRequest, perm: str) -> bool:
    return bool(request.user.can(perm))  # type: ignore[union-attr]


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The counties whose ledger the user sees (one: straight to it); a station
    operator goes to their station's statement."""
    scope = scope_for_user(request.user)
    if not scope.everything and scope.station_ids:
        return redirect("ledger:station", station_id=scope.station_ids[0])
    counties = list(selectors.counties_visible(scope=scope)[:500])
    if len(counties) == 1:
        return redirect("ledger:county", county_code=counties[0].code)
    return render(request, "ledger/home.html", {"counties": counties})


def _account_rows(accounts: list[Account]) -> list[dict[str, Any]]:
    return [
        {
            "account": a,
            "label": selectors.mask_label(a),
            "balance": format_fen(a.balance_fen),
            "owed": format_fen(a.owed_fen) if a.owed_fen else "",
        }
        for a in accounts
    ]


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def county(request: HttpRequest, county_code: str) -> HttpResponse:
    scope = scope_for_user(request.user)
    region = _call(lambda: selectors.county_get(scope=scope, county_code=county_code))
    kind = request.GET.get("kind", "")[:20]
    if kind not in AccountKind.values:
        kind = ""
    accounts = selectors.account_list(scope=scope, county=region.code, kind=kind)
    rule = selectors.settlement_rule_get(scope=scope, county_code=region.code)
    batches = list(
        selectors.payout_batch_list(scope=scope, county=region.code).annotate(n=Count("lines"))[:20]
    )
    transactions = list(
        selectors.transaction_list(scope=scope, county=region.code)[:RECENT_TRANSACTIONS]
    )
    totals = selectors.balances(scope=scope, county=region.code)
    owed_total = sum(
        a.owed_fen
        for a in accounts.filter(kind__in=["producer", "cooperative", "station", "carrier"])
    )
    return render(
        request,
        "ledger/county.html",
        {
            "county": region,
            "rows": _account_rows(list(accounts[:ACCOUNT_ROWS])),
            "account_count": accounts.count(),
            "kinds": AccountKind.choices,
            "kind": kind,
            "rule": rule,
            "rule_pct": {
                "platform": rule.platform_fee_bp / 100,
                "station": rule.station_commission_bp / 100,
                "assisted": rule.assisted_commission_bp / 100,
            },
            "batches": [(b, format_fen(b.total_fen)) for b in batches],
            "transactions": [(t, format_fen(t.gross_fen)) for t in transactions],
            "totals": [(AccountKind(k).label, format_fen(v)) for k, v in totals.items()],
            "owed_total": format_fen(owed_total),
            "can_rules": _can(request, Perm.EDIT_SETTLEMENT_RULES),
            "can_pay": _can(request, Perm.MANAGE_PAYOUTS),
        },
    )


@login_required
@require_perm(Perm.EDIT_SETTLEMENT_RULES)
@require_POST
def rules(request: HttpRequest, county_code: str) -> HttpResponse:
    scope = scope_for_user(request.user)
    region = _call(lambda: selectors.county_get(scope=scope, county_code=county_code))
    values = {
        name: request.POST.get(name, "").strip()
        for name in services.RULE_FIELDS
        if request.POST.get(name, "").strip() != ""
    }
    try:
        services.settlement_rules_update(county=region, actor=request.user, **values)
    except ApplicationError as exc:
        messages.error(request, _("结算规则未保存：%(e)s") % {"e": exc.message})
        return redirect("ledger:county", county_code=region.code)
    messages.success(request, _("结算规则已保存"))
    return redirect("ledger:county", county_code=region.code)


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_POST
def fees_post(request: HttpRequest, county_code: str) -> HttpResponse:
    scope = scope_for_user(request.user)
    region = _call(lambda: selectors.county_get(scope=scope, county_code=county_code))
    result = services.station_fees_post(county=region, actor=request.user)
    messages.success(
        request,
        _("已入账 %(n)s 笔服务费，共 %(fen)s") % {"n": result.fees, "fen": format_fen(result.fen)},
    )
    return redirect("ledger:county", county_code=region.code)


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_POST
def payout_create(request: HttpRequest, county_code: str) -> HttpResponse:
    scope = scope_for_user(request.user)
    region = _call(lambda: selectors.county_get(scope=scope, county_code=county_code))
    try:
        batch = payouts.payout_batch_create(
            scope=scope, county=region, actor=request.user, note=request.POST.get("note", "")
        )
    except ApplicationError as exc:
        messages.error(request, _("未生成付款批次：%(e)s") % {"e": exc.message})
        return redirect("ledger:county", county_code=region.code)
    messages.success(request, _("付款批次已生成"))
    return redirect("ledger:payout", payout_id=batch.uuid)


def _bank_context(request: HttpRequest, account: Account | None) -> dict[str, Any]:
    """The bank details block of an account's page (county people only)."""
    if account is None or account.kind not in BANKABLE_KINDS:
        return {}
    scope = scope_for_user(request.user)
    rows = selectors.bank_details_of(scope=scope, account=account)
    if not rows and not _can(request, Perm.MANAGE_PAYOUTS):
        return {}
    return {
        "bank": {
            "rows": rows,
            "confirmed": next((d for d in rows if d.status == BankDetailsStatus.CONFIRMED), None),
            "pending": next((d for d in rows if d.status == BankDetailsStatus.PENDING), None),
            "can_edit": _can(request, Perm.MANAGE_PAYOUTS)
            and not (not scope.everything and scope.station_ids is not None),
        }
    }


def _statement_page(
    request: HttpRequest, account: Account | None, title: str, station: Any = None
) -> HttpResponse:
    start, end = request.GET.get("start", "")[:10], request.GET.get("end", "")[:10]
    fees = None
    if station is not None:
        scope = scope_for_user(request.user)
        fees = _call(lambda: selectors.station_fee_position(scope=scope, station=station))
    try:
        try:
            d0 = dt.date.fromisoformat(start) if start else None
            d1 = dt.date.fromisoformat(end) if end else None
        except ValueError as exc:
            raise ApplicationError(
                _("开始、结束日期的格式为 YYYY-MM-DD"), code="invalid_period"
            ) from exc
        t0, t1 = period(d0, d1)
        st = selectors.statement(account=account, start=t0, end=t1) if account else None
    except ApplicationError as exc:
        return render(
            request, "ledger/statement.html", {"error": exc.message, "title": title}, status=400
        )
    return render(
        request,
        "ledger/statement.html",
        {
            "title": title,
            "account": account,
            "label": selectors.mask_label(account) if account else "",
            "station": station,
            **_bank_context(request, account),
            "fees": fees,
            "fees_pending": format_fen(fees.pending_fen) if fees else "",
            "fees_posted": format_fen(fees.posted_fen) if fees else "",
            "statement": st,
            "start": t0.date(),
            "end": (t1 - dt.timedelta(days=1)).date(),
            "lines": [
                (ln, format_fen(ln.amount_fen), format_fen(ln.balance_fen)) for ln in st.lines
            ]
            if st
            else [],
            "opening": format_fen(st.opening_fen if st else 0),
            "closing": format_fen(st.closing_fen if st else 0),
            "debits": format_fen(st.debits_fen if st else 0),
            "credits": format_fen(st.credits_fen if st else 0),
        },
    )


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def account(request: HttpRequest, account_id: uuid.UUID) -> HttpResponse:
    scope = scope_for_user(request.user)
    acct = _call(lambda: selectors.account_get(scope=scope, account_uuid=account_id))
    return _statement_page(request, acct, _("对账单"), station=acct.station)


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def producer(request: HttpRequest, owner_key: str) -> HttpResponse:
    """A producer's statement by owner key (the link commerce's pages give)."""
    scope = scope_for_user(request.user)
    try:
        acct = _call(
            lambda: selectors.account_by_owner(
                scope=scope, owner_key=owner_key[:120], county=request.GET.get("county", "")[:12]
            )
        )
    except ApplicationError as exc:
        return render(
            request,
            "ledger/statement.html",
            {"error": exc.message, "title": _("对账单")},
            status=400,
        )
    return _statement_page(request, acct, _("对账单"))


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def station(request: HttpRequest, station_id: int) -> HttpResponse:
    scope = scope_for_user(request.user)
    st, acct = _call(lambda: selectors.station_account(scope=scope, station_id=station_id))
    return _statement_page(request, acct, _("服务站对账单"), station=st)


@login_required
@require_perm(Perm.VIEW_LEDGER)
@require_GET
def payout(request: HttpRequest, payout_id: uuid.UUID) -> HttpResponse:
    scope = scope_for_user(request.user)
    batch = _call(lambda: selectors.payout_batch_get(scope=scope, batch_uuid=payout_id))
    lines = [
        (ln, selectors.mask_label(ln.account), format_fen(ln.amount_fen))
        for ln in batch.lines.select_related("account__station")
    ]
    return render(
        request,
        "ledger/payout.html",
        {
            "batch": batch,
            "total": format_fen(batch.total_fen),
            "lines": lines,
            "can_pay": _can(request, Perm.MANAGE_PAYOUTS),
            "open": batch.status == PayoutStatus.EXPORTED,
            "held": [{**h, "owed": format_fen(h["owed_fen"])} for h in batch.held or []],
        },
    )


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_GET
def payout_csv(request: HttpRequest, payout_id: uuid.UUID) -> HttpResponse:
    scope = scope_for_user(request.user)
    batch = _call(lambda: selectors.payout_batch_get(scope=scope, batch_uuid=payout_id))
    response = HttpResponse(payouts.payout_batch_csv(batch=batch), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.uuid}.csv"'
    return response


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_GET
def payout_file(request: HttpRequest, payout_id: uuid.UUID) -> HttpResponse:
    """The bank file to pay from (ISO 20022 pain.001.001.03)."""
    scope = scope_for_user(request.user)
    batch = _call(lambda: selectors.payout_batch_get(scope=scope, batch_uuid=payout_id))
    try:
        body = bankfile.payout_batch_pain001(batch=batch)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("ledger:payout", kwargs={"payout_id": batch.uuid}))
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.uuid}.xml"'
    return response


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_POST
def bank_submit(request: HttpRequest, account_id: uuid.UUID) -> HttpResponse:
    """Enter an account's bank details (pending until another person confirms)."""
    scope = scope_for_user(request.user)
    acct = _call(lambda: selectors.account_get(scope=scope, account_uuid=account_id))
    try:
        _call(
            lambda: bank_details.bank_details_submit(
                scope=scope,
                account=acct,
                holder_name=request.POST.get("holder_name", "")[:200],
                bank_name=request.POST.get("bank_name", "")[:200],
                account_number=request.POST.get("account_number", "")[:64],
                actor=request.user,
            )
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("银行账户已录入，须由另一人复核后生效"))
    return redirect("ledger:account", account_id=acct.uuid)


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_POST
def bank_decide(request: HttpRequest, details_id: uuid.UUID) -> HttpResponse:
    """Confirm or reject pending bank details (someone other than who entered them)."""
    scope = scope_for_user(request.user)
    d = _call(lambda: selectors.bank_details_get(scope=scope, details_uuid=details_id))
    approve = request.POST.get("decision", "") == "confirm"
    try:
        _call(
            lambda: bank_details.bank_details_confirm(
                scope=scope,
                details=d,
                actor=request.user,
                approve=approve,
                note=request.POST.get("note", "")[:300],
            )
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("银行账户已确认") if approve else _("银行账户已驳回"))
    return redirect("ledger:account", account_id=d.account.uuid)


@login_required
@require_perm(Perm.MANAGE_PAYOUTS)
@require_POST
def payout_mark(request: HttpRequest, payout_id: uuid.UUID) -> HttpResponse:
    scope = scope_for_user(request.user)
    batch = _call(lambda: selectors.payout_batch_get(scope=scope, batch_uuid=payout_id))
    try:
        payouts.payout_batch_mark(
            scope=scope,
            batch=batch,
            status=request.POST.get("status", "")[:10],
            actor=request.user,
            note=request.POST.get("note", "")[:300],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("ledger:payout", kwargs={"payout_id": batch.uuid}))
    messages.success(request, _("付款批次状态已更新"))
    return redirect(reverse("ledger:payout", kwargs={"payout_id": batch.uuid}))


@register_panel(order=40)
def ledger_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """On the home page: what the platform owes in the user's ledger scope (a station
    operator: their stations), and the way to the ledger."""
    if not user.can(Perm.VIEW_LEDGER):
        return None
    owed = selectors.owed_total(scope=scope)
    return {
        "title": _("账本"),
        "stats": [{"label": _("应付生产者与服务站"), "value": format_fen(owed)}],
        "links": [{"url": reverse("ledger:home"), "label": _("查看账本")}],
    }
