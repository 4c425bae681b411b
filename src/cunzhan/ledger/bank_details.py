"""Bank details of the accounts that receive payouts, and of a county's cash account
(the account payouts are paid from) — docs/adr/0027-ledger-fees-bank-details-payout-file.md.

Four-eyes rule: a county person with the payouts permission enters the details
(:func:`bank_details_submit`, ``pending``); they take effect only when ANOTHER such
person confirms them (:func:`bank_details_confirm`), which supersedes the details
confirmed before; or that person rejects them. A payout batch pays only accounts with
confirmed details and holds the others with a reason (``ledger.payouts``). The account
number is encrypted at rest and shown masked; the audit log records the masked number,
never the number itself.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from cunzhan.accounts.roles import Perm
from cunzhan.core import crypto
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    Unprocessable,
)
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import (
    BANKABLE_KINDS,
    Account,
    BankDetails,
    BankDetailsStatus,
)

NAME_MAX = 120
# a personal card has 16-19 digits, a company's settlement account up to about 25;
# 8 leaves room for old rural credit cooperative accounts
NUMBER_RE = re.compile(r"^[0-9]{8,32}$")
SEPARATORS = re.compile(r"[\s-]")


def _county_person(scope: RegionScope, actor: Any, account: Account) -> None:
    """Bank details are the county's business: a signed-in person with the payouts
    permission whose scope covers the account's county as a whole."""
    if not getattr(actor, "is_authenticated", False) or not actor.can(Perm.MANAGE_PAYOUTS):
        raise PermissionDenied(gettext("只有县级付款管理人员可以录入或复核银行账户"))
    if not scope.contains_code(account.county_id) or (
        not scope.everything and scope.station_ids is not None
    ):
        raise NotFound()


def _snapshot(d: BankDetails) -> dict[str, Any]:
    return {
        "holder_name": d.holder_name,
        "bank_name": d.bank_name,
        "account_number": d.masked_number,
        "status": d.status,
    }


def bank_details_check(
    *, holder_name: Any, bank_name: Any, account_number: Any
) -> tuple[str, str, str]:
    """Cleaned (holder, bank, digits) or ``invalid_bank_details`` naming every bad field."""
    errors: dict[str, str] = {}
    holder = str(holder_name or "").strip()
    bank = str(bank_name or "").strip()
    number = SEPARATORS.sub("", str(account_number or ""))
    if not holder or len(holder) > NAME_MAX:
        errors["holder_name"] = gettext("户名：1 至 %(n)s 个字符") % {"n": NAME_MAX}
    if not bank or len(bank) > NAME_MAX:
        errors["bank_name"] = gettext("开户行：1 至 %(n)s 个字符") % {"n": NAME_MAX}
    if not NUMBER_RE.match(number):
        errors["account_number"] = gettext("账号：8 至 32 位数字（可含空格或短横线）")
    if errors:
        raise Unprocessable(
            gettext("银行账户信息有误：%(e)s") % {"e": "；".join(errors.values())},
            code="invalid_bank_details",
            details={"errors": errors},
        )
    return holder, bank, number


def bank_details_submit(
    *,
    scope: RegionScope,
    account: Account,
    holder_name: Any,
    bank_name: Any,
    account_number: Any,
    actor: Any,
) -> BankDetails:
    """Enter new bank details for ``account`` (a payee or the county's cash account):
    ``pending`` until another person confirms them. Details pending before are replaced
    (``superseded``); confirmed ones stay in force until the new ones are confirmed."""
    _county_person(scope, actor, account)
    if account.kind not in BANKABLE_KINDS:
        # the account's kind never changes, so no later state could allow it: 422, not 409
        raise Unprocessable(
            gettext("该类账户不收付款，不需要银行账户"),
            code="not_a_payee",
            details={"kind": account.kind},
        )
    holder, bank, number = bank_details_check(
        holder_name=holder_name, bank_name=bank_name, account_number=account_number
    )
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).get()
        now = timezone.now()
        BankDetails.objects.filter(account=account, status=BankDetailsStatus.PENDING).update(
            status=BankDetailsStatus.SUPERSEDED, decided_at=now, updated_at=now
        )
        details = BankDetails.objects.create(
            account=account,
            holder_name=holder,
            bank_name=bank,
            number_encrypted=crypto.encrypt(number),
            number_last4=number[-4:],
            entered_by=actor,
        )
        audit_record(
            action="create",
            object_type="ledger.BankDetails",
            object_id=details.uuid,
            object_repr=f"{account.label} {details.masked_number}",
            region_code=account.county_id,
            after=_snapshot(details),
            note=gettext("录入银行账户，待他人复核"),
            actor=actor,
        )
    return details


def bank_details_confirm(
    *,
    scope: RegionScope,
    details: BankDetails,
    actor: Any,
    approve: bool = True,
    note: str = "",
) -> BankDetails:
    """A second person confirms (``approve``) or rejects pending details. The person who
    entered them may not (``same_person``); only pending details (``wrong_state``).
    Confirming supersedes the details confirmed before."""
    account = details.account
    _county_person(scope, actor, account)
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).get()
        locked = BankDetails.objects.select_for_update().get(pk=details.pk)
        if locked.status != BankDetailsStatus.PENDING:
            raise Conflict(
                gettext("该银行账户信息已是“%(s)s”状态，不能再复核")
                % {"s": locked.get_status_display()},
                code="wrong_state",
            )
        if locked.entered_by_id is None or locked.entered_by_id == actor.pk:
            raise ApplicationError(
                gettext("银行账户须由录入人以外的另一人复核"),
                code="same_person",
                status=403,
            )
        before = _snapshot(locked)
        now = timezone.now()
        if approve:
            BankDetails.objects.filter(account=account, status=BankDetailsStatus.CONFIRMED).update(
                status=BankDetailsStatus.SUPERSEDED, updated_at=now
            )
            locked.status = BankDetailsStatus.CONFIRMED
        else:
            locked.status = BankDetailsStatus.REJECTED
        locked.decided_by = actor
        locked.decided_at = now
        locked.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        audit_record(
            action="transition",
            object_type="ledger.BankDetails",
            object_id=locked.uuid,
            object_repr=f"{account.label} {locked.masked_number}",
            region_code=account.county_id,
            before=before,
            after=_snapshot(locked),
            note=(note or "")[:300],
            actor=actor,
        )
    return locked


def bank_number(details: BankDetails) -> str:
    """The full account number, for the bank file only."""
    return crypto.decrypt(details.number_encrypted)
