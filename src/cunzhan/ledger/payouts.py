"""Payout batches (docs/adr/0013-double-entry-ledger.md): what a county owes its
producers, cooperatives, stations and carriers, paid through a bank file.

Creating a batch locks the county's payable accounts and its "payouts in transit"
account (primary-key order), reads their balances and, in ONE transaction, posts each
payee's amount from its account to "payouts in transit" and writes the batch lines. An
amount in a batch is therefore no longer owed: a second batch (even one created at the
same moment) and any re-export of the file cannot pay it again. A batch is then marked
``paid`` (in transit → cash) or ``failed`` (the amounts go back to the payees, owed
again). A requested amount above what is owed is refused, nothing posted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from cunzhan.core import tabular
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import Conflict, NotFound, Unprocessable
from cunzhan.core.money import format_fen
from cunzhan.core.scope import RegionScope
from cunzhan.ledger import services
from cunzhan.ledger.models import (
    PAYABLE_KINDS,
    Account,
    AccountKind,
    BankDetails,
    BankDetailsStatus,
    PayoutBatch,
    PayoutLine,
    PayoutStatus,
    TransactionKind,
)
from cunzhan.network.models import Region


def _county_in_scope(scope: RegionScope, county: Region | str) -> Region:
    region = services.county_resolve(county)
    if not scope.contains_code(region.code) or (
        not scope.everything and scope.station_ids is not None
    ):
        raise NotFound()
    return region


def payout_batch_create(
    *,
    scope: RegionScope,
    county: Region | str,
    actor: Any = None,
    amounts: dict[str, int] | None = None,
    kinds: list[str] | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> PayoutBatch:
    """A batch paying what the county owes. ``amounts`` (account uuid → fen) pays those
    amounts, each at most what is owed (``payout_exceeds_owed`` otherwise, listing every
    offending account) and each to confirmed bank details (``no_bank_details``);
    without it every payable account of ``kinds`` (default all) with a credit balance
    and confirmed bank details is paid in full, and those without are held (listed in
    ``batch.held`` with the reason; they stay owed; all held: ``payees_held``). The
    county's cash account needs confirmed bank details: the account paid from
    (``no_debtor_account``). Nothing owed: ``nothing_to_pay``. ``at``: when
    the batch's transaction happened (an aware time; default now, e.g. the simulator's
    day)."""
    region = _county_in_scope(scope, county)
    wanted_kinds = set(kinds or PAYABLE_KINDS)
    if not wanted_kinds <= PAYABLE_KINDS:
        raise Unprocessable(
            f"kinds: some of {sorted(PAYABLE_KINDS)}",
            code="invalid_kind",
            details={"kinds": sorted(wanted_kinds - PAYABLE_KINDS)},
        )
    requested: dict[str, int] = {}
    for acct_uuid, amount in (amounts or {}).items():
        try:
            key = str(uuid.UUID(str(acct_uuid)))
        except ValueError as exc:
            raise Unprocessable(
                f"amounts: {str(acct_uuid)[:40]!r} is not an account id",
                code="unknown_account",
                details={"account": str(acct_uuid)[:40]},
            ) from exc
        requested[key] = services.amount_check(amount, f"amounts[{key}]")
    in_transit = services.account_for(kind=AccountKind.PAYOUTS_IN_TRANSIT, county=region)
    cash = services.account_for(kind=AccountKind.CASH, county=region)
    batch_uuid = uuid.uuid4()

    def run() -> PayoutBatch:
        with transaction.atomic():
            candidates = Account.objects.filter(county=region, kind__in=wanted_kinds)
            if requested:
                candidates = candidates.filter(uuid__in=list(requested))
            ids = [*candidates.values_list("pk", flat=True), in_transit.pk, cash.pk]
            # the accounts' rows are locked before their bank details are read: a
            # confirmation locks the account too, so the details cannot change under us
            locked = services._lock(Account(pk=pk) for pk in ids)
            locked.pop(cash.pk, None)
            debtor = _confirmed([cash.pk]).get(cash.pk)
            if debtor is None:
                raise Conflict(
                    gettext("县 %(c)s 的付款账户（银行存款账户）没有经复核确认的银行账户")
                    % {"c": region.code},
                    code="no_debtor_account",
                    details={"county": region.code, "account": str(cash.uuid)},
                )
            payees: list[tuple[Account, int]] = []
            if requested:
                by_uuid = {str(a.uuid): a for a in locked.values() if a.pk != in_transit.pk}
                errors = []
                for acct_uuid, amount in sorted(requested.items()):
                    a = by_uuid.get(acct_uuid)
                    if a is None:
                        errors.append(
                            {"account": acct_uuid, "owed_fen": 0, "requested_fen": amount}
                        )
                    elif amount > a.owed_fen:
                        errors.append(
                            {"account": acct_uuid, "owed_fen": a.owed_fen, "requested_fen": amount}
                        )
                    else:
                        payees.append((a, amount))
                if errors:
                    # an unknown account is owed nothing: both disagree with stored data
                    raise Unprocessable(
                        "a payout may not exceed what is owed: "
                        + "; ".join(
                            f"{e['account']} is owed {e['owed_fen']} fen, not {e['requested_fen']}"
                            for e in errors
                        ),
                        code="payout_exceeds_owed",
                        details={"errors": errors},
                    )
            else:
                payees = [
                    (a, a.owed_fen)
                    for pk, a in sorted(locked.items())
                    if pk != in_transit.pk and a.owed_fen > 0
                ]
            details = _confirmed([a.pk for a, _ in payees])
            held = [_held(a, x) for a, x in payees if a.pk not in details]
            if held and requested:
                raise Conflict(
                    gettext("以下收款方没有经复核确认的银行账户：%(a)s")
                    % {"a": "、".join(h["label"] for h in held)},
                    code="no_bank_details",
                    details={"held": held},
                )
            payees = [(a, x) for a, x in payees if a.pk in details]
            if not payees and held:
                raise Conflict(
                    gettext("%(n)s 个收款方没有经复核确认的银行账户，暂缓付款，本次无可付款项")
                    % {"n": len(held)},
                    code="payees_held",
                    details={"held": held},
                )
            if not payees:
                raise Conflict(
                    gettext("县 %(c)s 目前没有应付款项") % {"c": region.code},
                    code="nothing_to_pay",
                )
            total = sum(x for _, x in payees)
            lines = [*((a, x) for a, x in payees), (in_transit, -total)]
            tx = services._insert(
                county=region,
                kind=TransactionKind.PAYOUT,
                memo=f"payout batch {batch_uuid} ({len(payees)} payees)",
                key=f"payout:{batch_uuid}",
                digest=services.lines_digest(
                    TransactionKind.PAYOUT, region.code, [(a.pk, x) for a, x in lines]
                ),
                lines=lines,
                occurred_at=services._when(at),
                actor=actor,
                gross_fen=total,
            )
            batch = PayoutBatch.objects.create(
                uuid=batch_uuid,
                county=region,
                total_fen=total,
                line_count=len(payees),
                transaction=tx,
                note=(note or "")[:300],
                debtor_details=debtor,
                held=held,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            PayoutLine.objects.bulk_create(
                [
                    PayoutLine(batch=batch, account=a, amount_fen=x, bank_details=details[a.pk])
                    for a, x in payees
                ]
            )
            audit_record(
                action="create",
                object_type="ledger.PayoutBatch",
                object_id=batch.uuid,
                object_repr=f"payout batch {format_fen(total)}",
                region_code=region.code,
                after={"total_fen": total, "lines": len(payees), "held": len(held)},
                actor=actor,
            )
            return batch

    return services._retry(run)


def _confirmed(account_ids: list[int]) -> dict[int, BankDetails]:
    return {
        d.account_id: d
        for d in BankDetails.objects.filter(
            account_id__in=account_ids, status=BankDetailsStatus.CONFIRMED
        )
    }


def _held(account: Account, owed_fen: int) -> dict[str, Any]:
    return {
        "account": str(account.uuid),
        "label": account.label,
        "kind": account.kind,
        "owed_fen": owed_fen,
        "reason": "no_bank_details",
        "message": gettext("没有经复核确认的银行账户，暂缓付款"),
    }


def payout_batch_mark(
    *,
    scope: RegionScope,
    batch: PayoutBatch,
    status: str,
    actor: Any = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> PayoutBatch:
    """``paid``: the bank paid the file (in transit → cash). ``failed``: it did not (the
    amounts go back to the payees, owed again). Only from ``exported``, once
    (``wrong_state`` otherwise). ``at`` as for :func:`payout_batch_create`."""
    if status not in (PayoutStatus.PAID, PayoutStatus.FAILED):
        raise Unprocessable(
            "status: paid or failed", code="invalid_status", details={"status": str(status)[:20]}
        )
    region = _county_in_scope(scope, batch.county_id)

    def run() -> PayoutBatch:
        with transaction.atomic():
            locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
            if locked.status != PayoutStatus.EXPORTED:
                raise Conflict(
                    gettext("该付款批次已是“%(s)s”状态") % {"s": locked.get_status_display()},
                    code="wrong_state",
                )
            in_transit = services.account_for(kind=AccountKind.PAYOUTS_IN_TRANSIT, county=region)
            if status == PayoutStatus.PAID:
                cash = services.account_for(kind=AccountKind.CASH, county=region)
                lines = [(in_transit, locked.total_fen), (cash, -locked.total_fen)]
                kind = TransactionKind.PAYOUT_PAID
            else:
                payees = [
                    (ln.account, -ln.amount_fen) for ln in locked.lines.select_related("account")
                ]
                lines = [(in_transit, locked.total_fen), *payees]
                kind = TransactionKind.PAYOUT_FAILED
            services._lock(a for a, _ in lines)
            tx = services._insert(
                county=region,
                kind=kind,
                memo=f"payout batch {locked.uuid} {status}" + (f": {note}" if note else ""),
                key=f"payout-{status}:{locked.uuid}",
                digest=services.lines_digest(kind, region.code, [(a.pk, x) for a, x in lines]),
                lines=lines,
                occurred_at=services._when(at),
                actor=actor,
                gross_fen=locked.total_fen,
                original=locked.transaction,
            )
            locked.status = status
            locked.settled_transaction = tx
            if note:
                locked.note = note[:300]
            locked.save(update_fields=["status", "settled_transaction", "note", "updated_at"])
            audit_record(
                action="transition",
                object_type="ledger.PayoutBatch",
                object_id=locked.uuid,
                object_repr=f"payout batch {format_fen(locked.total_fen)}",
                region_code=region.code,
                before={"status": PayoutStatus.EXPORTED},
                after={"status": status},
                actor=actor,
            )
            return locked

    return services._retry(run)


CSV_HEADER = ["序号", "批次", "收款方", "账户类型", "账户编号", "金额(元)", "金额(分)"]


def payout_batch_csv(*, batch: PayoutBatch) -> bytes:
    """The bank file: one row per payee, in the batch's order (UTF-8 with BOM, opens in
    Excel). Re-exporting gives the same rows: the money left the payees' accounts when
    the batch was created, so no other batch lists it."""
    rows = []
    for i, line in enumerate(batch.lines.select_related("account", "account__station"), start=1):
        a = line.account
        rows.append(
            [
                i,
                str(batch.uuid),
                a.label,
                a.get_kind_display(),
                a.station.code if a.station_id and a.station else str(a.uuid),
                f"{line.amount_fen // 100}.{line.amount_fen % 100:02d}",
                line.amount_fen,
            ]
        )
    # the shared writer: a payee named "=HYPERLINK(...)" is text, never a formula
    return tabular.csv_bytes(CSV_HEADER, rows)
