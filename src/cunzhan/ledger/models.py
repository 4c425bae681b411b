"""The double-entry ledger (docs/adr/0013-double-entry-ledger.md).

Sign convention: a line's ``amount_fen`` is positive for a debit and negative for a
credit; the lines of a transaction sum to zero. An account's balance is the sum of
its lines, kept in ``Account.balance_fen`` by the one write path
(:mod:`cunzhan.ledger.services`) in the same database transaction as the lines, so a
balance is a row read, not a sum. For the accounts the platform owes (producers,
stations, buyers ...) a credit balance (negative) is what is owed to them.

Transactions and lines are append-only: a correction is a reversing transaction.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

CURRENCY = "CNY"


class AccountKind(models.TextChoices):
    PRODUCER = "producer", _("生产者")
    COOPERATIVE = "cooperative", _("合作社")
    STATION = "station", _("服务站")
    BUYER = "buyer", _("买家")
    CARRIER = "carrier", _("承运商")
    PLATFORM = "platform", _("平台收入")
    PROVIDER_CLEARING = "provider_clearing", _("支付渠道清算")
    CASH = "cash", _("银行存款")
    PAYOUTS_IN_TRANSIT = "payouts_in_transit", _("在途付款")


# accounts of a party, named by the caller's opaque key ("producer:<uuid>")
OWNER_KINDS = frozenset({AccountKind.PRODUCER, AccountKind.COOPERATIVE, AccountKind.BUYER})
# one per county (the provider clearing account: one per county and provider)
SYSTEM_KINDS = frozenset(
    {
        AccountKind.PLATFORM,
        AccountKind.PROVIDER_CLEARING,
        AccountKind.CASH,
        AccountKind.PAYOUTS_IN_TRANSIT,
    }
)
# whom a payout batch pays: what the platform owes them (a credit balance)
PAYABLE_KINDS = frozenset(
    {AccountKind.PRODUCER, AccountKind.COOPERATIVE, AccountKind.STATION, AccountKind.CARRIER}
)


class Account(models.Model):
    """One account of one party in one county. ``key`` is unique and derived from the
    kind and the party (``520204:producer:producer:<uuid>``, ``520204:station:17``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=AccountKind.choices, db_index=True)
    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    owner_key = models.CharField(max_length=120, blank=True, db_index=True)
    label = models.CharField(max_length=200, blank=True)
    station = models.ForeignKey(
        "network.Station", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    carrier = models.ForeignKey(
        "logistics.Carrier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3, default=CURRENCY)
    balance_fen = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["county_id", "kind", "key"]
        constraints = [
            models.CheckConstraint(condition=Q(currency=CURRENCY), name="ledger_account_cny"),
            models.CheckConstraint(
                condition=~Q(kind="station") | Q(station__isnull=False),
                name="ledger_account_station_has_station",
            ),
            models.CheckConstraint(
                condition=~Q(kind="carrier") | Q(carrier__isnull=False),
                name="ledger_account_carrier_has_carrier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.owner_key}".strip()

    @property
    def owed_fen(self) -> int:
        """What the platform owes this party (its credit balance), never negative."""
        return max(0, -self.balance_fen)


class TransactionKind(models.TextChoices):
    MANUAL = "manual", _("手工记账")
    PAYMENT = "payment", _("收款")
    SALE = "sale", _("销售结算")
    REFUND = "refund", _("退款")
    ASSISTED = "assisted", _("代购佣金")
    STATION_FEES = "station_fees", _("站点派件费")
    PAYOUT = "payout", _("付款批次")
    PAYOUT_PAID = "payout_paid", _("付款到账")
    PAYOUT_FAILED = "payout_failed", _("付款失败冲回")
    REVERSAL = "reversal", _("冲正")


class Transaction(models.Model):
    """A balanced set of lines. ``idempotency_key`` is unique: posting the same key
    again returns this transaction (same ``digest``) or is refused (another one).
    ``original`` links a refund to the payment or sale it refunds, a reversal to what it
    reverses; ``gross_fen`` is the business amount (a sale's gross, a refund's amount)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # every index is written for each of a month's ~200,000 transactions: the county's
    # is the (county, occurred_at) index, kind and actor are filters on it
    county = models.ForeignKey(
        "network.Region", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    memo = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    digest = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, default=CURRENCY)
    gross_fen = models.BigIntegerField(default=0)
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followers"
    )
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["county", "occurred_at"], name="ledger_tx_county_at_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(currency=CURRENCY), name="ledger_tx_cny"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("ledger transactions are append-only: post a reversal")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("ledger transactions are append-only: post a reversal")


class Line(models.Model):
    """One debit (positive) or credit (negative) of one account. ``occurred_at`` is the
    transaction's, copied so that a statement reads one index."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="lines")
    # served by the (account, occurred_at) index
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    amount_fen = models.BigIntegerField()
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["account", "occurred_at"], name="ledger_line_acct_at_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="ledger_line_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_fen:+d}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("ledger lines are append-only: post a reversal")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("ledger lines are append-only: post a reversal")


class SettlementRule(models.Model):
    """A county's settlement rules in basis points (1 bp = 0.01 %). A county without a
    row uses the defaults. The per-parcel station fees are logistics' county settings."""

    county = models.OneToOneField(
        "network.Region", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    platform_fee_bp = models.PositiveIntegerField(default=500)
    station_commission_bp = models.PositiveIntegerField(default=300)
    assisted_commission_bp = models.PositiveIntegerField(default=500)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(platform_fee_bp__lte=10_000)
                & Q(station_commission_bp__lte=10_000)
                & Q(assisted_commission_bp__lte=10_000),
                name="ledger_rule_bp_range",
            ),
        ]

    def __str__(self) -> str:
        return f"settlement rules {self.county_id}"


class PayoutStatus(models.TextChoices):
    EXPORTED = "exported", _("已导出")
    PAID = "paid", _("已付款")
    FAILED = "failed", _("付款失败")


class PayoutBatch(models.Model):
    """What one county pays out at once. Creating it moves every line's amount from the
    payee's account to "payouts in transit" in the same transaction, so that neither a
    re-export nor a second batch can pay it again. Paid: in transit -> cash. Failed:
    the amounts go back to the payees (they are owed again)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=PayoutStatus.choices, default=PayoutStatus.EXPORTED, db_index=True
    )
    total_fen = models.BigIntegerField()
    line_count = models.PositiveIntegerField()
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="+")
    settled_transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    # the county's paying account (its cash account's confirmed bank details) when made
    debtor_details = models.ForeignKey(
        "ledger.BankDetails", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # payees owed money but not paid by this batch: [{account, label, owed_fen, reason,
    # message}] (no confirmed bank details) — they stay owed
    held = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"payout batch {self.uuid} {self.total_fen}"


class PayoutLine(models.Model):
    """One payee of a batch, once (unique per batch and account), paid to the bank
    details confirmed when the batch was made (``bank_details``; empty only on batches
    made before bank details existed)."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payout_lines")
    amount_fen = models.BigIntegerField()
    bank_details = models.ForeignKey(
        "ledger.BankDetails",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["batch_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "account"], name="ledger_payout_line_uniq"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="ledger_payout_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_fen}"


class BankDetailsStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    CONFIRMED = "confirmed", _("已确认")
    REJECTED = "rejected", _("已驳回")
    SUPERSEDED = "superseded", _("已被替换")


# the accounts that hold bank details: payees, and the county's cash account (the bank
# account payouts are paid from)
BANKABLE_KINDS = PAYABLE_KINDS | {AccountKind.CASH}


class BankDetails(models.Model):
    """The bank account an account is paid to (or, for a county's cash account, paid
    from). Entered by one county person (``pending``), it takes effect only when a
    second person confirms it (``confirmed``); the confirmed details it replaces become
    ``superseded``. Rows are never edited in place: a change is a new row. The account
    number is encrypted at rest (``core.crypto``); ``number_last4`` is what pages show."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="bank_details")
    holder_name = models.CharField(max_length=120)
    bank_name = models.CharField(max_length=120)
    number_encrypted = models.TextField()
    number_last4 = models.CharField(max_length=4)
    status = models.CharField(
        max_length=10,
        choices=BankDetailsStatus.choices,
        default=BankDetailsStatus.PENDING,
        db_index=True,
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "bank details"
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="confirmed"),
                name="ledger_bank_one_confirmed",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="pending"),
                name="ledger_bank_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} {self.bank_name} {self.masked_number}"

    @property
    def masked_number(self) -> str:
        return "**** " + self.number_last4
