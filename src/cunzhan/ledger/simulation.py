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
morning (:func:`~cunzhan.ledger.payouts.payout_batch_mark` ``paid``, 10:00). Nothing
owed: no batch. Idempotent per (county, day): the batch carries a ``sim:`` note and is
not made twice. Deterministic: the amounts follow from the ledger's balances, which
the other generators' seeded data made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import CHINA, SimulationContext, register
from cunzhan.ledger.models import PayoutBatch, PayoutStatus
from cunzhan.ledger.payouts import payout_batch_create, payout_batch_mark
from cunzhan.ledger.services import station_fees_sweep


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
    result = station_fees_sweep(county=ctx.county_code, day=ctx.day, now=now)
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
