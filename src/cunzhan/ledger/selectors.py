"""Reads of the ledger, each within a region scope.

Who sees what: a county's people see its accounts (``scope.q`` on the account's
county); a station operator (a scope narrowed to stations) sees only the accounts of
their stations; nothing else. Buyers' labels are masked (personal data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import (
    PAYABLE_KINDS,
    Account,
    AccountKind,
    BankDetails,
    Line,
    PayoutBatch,
    SettlementRule,
    Transaction,
    TransactionKind,
)
from cunzhan.logistics import fees as logistics_fees
from cunzhan.network.models import Level, Region, Station


def _station_scoped(scope: RegionScope) -> bool:
    return not scope.everything and scope.station_ids is not None


def account_scope_q(scope: RegionScope, prefix: str = "") -> Q:
    if scope.everything:
        return Q()
    if scope.station_ids is not None:
        return Q(**{f"{prefix}station_id__in": list(scope.station_ids)})
    return scope.q(f"{prefix}county_id")


def mask_label(account: Account) -> str:
    """A buyer's name shows its first character only."""
    if account.kind != AccountKind.BUYER:
        return account.label
    text = account.label or ""
    return (text[:1] + "*" * max(1, len(text) - 1)) if text else "*"


def county_get(*, scope: RegionScope, county_code: str) -> Region:
    """A county the caller's scope covers wholly (station operators have none)."""
    county = Region.objects.filter(code=county_code, level=Level.COUNTY).first()
    if county is None or not scope.contains_code(county.code) or _station_scoped(scope):
        raise NotFound()
    return county


def counties_visible(*, scope: RegionScope) -> QuerySet[Region]:
    """The counties whose ledger the caller sees as a whole."""
    if _station_scoped(scope):
        return Region.objects.none()
    return Region.objects.filter(scope.q("code"), level=Level.COUNTY).order_by("code")


def account_list(
    *, scope: RegionScope, county: str = "", kind: str = "", q: str = ""
) -> QuerySet[Account]:
    qs = Account.objects.filter(account_scope_q(scope)).select_related("station", "carrier")
    if county:
        qs = qs.filter(county_id=county)
    if kind:
        if kind not in AccountKind.values:
            raise ApplicationError(f"unknown account kind {kind!r}", code="invalid_filter")
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(label__icontains=q) | Q(owner_key=q))
    return qs.order_by("county_id", "kind", "key")


def account_get(*, scope: RegionScope, account_uuid: Any) -> Account:
    account = (
        Account.objects.filter(account_scope_q(scope), uuid=account_uuid)
        .select_related("station", "carrier", "county")
        .first()
    )
    if account is None:
        raise NotFound()
    return account


def station_account(*, scope: RegionScope, station_id: int) -> tuple[Station, Account | None]:
    """A station in scope (an operator: one of theirs) and its account (None until it
    has earned something)."""
    station = (
        Station.objects.filter(scope.q("region_id"), scope.station_q("pk"), pk=station_id)
        .select_related("region")
        .first()
    )
    if station is None:
        raise NotFound()
    account = (
        Account.objects.filter(kind=AccountKind.STATION, station=station)
        .select_related("station", "county")
        .first()
    )
    return station, account


def account_by_owner(*, scope: RegionScope, owner_key: str, county: str = "") -> Account:
    """A producer's (or cooperative's) account by the caller's owner key (in ``county``
    when given; a key with accounts in several counties needs it: ``ambiguous_owner``)."""
    qs = Account.objects.filter(
        account_scope_q(scope),
        owner_key=owner_key,
        kind__in=[AccountKind.PRODUCER, AccountKind.COOPERATIVE],
    ).select_related("county", "station")
    if county:
        qs = qs.filter(county_id=county)
    found = list(qs[:2])
    if not found:
        raise NotFound()
    if len(found) > 1:
        raise Unprocessable(
            _("该生产者在多个县有账户，请用 county 指明县"),
            code="ambiguous_owner",
        )
    return found[0]


def balances(*, scope: RegionScope, county: str) -> dict[str, int]:
    """Totals per account kind in a county: one grouped query."""
    rows = (
        Account.objects.filter(account_scope_q(scope), county_id=county)
        .values("kind")
        .annotate(total=Sum("balance_fen"))
        .order_by("kind")
    )
    return {r["kind"]: int(r["total"] or 0) for r in rows}


def owed_total(*, scope: RegionScope) -> int:
    """What the platform owes producers, cooperatives, stations and carriers in scope
    (their credit balances; one query)."""
    total = Account.objects.filter(
        account_scope_q(scope), kind__in=PAYABLE_KINDS, balance_fen__lt=0
    ).aggregate(s=Sum("balance_fen", default=0))["s"]
    return -int(total)


def balances_from_lines(*, county: str) -> dict[int, int]:
    """Every account's balance summed from its lines (one grouped query): the check
    of the cached ``balance_fen``."""
    rows = (
        Line.objects.filter(account__county_id=county)
        .values("account_id")
        .annotate(total=Sum("amount_fen"))
        .order_by()
    )
    return {r["account_id"]: int(r["total"]) for r in rows}


def settlement_rule_get(*, scope: RegionScope, county_code: str) -> SettlementRule:
    county = county_get(scope=scope, county_code=county_code)
    rule = SettlementRule.objects.filter(county=county).first()
    return rule if rule is not None else SettlementRule(county=county)


