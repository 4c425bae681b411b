"""The ledger API under /api/v1/ledger (docs/adr/0013-double-entry-ledger.md): accounts
with balances, statements, transactions, a county's settlement rules, booking the
station fees, payout batches and their bank file. Outside the caller's scope: 404.
Postings of sales come from the commerce domain through the services, not from here.

No ``from __future__ import annotations`` here: ninja resolves the annotations of a
``@paginate`` view in the pagination module, where this module's names are not defined."""

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require
from cunzhan.core.errors import NotFound, Unprocessable
from cunzhan.ledger import bank_details, bankfile, payouts, selectors, services
from cunzhan.ledger.models import (
    PAYABLE_KINDS,
    Account,
    AccountKind,
    BankDetails,
    PayoutBatch,
    SettlementRule,
    Transaction,
    TransactionKind,
)
from cunzhan.network.models import Station

router = Router(tags=["ledger"])
CHINA = ZoneInfo("Asia/Shanghai")

# Rules about one value are published in the schema (ADR 0032): the enums are the
# models' choices, the bounds the services' checks.
if TYPE_CHECKING:
    AccountKindName = str
    PayableKindName = str
    TransactionKindName = str
    PayoutMark = str
else:
    AccountKindName = Literal[tuple(AccountKind.values)]
    PayableKindName = Literal[tuple(sorted(PAYABLE_KINDS))]
    TransactionKindName = Literal[tuple(TransactionKind.values)]
    PayoutMark = Literal["paid", "failed"]

COUNTY_CODE = r"^[0-9]{6}$"
# the dates a statement can cover: the platform books nothing before 2000, and a China
# time before 1901 would carry a local mean time offset (+08:05:43)
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
StatementDay = Annotated[
    dt.date | None,
    Query(None, description=f"YYYY-MM-DD, China time, inclusive; {FIRST_DAY} to {LAST_DAY}"),
]
# a positive number of fen (services.amount_check)
Fen = Annotated[int, Field(ge=1, le=services.MAX_AMOUNT_FEN)]
# basis points 0..10000 (services.settlement_rules_update)
BasisPoints = Annotated[int, Field(ge=0, le=10_000)]
# a bank account number: 8 to 32 digits, spaces or dashes between them allowed
BANK_NUMBER = r"^[ -]*([0-9][ -]*){8,32}$"
NOT_BLANK = r"\S"


class AccountOut(Schema):
    id: uuid.UUID
    kind: str
    county_code: str
    owner_key: str
    label: str
    station_id: int | None
    station_code: str
    carrier: str
    currency: str
    balance_fen: int
    owed_fen: int


class LedgerLineOut(Schema):
    """One line of a ledger transaction (named apart from commerce's order ``LineOut``:
    two classes of one name become one OpenAPI component)."""

    account_id: uuid.UUID
    account_label: str
    account_kind: str
    amount_fen: int


class TransactionOut(Schema):
    id: uuid.UUID
    county_code: str
    kind: str
    memo: str
    idempotency_key: str
    currency: str
    gross_fen: int
    occurred_at: dt.datetime
    lines: list[LedgerLineOut]


class StatementLineOut(Schema):
    occurred_at: dt.datetime
    kind: str
    memo: str
    idempotency_key: str
    amount_fen: int
    balance_fen: int


class StatementOut(Schema):
    account: AccountOut | None
    station_code: str
    station_name: str
    start: dt.datetime
    end: dt.datetime
    opening_fen: int
    debits_fen: int
    credits_fen: int
    closing_fen: int
    lines: list[StatementLineOut]


class RulesOut(Schema):
    county_code: str
    county_name: str
    platform_fee_bp: int
    station_commission_bp: int
    assisted_commission_bp: int
    saved: bool


class RulesIn(Schema):
    """Platform fee + station commission at most 10000 (with the saved values)."""

    platform_fee_bp: BasisPoints | None = None
    station_commission_bp: BasisPoints | None = None
    assisted_commission_bp: BasisPoints | None = None


class FeePostOut(Schema):
    fees: int
    fen: int
    transactions: int


class PayoutLineOut(Schema):
    account: AccountOut
    amount_fen: int


