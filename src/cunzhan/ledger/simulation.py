"""Simulation generators of the ledger.

``ledger.fees``: every simulated day ends with the county's station fee sweep
(:func:`~cunzhan.ledger.services.station_fees_sweep`): the fees of the parcels and
shipments handled that day are recorded and posted to the ledger as of the day's end
(or the run's ``until``), as the daily job does in production. Idempotent per day.

``ledger.payouts``: the county pays what it owes once a week.

On the county's payout weekday (``payout_weekday``, ISO, default 5 = Friday) at 16:00
China time a payout batch pays every payable account with a credit balance (producers,
cooperatives, stations, carriers: what the simulated sales and fees left owed) through
:func:`~cunzhan.ledger.payouts.payout_batch_create`; the bank pays the file the next
morning (:func:`~cunzhan.ledger.payouts.payout_batch_mark` ``paid``, 10:00). Before
the batch, every payee with money owed and the county's cash account get synthetic bank
details (:func:`demo_bank_details`), entered by one simulated county person and
confirmed by another, as the four-eyes rule wants. Nothing owed: no batch. Idempotent
per (county, day): the batch carries a ``sim:`` note and is not made twice.
Deterministic: the amounts follow from the ledger's balances, which the other
generators' seeded data made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import CHINA, SimulationContext, register
from cunzhan.ledger import bank_details, services
from cunzhan.ledger.models import (
    PAYABLE_KINDS,
    Account,
    AccountKind,
    BankDetails,
    BankDetailsStatus,
    PayoutBatch,
    PayoutStatus,
)
from cunzhan.ledger.payouts import payout_batch_create, payout_batch_mark


def _at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=CHINA) + dt.timedelta(hours=hour)


@register(
    "ledger.fees",
    after=("logistics.parcels", "logistics.shipments", "commerce.sim", "commerce.assisted"),
)
def generate_fees(ctx: SimulationContext) -> dict[str, Any]:
    now = _at(ctx.day + dt.timedelta(days=1), 0)
    until = ctx.until()
    if until is not None:
        if until < _at(ctx.day, 0):
            return {"recorded": 0, "posted": 0, "posted_fen": 0}
        now = min(now, until)
    result = services.station_fees_sweep(county=ctx.county_code, day=ctx.day, now=now)
    return {"recorded": result.recorded, "posted": result.posted, "posted_fen": result.posted_fen}


@register(
    "ledger.payouts",
    after=("commerce.sim", "commerce.assisted", "logistics.shipments", "ledger.fees"),
)
def generate_payouts(ctx: SimulationContext) -> dict[str, Any]:
    none = {"batches": 0, "payees": 0, "paid_fen": 0}
    if ctx.day.isoweekday() != int(ctx.params.get("payout_weekday", 5)):
        return none
    county = ctx.county_code
    note = f"sim:{county}:{ctx.day.isoformat()}"
    if PayoutBatch.objects.filter(county_id=county, note=note).exists():
        return none
    national = RegionScope.national()
    owed = Account.objects.filter(county_id=county, kind__in=PAYABLE_KINDS, balance_fen__lt=0)
    demo_bank_details(
        county=county,
        accounts=[services.account_for(kind=AccountKind.CASH, county=county), *owed],
    )
    try:
        batch = payout_batch_create(scope=national, county=county, note=note, at=_at(ctx.day, 16))
    except ApplicationError as exc:
        if exc.code == "nothing_to_pay":
            return none
        raise
    paid_at = _at(ctx.day + dt.timedelta(days=1), 10)
    until = ctx.until()
    if until is None or paid_at <= until:
        # (a simulation cut at ``until`` leaves a batch the bank has not paid yet)
        payout_batch_mark(scope=national, batch=batch, status=PayoutStatus.PAID, at=paid_at)
    return {"batches": 1, "payees": batch.line_count, "paid_fen": batch.total_fen}


def demo_people(county: str) -> tuple[Any, Any]:
    """Two simulated county payout people (a random password nobody is told: they
    never sign in): one enters bank details, the other confirms them."""
    from cunzhan.accounts.models import User
    from cunzhan.accounts.roles import Role
    from cunzhan.accounts.services import user_create

    out = []
    for tag in ("a", "b"):
        name = f"sim-payouts-{county}-{tag}"
        user = User.objects.filter(username=name).first()
        if user is None:
            user, _ = user_create(
                username=name,
                role=Role.COUNTY_MANAGER,
                display_name=name,
                region_codes=[county],
            )
        out.append(user)
    return out[0], out[1]


def demo_bank_details(*, county: str, accounts: Any) -> int:
    """Synthetic confirmed bank details for each of ``accounts`` that has none, through
    the services (entered by one simulated person, confirmed by the other); the number
    is derived from the account's key (deterministic, not a real account). Returns how
    many were added."""
    todo = [
        a
        for a in accounts
        if not BankDetails.objects.filter(account=a, status=BankDetailsStatus.CONFIRMED).exists()
    ]
    if not todo:
        return 0
    enterer, confirmer = demo_people(county)
    scope = RegionScope.for_regions([county])
    for a in todo:
        digits = str(int(hashlib.sha256(a.key.encode()).hexdigest(), 16))[:15]
        d = bank_details.bank_details_submit(
            scope=scope,
            account=a,
            holder_name=a.label or a.key,
            bank_name="模拟农村商业银行",
            account_number="6230" + digits,
            actor=enterer,
        )
        bank_details.bank_details_confirm(scope=scope, details=d, actor=confirmer)
    return len(todo)