def transaction_list(
    *, scope: RegionScope, county: str = "", kind: str = ""
) -> QuerySet[Transaction]:
    if _station_scoped(scope):
        qs = Transaction.objects.filter(
            lines__account__station_id__in=list(scope.station_ids or ())
        ).distinct()
    else:
        qs = Transaction.objects.filter(scope.q("county_id"))
    if county:
        qs = qs.filter(county_id=county)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-occurred_at", "-id")


def payout_batch_list(*, scope: RegionScope, county: str = "") -> QuerySet[PayoutBatch]:
    if _station_scoped(scope):
        return PayoutBatch.objects.none()
    qs = PayoutBatch.objects.filter(scope.q("county_id"))
    if county:
        qs = qs.filter(county_id=county)
    return qs.order_by("-created_at", "-id")


def payout_batch_get(*, scope: RegionScope, batch_uuid: Any) -> PayoutBatch:
    batch = payout_batch_list(scope=scope).filter(uuid=batch_uuid).first()
    if batch is None:
        raise NotFound()
    return batch


@dataclass
class StatementLine:
    occurred_at: dt.datetime
    kind: str
    memo: str
    idempotency_key: str
    amount_fen: int  # debit +, credit -
    balance_fen: int  # running


@dataclass
class Statement:
    account: Account
    start: dt.datetime
    end: dt.datetime
    opening_fen: int
    closing_fen: int
    debits_fen: int = 0
    credits_fen: int = 0
    lines: list[StatementLine] = field(default_factory=list)


MAX_STATEMENT_DAYS = 400


def statement(
    *, account: Account, start: dt.datetime, end: dt.datetime, limit: int = 5000
) -> Statement:
    """Opening balance (sum before ``start``, one query), the lines in ``[start, end)``
    with a running balance, closing balance. At most ~13 months per statement."""
    if end <= start:
        raise Unprocessable(_("结束日期早于开始日期"), code="invalid_period")
    if (end - start).days > MAX_STATEMENT_DAYS:
        raise Unprocessable(
            _("一份对账单最多涵盖 %(n)s 天") % {"n": MAX_STATEMENT_DAYS},
            code="invalid_period",
            details={"max_days": MAX_STATEMENT_DAYS},
        )
    opening = int(
        Line.objects.filter(account=account, occurred_at__lt=start).aggregate(
            s=Sum("amount_fen", default=0)
        )["s"]
    )
    rows = (
        Line.objects.filter(account=account, occurred_at__gte=start, occurred_at__lt=end)
        .select_related("transaction")
        .order_by("occurred_at", "id")[:limit]
    )
    st = Statement(account=account, start=start, end=end, opening_fen=opening, closing_fen=opening)
    running = opening
    for ln in rows:
        running += ln.amount_fen
        if ln.amount_fen > 0:
            st.debits_fen += ln.amount_fen
        else:
            st.credits_fen -= ln.amount_fen
        st.lines.append(
            StatementLine(
                occurred_at=ln.occurred_at,
                kind=ln.transaction.kind,
                memo=ln.transaction.memo,
                idempotency_key=ln.transaction.idempotency_key,
                amount_fen=ln.amount_fen,
                balance_fen=running,
            )
        )
    st.closing_fen = int(
        Line.objects.filter(account=account, occurred_at__lt=end).aggregate(
            s=Sum("amount_fen", default=0)
        )["s"]
    )
    return st


def counties_with_stations() -> list[str]:
    """The codes of the counties that have stations (the daily fee sweep's counties)."""
    regions = Station.objects.values_list("region_id", flat=True).distinct().order_by()
    return sorted({code[:6] for code in regions})


@dataclass
class StationFeePosition:
    """A station's fees over all time: ``pending`` recorded and owed but not yet in the
    ledger (the next daily sweep posts them), ``posted`` booked in the ledger (the sum
    of the station account's station-fee postings)."""

    pending_count: int
    pending_fen: int
    posted_count: int
    posted_fen: int

    @property
    def total_fen(self) -> int:
        return self.pending_fen + self.posted_fen


def station_fee_position(*, scope: RegionScope, station: Station) -> StationFeePosition:
    """The one reading of a station's fees that its earnings page and its statement
    both show: pending from logistics' fee records, posted from the ledger."""
    if not scope.contains_code(station.region_id) or (
        _station_scoped(scope) and station.pk not in (scope.station_ids or ())
    ):
        raise NotFound()
    fees = logistics_fees.fee_position(scope=scope, station_id=station.pk)
    posted = Line.objects.filter(
        account__kind=AccountKind.STATION,
        account__station=station,
        transaction__kind=TransactionKind.STATION_FEES,
    ).aggregate(s=Sum("amount_fen", default=0))["s"]
    return StationFeePosition(
        pending_count=fees["pending_count"],
        pending_fen=fees["pending_fen"],
        posted_count=fees["posted_count"],
        posted_fen=-int(posted or 0),
    )


def bank_details_of(*, scope: RegionScope, account: Account) -> list[BankDetails]:
    """An account's bank details, newest first (the confirmed and pending ones and their
    history); only for people who see the account's county as a whole."""
    if _station_scoped(scope) or not scope.contains_code(account.county_id):
        return []
    return list(
        BankDetails.objects.filter(account=account).select_related("entered_by", "decided_by")[:20]
    )


def bank_details_get(*, scope: RegionScope, details_uuid: Any) -> BankDetails:
    d = (
        BankDetails.objects.filter(uuid=details_uuid)
        .select_related("account", "account__county")
        .first()
    )
    if d is None or _station_scoped(scope) or not scope.contains_code(d.account.county_id):
        raise NotFound()
    return d