class HeldOut(Schema):
    """A payee owed money that the batch did not pay, and why (``no_bank_details``)."""

    account: str
    label: str
    kind: str
    owed_fen: int
    reason: str
    message: str


class PayoutOut(Schema):
    id: uuid.UUID
    county_code: str
    status: str
    total_fen: int
    line_count: int
    note: str
    created_at: dt.datetime
    lines: list[PayoutLineOut]
    held: list[HeldOut]


class BankDetailsIn(Schema):
    holder_name: str = Field(..., min_length=1, max_length=120, pattern=NOT_BLANK)
    bank_name: str = Field(..., min_length=1, max_length=120, pattern=NOT_BLANK)
    account_number: str = Field(..., max_length=64, pattern=BANK_NUMBER)


class BankDecisionIn(Schema):
    approve: bool = True
    note: str = Field("", max_length=300)


class BankDetailsOut(Schema):
    id: uuid.UUID
    account_id: uuid.UUID
    holder_name: str
    bank_name: str
    account_number_masked: str
    status: str
    entered_by: str
    decided_by: str
    decided_at: dt.datetime | None
    created_at: dt.datetime


def bank_details_out(d: BankDetails) -> dict[str, Any]:
    return {
        "id": d.uuid,
        "account_id": d.account.uuid,
        "holder_name": d.holder_name,
        "bank_name": d.bank_name,
        "account_number_masked": d.masked_number,
        "status": d.status,
        "entered_by": d.entered_by.username if d.entered_by else "",
        "decided_by": d.decided_by.username if d.decided_by else "",
        "decided_at": d.decided_at,
        "created_at": d.created_at,
    }


class PayoutIn(Schema):
    county_code: str = Field(..., pattern=COUNTY_CODE)
    amounts: dict[uuid.UUID, Fen] | None = Field(
        None, max_length=5000, description="account id -> fen, each at most what is owed"
    )
    kinds: list[PayableKindName] | None = Field(None, max_length=len(PAYABLE_KINDS))
    note: str = Field("", max_length=300)


class PayoutMarkIn(Schema):
    status: PayoutMark
    note: str = Field("", max_length=300)


def account_out(a: Account) -> dict[str, Any]:
    return {
        "id": a.uuid,
        "kind": a.kind,
        "county_code": a.county_id,
        "owner_key": a.owner_key,
        "label": selectors.mask_label(a),
        "station_id": a.station_id,
        "station_code": a.station.code if a.station_id and a.station else "",
        "carrier": a.carrier.code if a.carrier_id and a.carrier else "",
        "currency": a.currency,
        "balance_fen": a.balance_fen,
        "owed_fen": a.owed_fen,
    }


def transaction_out(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.uuid,
        "county_code": t.county_id,
        "kind": t.kind,
        "memo": t.memo,
        "idempotency_key": t.idempotency_key,
        "currency": t.currency,
        "gross_fen": t.gross_fen,
        "occurred_at": t.occurred_at,
        "lines": [
            {
                "account_id": ln.account.uuid,
                "account_label": selectors.mask_label(ln.account),
                "account_kind": ln.account.kind,
                "amount_fen": ln.amount_fen,
            }
            for ln in t.lines.all()
        ],
    }


def rules_out(rule: SettlementRule) -> dict[str, Any]:
    return {
        "county_code": rule.county.code,
        "county_name": rule.county.name,
        "platform_fee_bp": rule.platform_fee_bp,
        "station_commission_bp": rule.station_commission_bp,
        "assisted_commission_bp": rule.assisted_commission_bp,
        "saved": not rule._state.adding,
    }


def payout_out(b: PayoutBatch) -> dict[str, Any]:
    return {
        "id": b.uuid,
        "county_code": b.county_id,
        "status": b.status,
        "total_fen": b.total_fen,
        "line_count": b.line_count,
        "note": b.note,
        "created_at": b.created_at,
        "lines": [
            {"account": account_out(ln.account), "amount_fen": ln.amount_fen}
            for ln in b.lines.select_related("account__station", "account__carrier")
        ],
        "held": [
            {k: h.get(k, "") for k in ("account", "label", "kind", "reason", "message")}
            | {"owed_fen": int(h.get("owed_fen", 0))}
            for h in b.held or []
        ],
    }


def period(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
    """``start``/``end`` dates (China time, end inclusive); default: this month so far.
    Each within FIRST_DAY..LAST_DAY, the start not after the end (422 otherwise)."""
    today = dt.datetime.now(CHINA).date()
    d0 = start or today.replace(day=1)
    d1 = end or today
    for name, day in (("start", d0), ("end", d1)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Unprocessable(
                _("%(f)s：日期须在 %(a)s 至 %(b)s 之间")
                % {"f": name, "a": FIRST_DAY.isoformat(), "b": LAST_DAY.isoformat()},
                code="invalid_period",
                details={"field": name},
            )
    if d1 < d0:
        raise Unprocessable(
            _("结束日期 %(e)s 早于开始日期 %(s)s") % {"e": d1.isoformat(), "s": d0.isoformat()},
            code="invalid_period",
            details={"field": "end"},
        )
    t0 = dt.datetime.combine(d0, dt.time(0), tzinfo=CHINA)
    t1 = dt.datetime.combine(d1 + dt.timedelta(days=1), dt.time(0), tzinfo=CHINA)
    return t0, t1


def statement_out(
    account: Account | None, station: Station | None, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    if account is None:  # a station that has earned nothing yet
        return {
            "account": None,
            "station_code": station.code if station else "",
            "station_name": station.name if station else "",
            "start": start,
            "end": end,
            "opening_fen": 0,
            "debits_fen": 0,
            "credits_fen": 0,
            "closing_fen": 0,
            "lines": [],
        }
    st = selectors.statement(account=account, start=start, end=end)
    return {
        "account": account_out(account),
        "station_code": account.station.code if account.station_id and account.station else "",
        "station_name": account.station.name if account.station_id and account.station else "",
        "start": start,
        "end": end,
        "opening_fen": st.opening_fen,
        "debits_fen": st.debits_fen,
        "credits_fen": st.credits_fen,
        "closing_fen": st.closing_fen,
        "lines": [vars(ln) for ln in st.lines],
    }


@router.get("/accounts", response={200: list[AccountOut], **ERROR_RESPONSES})
@paginate(Pagination)
def account_list(
    request: HttpRequest,
    county: str = "",
    kind: AccountKindName | None = None,
    q: str = "",
):
    """Accounts with their balances (debit +, credit −; ``owed_fen`` is what the
    platform owes the party). ``q``: part of the label, or an exact owner key."""
    user = require(request, Perm.VIEW_LEDGER)
    return [
        account_out(a)
        for a in selectors.account_list(
            scope=scope_for_user(user), county=county[:12], kind=kind or "", q=q[:120]
        )[:5000]
    ]


@router.get("/accounts/{account_id}", response={200: AccountOut, **ERROR_RESPONSES})
def account_get(request: HttpRequest, account_id: uuid.UUID):
    user = require(request, Perm.VIEW_LEDGER)
    return account_out(selectors.account_get(scope=scope_for_user(user), account_uuid=account_id))


@router.get(
    "/accounts/{account_id}/bank-details", response={200: list[BankDetailsOut], **ERROR_RESPONSES}
)
def account_bank_details(request: HttpRequest, account_id: uuid.UUID):
    """The account's bank details, newest first (masked number): the confirmed ones in
    force, a pending change, and their history. County people only."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    scope = scope_for_user(user)
    account = selectors.account_get(scope=scope, account_uuid=account_id)
    return [bank_details_out(d) for d in selectors.bank_details_of(scope=scope, account=account)]


@router.post(
    "/accounts/{account_id}/bank-details", response={201: BankDetailsOut, **ERROR_RESPONSES}
)
def account_bank_details_submit(
    request: HttpRequest, account_id: uuid.UUID, payload: BankDetailsIn
):
    """Enter new bank details: pending until ANOTHER county payout person confirms them."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    scope = scope_for_user(user)
    account = selectors.account_get(scope=scope, account_uuid=account_id)
    d = bank_details.bank_details_submit(
        scope=scope,
        account=account,
        holder_name=payload.holder_name,
        bank_name=payload.bank_name,
        account_number=payload.account_number,
        actor=user,
    )
    return Status(201, bank_details_out(d))


@router.post("/bank-details/{details_id}/decide", response={200: BankDetailsOut, **ERROR_RESPONSES})
def bank_details_decide(request: HttpRequest, details_id: uuid.UUID, payload: BankDecisionIn):
    """Confirm (``approve``) or reject pending bank details; not by who entered them
    (``same_person``)."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    scope = scope_for_user(user)
    d = selectors.bank_details_get(scope=scope, details_uuid=details_id)
    d = bank_details.bank_details_confirm(
        scope=scope, details=d, actor=user, approve=payload.approve, note=payload.note
    )
    return bank_details_out(d)


@router.get("/accounts/{account_id}/statement", response={200: StatementOut, **ERROR_RESPONSES})
def account_statement(
    request: HttpRequest,
    account_id: uuid.UUID,
    start: StatementDay = None,
    end: StatementDay = None,
):
    """Opening balance, the lines of the period with a running balance, closing
    balance (``start``/``end`` YYYY-MM-DD, China time, inclusive)."""
    user = require(request, Perm.VIEW_LEDGER)
    account = selectors.account_get(scope=scope_for_user(user), account_uuid=account_id)
    t0, t1 = period(start, end)
    return statement_out(account, None, t0, t1)


@router.get("/producers/{owner_key}/statement", response={200: StatementOut, **ERROR_RESPONSES})
def producer_statement(
    request: HttpRequest,
    owner_key: str,
    county: str = "",
    start: StatementDay = None,
    end: StatementDay = None,
):
    """A producer's or cooperative's statement by the owner key commerce gave the
    ledger (``producer:<uuid>``); ``county`` when it sells in several."""
    user = require(request, Perm.VIEW_LEDGER)
    account = selectors.account_by_owner(
        scope=scope_for_user(user), owner_key=owner_key[:120], county=county[:12]
    )
    t0, t1 = period(start, end)
    return statement_out(account, None, t0, t1)


@router.get("/stations/{station_id}/statement", response={200: StatementOut, **ERROR_RESPONSES})
def station_statement(
    request: HttpRequest, station_id: int, start: StatementDay = None, end: StatementDay = None
):
    """A station's statement (its operator sees only their own stations)."""
    user = require(request, Perm.VIEW_LEDGER)
    scope = scope_for_user(user)
    station, account = selectors.station_account(scope=scope, station_id=station_id)
    t0, t1 = period(start, end)
    return statement_out(account, station, t0, t1)


@router.get("/transactions", response={200: list[TransactionOut], **ERROR_RESPONSES})
@paginate(Pagination)
def transaction_list(
    request: HttpRequest, county: str = "", kind: TransactionKindName | None = None
):
    user = require(request, Perm.VIEW_LEDGER)
    qs = selectors.transaction_list(
        scope=scope_for_user(user), county=county[:12], kind=kind or ""
    ).prefetch_related("lines__account")
    return [transaction_out(t) for t in qs[:2000]]


@router.get("/rules/{county_code}", response={200: RulesOut, **ERROR_RESPONSES})
def rules_get(request: HttpRequest, county_code: str):
    """The county's settlement rules in basis points (defaults until saved)."""
    user = require(request, Perm.VIEW_LEDGER)
    return rules_out(
        selectors.settlement_rule_get(scope=scope_for_user(user), county_code=county_code[:12])
    )


@router.put("/rules/{county_code}", response={200: RulesOut, **ERROR_RESPONSES})
def rules_put(request: HttpRequest, county_code: str, payload: RulesIn):
    """Change some rules (0..10000 bp; platform fee + station commission ≤ 10000):
    the county's manager or a network admin; audited."""
    user = require(request, Perm.EDIT_SETTLEMENT_RULES)
    county = selectors.county_get(scope=scope_for_user(user), county_code=county_code[:12])
    values = {k: v for k, v in payload.dict().items() if v is not None}
    return rules_out(services.settlement_rules_update(county=county, actor=user, **values))


@router.post("/fees/{county_code}/post", response={200: FeePostOut, **ERROR_RESPONSES})
def fees_post(request: HttpRequest, county_code: str):
    """Book every owed station fee of the county (logistics' parcel and shipment fees)
    into the ledger, once: the network owes the station."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    county = selectors.county_get(scope=scope_for_user(user), county_code=county_code[:12])
    return vars(services.station_fees_post(county=county, actor=user))


@router.get("/payouts", response={200: list[PayoutOut], **ERROR_RESPONSES})
@paginate(Pagination)
def payout_list(request: HttpRequest, county: str = ""):
    user = require(request, Perm.VIEW_LEDGER)
    return [
        payout_out(b)
        for b in selectors.payout_batch_list(scope=scope_for_user(user), county=county[:12])[:500]
    ]


@router.post("/payouts", response={201: PayoutOut, **ERROR_RESPONSES})
def payout_create(request: HttpRequest, payload: PayoutIn):
    """A payout batch: everything owed in the county (or ``amounts``: account id → fen,
    each at most what is owed). The amounts leave the payees' accounts at once, so no
    other batch can pay them again."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    scope = scope_for_user(user)
    try:
        county = selectors.county_get(scope=scope, county_code=payload.county_code)
    except NotFound as exc:
        # a county in the body that names nothing the caller may pay from: 422 (a 404 is
        # for the path), the same for unknown and out-of-scope codes
        raise Unprocessable(
            _("县代码“%(c)s”不存在或不在您的管辖范围内") % {"c": payload.county_code},
            code="unknown_county",
            details={"field": "county_code"},
        ) from exc
    batch = payouts.payout_batch_create(
        scope=scope,
        county=county,
        actor=user,
        amounts={str(k): v for k, v in payload.amounts.items()} if payload.amounts else None,
        kinds=payload.kinds,
        note=payload.note,
    )
    return Status(201, payout_out(batch))


@router.get("/payouts/{payout_id}", response={200: PayoutOut, **ERROR_RESPONSES})
def payout_get(request: HttpRequest, payout_id: uuid.UUID):
    user = require(request, Perm.VIEW_LEDGER)
    return payout_out(selectors.payout_batch_get(scope=scope_for_user(user), batch_uuid=payout_id))


@router.get(
    "/payouts/{payout_id}/csv",
    response={200: None, **ERROR_RESPONSES},
    openapi_extra={
        "responses": {
            200: {
                "description": "The batch's listing, UTF-8 with a byte order mark",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def payout_csv(request: HttpRequest, payout_id: uuid.UUID):
    """The batch's listing (CSV, UTF-8 with BOM): one row per payee, for people; the
    bank pays from ``/pain001``."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    batch = selectors.payout_batch_get(scope=scope_for_user(user), batch_uuid=payout_id)
    response = HttpResponse(payouts.payout_batch_csv(batch=batch), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.uuid}.csv"'
    return response


@router.get(
    "/payouts/{payout_id}/pain001",
    response={200: None, **ERROR_RESPONSES},
    openapi_extra={
        "responses": {
            200: {
                "description": "ISO 20022 pain.001.001.03 credit transfers (UTF-8)",
                "content": {"application/xml": {"schema": {"type": "string"}}},
            }
        }
    },
)
def payout_pain001(request: HttpRequest, payout_id: uuid.UUID):
    """The bank file to pay from: ISO 20022 pain.001.001.03 XML (credit transfers to
    each payee's confirmed bank account, control totals). Only while the batch is
    exported (``wrong_state`` once paid or failed: it is never paid twice)."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    batch = selectors.payout_batch_get(scope=scope_for_user(user), batch_uuid=payout_id)
    body = bankfile.payout_batch_pain001(batch=batch)
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.uuid}.xml"'
    return response


@router.post("/payouts/{payout_id}/mark", response={200: PayoutOut, **ERROR_RESPONSES})
def payout_mark(request: HttpRequest, payout_id: uuid.UUID, payload: PayoutMarkIn):
    """``paid`` (the bank paid the file) or ``failed`` (the amounts are owed again)."""
    user = require(request, Perm.MANAGE_PAYOUTS)
    scope = scope_for_user(user)
    batch = selectors.payout_batch_get(scope=scope, batch_uuid=payout_id)
    return payout_out(
        payouts.payout_batch_mark(
            scope=scope, batch=batch, status=payload.status, actor=user, note=payload.note
        )
    )
