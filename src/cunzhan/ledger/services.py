"""Every write to the ledger (docs/adr/0013-double-entry-ledger.md).

The functions other domains call — keyword-only, names and signatures stable:

- :func:`account_for` — the account of a party (created on first use);
- :func:`transaction_post` — a balanced transaction, idempotent by key;
- :func:`payment_receive` — a buyer pays the platform through a payment provider;
- :func:`sale_settle` — on delivery, gross → producer share, platform fee, station
  commission by the county's rules;
- :func:`sale_refund` — a refund or return, before or after settlement;
- :func:`assisted_commission_accrue` — a station's 代购 commission.

Every posting locks all its accounts in primary-key order (``select_for_update``) before
it checks anything, so that checks ("never more than paid") and balances hold under
concurrency on PostgreSQL, and two postings never deadlock. A repeated idempotency key
returns the transaction it posted if the request is the same, else the error
``idempotency_conflict``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext

from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import CHINA
from cunzhan.core.validation import is_ascii_digits
from cunzhan.ledger.models import (
    CURRENCY,
    OWNER_KINDS,
    Account,
    AccountKind,
    Line,
    SettlementRule,
    Transaction,
    TransactionKind,
)
from cunzhan.logistics import fees as logistics_fees
from cunzhan.logistics.fees import retry_locked
from cunzhan.logistics.models import Carrier
from cunzhan.network.models import Level, Region, Station

T = TypeVar("T")
BP = 10_000  # basis points in a whole
MAX_AMOUNT_FEN = 10**15  # ten trillion yuan: larger is a typing error
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
OWNER_KEY_MAX = 120
PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
RULE_FIELDS = ("platform_fee_bp", "station_commission_bp", "assisted_commission_bp")


# --- helpers -----------------------------------------------------------------------------------


def _retry(fn: Callable[[], T]) -> T:
    """Retry SQLite's "table is locked" only at the outermost level (inside a caller's
    transaction the caller must retry the whole)."""
    if connection.in_atomic_block:
        return fn()
    return retry_locked(fn)


def county_resolve(county: Region | str) -> Region:
    """A county ``Region`` from a Region or its 6-digit code; else ``unknown_county``."""
    code = county.code if isinstance(county, Region) else str(county or "").strip()
    region = Region.objects.filter(code=code, level=Level.COUNTY).first() if code else None
    if region is None:
        raise ApplicationError(
            f"not a county: {code!r}", code="unknown_county", details={"county": code}
        )
    return region


def currency_check(currency: str) -> None:
    if currency != CURRENCY:
        raise ApplicationError(
            f"unsupported currency {currency!r}: the ledger books CNY only",
            code="unsupported_currency",
            details={"currency": str(currency)[:10]},
        )


def amount_check(value: Any, field: str, *, allow_zero: bool = False) -> int:
    """A positive integer number of fen (``allow_zero``: zero too)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApplicationError(
            f"{field}: an integer number of fen", code="invalid_amount", details={"field": field}
        )
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_AMOUNT_FEN:
        raise ApplicationError(
            f"{field}: must be {'≥ 0' if allow_zero else '> 0'} and at most {MAX_AMOUNT_FEN} fen",
            code="invalid_amount",
            details={"field": field, "value": value},
        )
    return value


def key_check(key: Any, field: str = "idempotency_key") -> str:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ApplicationError(
            f"{field}: 1 to 200 printable ASCII characters without spaces",
            code="invalid_key",
            details={"field": field},
        )
    return key


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def lines_digest(kind: str, county_code: str, lines: Iterable[tuple[int, int]]) -> str:
    """The identity of a posting: its kind, county and (account id, amount) lines,
    whatever their order."""
    return _digest([kind, county_code, sorted(lines)])


def _same(existing: Transaction, digest: str) -> Transaction:
    if existing.digest != digest:
        raise ApplicationError(
            f"idempotency key {existing.idempotency_key!r} was used for another posting",
            code="idempotency_conflict",
            details={"idempotency_key": existing.idempotency_key, "kind": existing.kind},
            status=409,
        )
    return existing


def _existing(key: str, digest: str) -> Transaction | None:
    tx = Transaction.objects.filter(idempotency_key=key).first()
    return _same(tx, digest) if tx is not None else None


def _lock(accounts: Iterable[Account]) -> dict[int, Account]:
    """Lock the accounts in primary-key order; fresh balances."""
    ids = sorted({a.pk for a in accounts})
    return {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _checked_lines(
    county: Region, lines: Sequence[tuple[Account, int]]
) -> list[tuple[Account, int]]:
    """Lines merged per account; each a saved CNY account of ``county`` with an integer
    amount; at least two accounts, no zero, summing to zero. Else a clear error."""
    if not isinstance(lines, list | tuple) or not lines:
        raise ApplicationError("a transaction needs lines", code="no_lines")
    merged: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    for i, item in enumerate(lines):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ApplicationError(
                f"line {i + 1}: (account, amount_fen)", code="invalid_line", details={"line": i + 1}
            )
        account, amount = item
        if not isinstance(account, Account) or account.pk is None:
            raise ApplicationError(
                f"line {i + 1}: not a ledger account", code="invalid_line", details={"line": i + 1}
            )
        if account.county_id != county.code:
            raise ApplicationError(
                f"line {i + 1}: account {account.key} belongs to another county",
                code="account_county_mismatch",
                details={"line": i + 1, "account": str(account.uuid)},
            )
        currency_check(account.currency)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise ApplicationError(
                f"line {i + 1}: a non-zero integer number of fen",
                code="invalid_amount",
                details={"line": i + 1},
            )
        if abs(amount) > MAX_AMOUNT_FEN:
            raise ApplicationError(
                f"line {i + 1}: more than {MAX_AMOUNT_FEN} fen",
                code="invalid_amount",
                details={"line": i + 1},
            )
        merged[account.pk] += amount
        accounts[account.pk] = account
    total = sum(merged.values())
    if total != 0:
        raise ApplicationError(
            f"the lines do not balance: they sum to {total} fen, not 0",
            code="unbalanced",
            details={"sum_fen": total},
        )
    out = [(accounts[pk], amt) for pk, amt in sorted(merged.items()) if amt != 0]
    if len(out) < 2:
        raise ApplicationError(
            "a transaction moves money between two accounts at least", code="no_lines"
        )
    return out


def _when(occurred_at: dt.datetime | None) -> dt.datetime:
    if occurred_at is None:
        return timezone.now()
    if not isinstance(occurred_at, dt.datetime) or timezone.is_naive(occurred_at):
        raise ApplicationError(
            "occurred_at: an aware date and time", code="invalid_time", details={}
        )
    return occurred_at


def _insert(
    *,
    county: Region,
    kind: str,
    memo: str,
    key: str,
    digest: str,
    lines: list[tuple[Account, int]],
    occurred_at: dt.datetime,
    actor: Any,
    gross_fen: int = 0,
    original: Transaction | None = None,
) -> Transaction:
    """Insert the transaction, its lines and the balances (accounts already locked by
    the caller). A concurrent insert of the same key: that one is returned (or refused
    if it differs)."""
    try:
        with transaction.atomic():
            tx = Transaction.objects.create(
                county=county,
                kind=kind,
                memo=(memo or "")[:300],
                idempotency_key=key,
                digest=digest,
                gross_fen=gross_fen,
                original=original,
                occurred_at=occurred_at,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        return _same(Transaction.objects.get(idempotency_key=key), digest)
    Line.objects.bulk_create(
        [
            Line(transaction=tx, account=a, amount_fen=amt, occurred_at=occurred_at)
            for a, amt in lines
        ]
    )
    for a, amt in lines:
        Account.objects.filter(pk=a.pk).update(balance_fen=F("balance_fen") + amt)
        a.balance_fen += amt
    return tx


def _post_once(
    *,
    county: Region,
    kind: str,
    memo: str,
    key: str,
    digest: str,
    lines: list[tuple[Account, int]],
    occurred_at: dt.datetime,
    actor: Any = None,
    gross_fen: int = 0,
) -> Transaction:
    """Post ``lines`` once under ``key``: the transaction already posted with this key
    (same digest) if there is one, else lock the lines' accounts and insert it; retried
    on SQLite's "locked"."""

    def run() -> Transaction:
        found = _existing(key, digest)
        if found is not None:
            return found
        with transaction.atomic():
            _lock(a for a, _ in lines)
            return _insert(
                county=county,
                kind=kind,
                memo=memo,
                key=key,
                digest=digest,
                lines=lines,
                occurred_at=occurred_at,
                actor=actor,
                gross_fen=gross_fen,
            )

    return _retry(run)


# --- accounts ----------------------------------------------------------------------------------


def _account_key(
    kind: str, county: Region, owner_key: str, station: Station | None, carrier: Carrier | None
) -> str:
    if kind == AccountKind.STATION:
        assert station is not None
        return f"{county.code}:station:{station.pk}"
    if kind == AccountKind.CARRIER:
        assert carrier is not None
        return f"{county.code}:carrier:{carrier.code}"
    if owner_key:
        return f"{county.code}:{kind}:{owner_key}"
    return f"{county.code}:{kind}"


def account_for(
    *,
    kind: str,
    county: Region | str,
    owner_key: str | None = None,
    label: str = "",
    station: Station | None = None,
    carrier: Carrier | str | None = None,
) -> Account:
    """The account of a party in a county, created on first use.

    - ``producer``, ``cooperative``, ``buyer``: ``owner_key`` (the caller's opaque key,
      e.g. ``"producer:<uuid>"``) and a display ``label``;
    - ``station``: ``station`` (in the county); ``carrier``: ``carrier`` (or its code);
    - ``provider_clearing``: ``owner_key`` = the payment provider's code;
    - ``platform``, ``cash``, ``payouts_in_transit``: one per county.

    A new non-empty ``label`` replaces the old one (a renamed producer)."""
    if kind not in AccountKind.values:
        raise ApplicationError(
            f"unknown account kind {kind!r}", code="invalid_kind", details={"kind": str(kind)[:40]}
        )
    region = county_resolve(county)
    owner = (owner_key or "").strip()
    label = (label or "").strip()[:200]
    carrier_obj: Carrier | None = None
    needs_owner = kind in OWNER_KINDS or kind == AccountKind.PROVIDER_CLEARING
    if needs_owner:
        if not owner or len(owner) > OWNER_KEY_MAX:
            raise ApplicationError(
                f"owner_key: 1 to {OWNER_KEY_MAX} characters for a {kind} account",
                code="invalid_owner_key",
                details={"kind": kind},
            )
    elif owner:
        raise ApplicationError(
            f"owner_key is only for producer, cooperative, buyer and provider accounts, not {kind}",
            code="invalid_owner_key",
            details={"kind": kind},
        )
    if kind == AccountKind.STATION:
        if not isinstance(station, Station):
            raise ApplicationError("a station account needs its station", code="invalid_station")
        if not station.region_id.startswith(region.code):
            raise ApplicationError(
                f"station {station.code} is not in county {region.code}",
                code="station_not_in_county",
                details={"station": station.code, "county": region.code},
            )
        label = label or station.name
    elif station is not None:
        raise ApplicationError("station is only for a station account", code="invalid_station")
    if kind == AccountKind.CARRIER:
        if isinstance(carrier, str):
            carrier_obj = Carrier.objects.filter(code=carrier).first()
        elif isinstance(carrier, Carrier):
            carrier_obj = carrier
        if carrier_obj is None:
            raise ApplicationError(
                f"unknown carrier {carrier!r}", code="invalid_carrier", details={}
            )
        label = label or carrier_obj.name
    elif carrier is not None:
        raise ApplicationError("carrier is only for a carrier account", code="invalid_carrier")
    key = _account_key(kind, region, owner, station, carrier_obj)
    account = Account.objects.filter(key=key).first()
    if account is None:
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    key=key,
                    kind=kind,
                    county=region,
                    owner_key=owner,
                    label=label or owner or str(AccountKind(kind).label),
                    station=station if kind == AccountKind.STATION else None,
                    carrier=carrier_obj,
                )
        except IntegrityError:
            account = Account.objects.get(key=key)
    elif label and label != account.label and kind != AccountKind.STATION:
        account.label = label
        account.save(update_fields=["label", "updated_at"])
    return account


def _system(kind: str, county: Region, owner_key: str | None = None) -> Account:
    return account_for(kind=kind, county=county, owner_key=owner_key)


# --- settlement rules --------------------------------------------------------------------------


def settlement_rules(*, county: Region | str) -> SettlementRule:
    """The county's rules (the defaults, unsaved, until it saves its own)."""
    region = county_resolve(county)
    rule = SettlementRule.objects.filter(county=region).first()
    return rule if rule is not None else SettlementRule(county=region)


def settlement_rules_update(
    *, county: Region | str, actor: Any = None, **values: Any
) -> SettlementRule:
    """Set some of ``platform_fee_bp``, ``station_commission_bp`` and
    ``assisted_commission_bp`` (integers 0..10000, platform fee + station commission ≤
    10000). Every invalid field is listed; nothing is saved then. Audited."""
    region = county_resolve(county)
    errors: list[dict[str, str]] = [
        {"field": name, "message": "unknown setting"}
        for name in sorted(set(values) - set(RULE_FIELDS))
    ]
    new: dict[str, int] = {}
    for name in RULE_FIELDS:
        if name not in values or values[name] is None:
            continue
        v = values[name]
        if isinstance(v, str) and is_ascii_digits(v.strip()):
            v = int(v.strip())
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= BP:
            errors.append({"field": name, "message": "an integer from 0 to 10000 basis points"})
            continue
        new[name] = v
    with transaction.atomic():
        rule, _ = SettlementRule.objects.select_for_update().get_or_create(county=region)
        before = snapshot(rule, fields=list(RULE_FIELDS))
        merged = {name: new.get(name, getattr(rule, name)) for name in RULE_FIELDS}
        if merged["platform_fee_bp"] + merged["station_commission_bp"] > BP:
            errors.append(
                {
                    "field": "station_commission_bp",
                    "message": "platform fee and station commission together exceed 100 %",
                }
            )
        if errors:
            raise Unprocessable(
                "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                code="invalid_rules",
                details={"errors": errors},
            )
        for name, v in new.items():
            setattr(rule, name, v)
        rule.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        rule.save(update_fields=[*RULE_FIELDS, "updated_by", "updated_at"])
        audit_record(
            action="update",
            object_type="ledger.SettlementRule",
            object_id=region.code,
            object_repr=f"settlement rules {region.name}",
            region_code=region.code,
            before=before,
            after=snapshot(rule, fields=list(RULE_FIELDS)),
            actor=actor,
        )
    return rule


@dataclass(frozen=True)
class Split:
    """A sale's gross split by the rules: fee and commission are rounded down (whole
    fen), the producer gets the remainder, so the three always add up to the gross."""

    gross_fen: int
    platform_fee_fen: int
    station_commission_fen: int
    producer_fen: int


def sale_split(*, gross_fen: int, platform_fee_bp: int, station_commission_bp: int) -> Split:
    fee = gross_fen * platform_fee_bp // BP
    commission = gross_fen * station_commission_bp // BP
    return Split(gross_fen, fee, commission, gross_fen - fee - commission)


# --- postings ----------------------------------------------------------------------------------


def transaction_post(
    *,
    county: Region | str,
    kind: str,
    memo: str,
    idempotency_key: str,
    lines: list[tuple[Account, int]],
    occurred_at: dt.datetime | None = None,
    actor: Any = None,
    currency: str = CURRENCY,
) -> Transaction:
    """Post a balanced transaction: ``lines`` are (account, fen) with debits positive
    and credits negative, summing to zero. A repeated ``idempotency_key`` with the same
    lines returns the transaction posted first; with other lines: ``idempotency_conflict``."""
    currency_check(currency)
    key = key_check(idempotency_key)
    if kind not in TransactionKind.values:
        raise ApplicationError(
            f"unknown transaction kind {kind!r}", code="invalid_kind", details={}
        )
    region = county_resolve(county)
    checked = _checked_lines(region, lines)
    when = _when(occurred_at)
    digest = lines_digest(kind, region.code, [(a.pk, amt) for a, amt in checked])

    return _post_once(
        county=region,
        kind=kind,
        memo=memo,
        key=key,
        digest=digest,
        lines=checked,
        occurred_at=when,
        actor=actor,
    )


def _provider_check(provider: Any) -> str:
    if not isinstance(provider, str) or not PROVIDER_RE.match(provider):
        raise ApplicationError(
            "provider: a payment provider's code (lower-case letters, digits, - and _)",
            code="invalid_provider",
            details={},
        )
    return provider


def payment_receive(
    *,
    county: Region | str,
    idempotency_key: str,
    buyer_key: str,
    buyer_label: str,
    amount_fen: int,
    provider: str,
    currency: str = CURRENCY,
    occurred_at: dt.datetime | None = None,
) -> Transaction:
    """A buyer pays ``amount_fen`` through ``provider``: the provider's clearing account
    is debited, the buyer's account credited (the platform holds the buyer's money until
    delivery settles it or a refund returns it)."""
    currency_check(currency)
    key = key_check(idempotency_key)
    amount = amount_check(amount_fen, "amount_fen")
    provider = _provider_check(provider)
    region = county_resolve(county)
    buyer = account_for(
        kind=AccountKind.BUYER, county=region, owner_key=buyer_key, label=buyer_label
    )
    clearing = _system(AccountKind.PROVIDER_CLEARING, region, provider)
    lines = [(clearing, amount), (buyer, -amount)]
    digest = lines_digest(TransactionKind.PAYMENT, region.code, [(a.pk, x) for a, x in lines])

    return _post_once(
        county=region,
        kind=TransactionKind.PAYMENT,
        memo=f"payment via {provider}",
        key=key,
        digest=digest,
        lines=lines,
        occurred_at=_when(occurred_at),
        gross_fen=amount,
    )


def _producer_account(region: Region, producer_key: str, producer_label: str) -> Account:
    kind = (
        AccountKind.COOPERATIVE
        if str(producer_key or "").startswith("cooperative:")
        else AccountKind.PRODUCER
    )
    return account_for(kind=kind, county=region, owner_key=producer_key, label=producer_label)


def sale_settle(
    *,
    county: Region | str,
    idempotency_key: str,
    gross_fen: int,
    producer_key: str,
    producer_label: str,
    station: Station | None,
    buyer_key: str,
    occurred_at: dt.datetime | None = None,
) -> Transaction:
    """On delivery: the buyer's paid money (``gross_fen``) is split into the producer's
    share, the platform fee and the station's commission by the county's rules (see
    :func:`sale_split` for the rounding; without a station the commission stays with
    the producer). Refused with ``not_paid`` if the buyer's account does not hold
    ``gross_fen`` (paid and not yet settled or refunded)."""
    key = key_check(idempotency_key)
    gross = amount_check(gross_fen, "gross_fen")
    region = county_resolve(county)
    rules = settlement_rules(county=region)
    split = sale_split(
        gross_fen=gross,
        platform_fee_bp=rules.platform_fee_bp,
        station_commission_bp=rules.station_commission_bp if station is not None else 0,
    )
    buyer = Account.objects.filter(key=f"{region.code}:{AccountKind.BUYER}:{buyer_key}").first()
    if buyer is None:
        raise ApplicationError(
            f"buyer {buyer_key!r} has paid nothing in county {region.code}",
            code="not_paid",
            details={"buyer_key": str(buyer_key)[:120], "gross_fen": gross},
        )
    producer = _producer_account(region, producer_key, producer_label)
    platform = _system(AccountKind.PLATFORM, region)
    raw: list[tuple[Account, int]] = [
        (buyer, gross),
        (producer, -split.producer_fen),
        (platform, -split.platform_fee_fen),
    ]
    if station is not None:
        station_account = account_for(kind=AccountKind.STATION, county=region, station=station)
        raw.append((station_account, -split.station_commission_fen))
    lines = [(a, x) for a, x in raw if x != 0]
    # the request, not the rules of the day, identifies a replay
    digest = _digest(
        ["sale", region.code, gross, producer.pk, buyer.pk, getattr(station, "pk", None)]
    )

    def run() -> Transaction:
        found = _existing(key, digest)
        if found is not None:
            return found
        with transaction.atomic():
            locked = _lock(a for a, _ in lines)
            found = _existing(key, digest)
            if found is not None:
                return found
            held = -locked[buyer.pk].balance_fen
            if held < gross:
                raise ApplicationError(
                    f"buyer {buyer_key!r} holds {held} fen, less than the sale's {gross} fen",
                    code="not_paid",
                    details={"held_fen": held, "gross_fen": gross},
                )
            return _insert(
                county=region,
                kind=TransactionKind.SALE,
                memo=f"sale {gross} fen: producer {split.producer_fen}, fee "
                f"{split.platform_fee_fen}, commission {split.station_commission_fen}",
                key=key,
                digest=digest,
                lines=lines,
                occurred_at=_when(occurred_at),
                actor=None,
                gross_fen=gross,
            )

    return _retry(run)


def _refunded(original: Transaction) -> int:
    return int(
        Transaction.objects.filter(original=original, kind=TransactionKind.REFUND).aggregate(
            s=Sum("gross_fen", default=0)
        )["s"]
    )


def sale_refund(
    *,
    county: Region | str,
    idempotency_key: str,
    original_idempotency_key: str,
    amount_fen: int,
    occurred_at: dt.datetime | None = None,
) -> Transaction:
    """Refund ``amount_fen`` of a payment or of a settled sale (a return), through the
    provider the buyer paid with. Never more than paid: all refunds of one original sum
    to at most its amount (``refund_exceeds_paid``).

    - original = a payment not yet settled: the buyer's account gives the money back
      (refused if it no longer holds it: refund the sale instead);
    - original = a sale: its split is reversed in proportion — fee and commission
      reversed so far are ``floor(part × refunded so far / gross)`` and the producer
      gives the rest, so a full refund reverses the sale exactly — and the money goes
      back through the provider of the buyer's payment."""
    key = key_check(idempotency_key)
    okey = key_check(original_idempotency_key, "original_idempotency_key")
    amount = amount_check(amount_fen, "amount_fen")
    region = county_resolve(county)
    original = Transaction.objects.filter(idempotency_key=okey, county=region).first()
    if original is None or original.kind not in (TransactionKind.PAYMENT, TransactionKind.SALE):
        raise ApplicationError(
            f"no payment or sale {okey!r} in county {region.code}",
            code="unknown_original",
            details={"original_idempotency_key": okey},
            status=404,
        )
    digest = _digest(["refund", region.code, original.pk, amount])
    found = _existing(key, digest)
    if found is not None:
        return found
    olines = list(original.lines.select_related("account"))
    if original.kind == TransactionKind.PAYMENT:
        clearing = next(ln.account for ln in olines if ln.amount_fen > 0)
        buyer = next(ln.account for ln in olines if ln.amount_fen < 0)
        accounts = [clearing, buyer]
    else:
        buyer = next(ln.account for ln in olines if ln.amount_fen > 0)
        parts = [(ln.account, -ln.amount_fen) for ln in olines if ln.amount_fen < 0]
        payment = (
            Line.objects.filter(
                account=buyer, transaction__kind=TransactionKind.PAYMENT, amount_fen__lt=0
            )
            .select_related("transaction")
            .order_by("-occurred_at", "-id")
            .first()
        )
        if payment is None:  # pragma: no cover - a sale needs a paid buyer
            raise ApplicationError("the sale's buyer has no payment", code="unknown_original")
        clearing = (
            payment.transaction.lines.filter(amount_fen__gt=0)
            .select_related("account")
            .get()
            .account
        )
        accounts = [clearing, *(a for a, _ in parts)]

    def run() -> Transaction:
        found = _existing(key, digest)
        if found is not None:
            return found
        with transaction.atomic():
            Transaction.objects.select_for_update().filter(pk=original.pk).get()
            locked = _lock(accounts)
            found = _existing(key, digest)
            if found is not None:
                return found
            before = _refunded(original)
            if before + amount > original.gross_fen:
                raise ApplicationError(
                    f"refund of {amount} fen exceeds what is left of {okey!r}: "
                    f"{original.gross_fen - before} fen",
                    code="refund_exceeds_paid",
                    details={"paid_fen": original.gross_fen, "refunded_fen": before},
                )
            lines: list[tuple[Account, int]]
            if original.kind == TransactionKind.PAYMENT:
                held = -locked[buyer.pk].balance_fen
                if held < amount:
                    raise ApplicationError(
                        f"the buyer's account holds {held} fen; the payment was settled: "
                        "refund the sale instead",
                        code="refund_exceeds_paid",
                        details={"held_fen": held},
                    )
                lines = [(buyer, amount), (clearing, -amount)]
            else:
                gross = original.gross_fen
                after = before + amount
                lines = []
                rest = amount
                producer_part: Account | None = None
                for acct, part in parts:
                    if acct.kind in (AccountKind.PRODUCER, AccountKind.COOPERATIVE):
                        producer_part = acct
                        continue
                    delta = part * after // gross - part * before // gross
                    if delta:
                        lines.append((acct, delta))
                        rest -= delta
                if rest:
                    # the producer gives the remainder (a sale whose producer share was
                    # 0 has no producer line: then the first part does)
                    lines.append((producer_part or parts[0][0], rest))
                lines.append((clearing, -amount))
            return _insert(
                county=region,
                kind=TransactionKind.REFUND,
                memo=f"refund {amount} fen of {okey}",
                key=key,
                digest=digest,
                lines=lines,
                occurred_at=_when(occurred_at),
                actor=None,
                gross_fen=amount,
                original=original,
            )

    return _retry(run)


def assisted_commission_accrue(
    *,
    county: Region | str,
    idempotency_key: str,
    station: Station,
    price_fen: int,
    occurred_at: dt.datetime | None = None,
) -> Transaction:
    """A 代购 picked up: the station earns the county's assisted-purchase commission on
    ``price_fen`` (rounded down to whole fen), owed by the platform. A zero commission
    (0 bp, or a price too small) posts nothing and is refused with ``zero_commission``."""
    key = key_check(idempotency_key)
    price = amount_check(price_fen, "price_fen")
    region = county_resolve(county)
    if not isinstance(station, Station):
        raise ApplicationError("a station is needed", code="invalid_station")
    station_account = account_for(kind=AccountKind.STATION, county=region, station=station)
    platform = _system(AccountKind.PLATFORM, region)
    digest = _digest(["assisted", region.code, station.pk, price])
    found = _existing(key, digest)
    if found is not None:
        return found
    commission = price * settlement_rules(county=region).assisted_commission_bp // BP
    if commission == 0:
        raise ApplicationError(
            f"the commission on {price} fen is 0 fen: nothing to post",
            code="zero_commission",
            details={"price_fen": price},
        )
    lines = [(platform, commission), (station_account, -commission)]

    return _post_once(
        county=region,
        kind=TransactionKind.ASSISTED,
        memo=f"assisted purchase commission on {price} fen",
        key=key,
        digest=digest,
        lines=lines,
        occurred_at=_when(occurred_at),
        gross_fen=price,
    )


def transaction_reverse(
    *, transaction_uuid: Any, county: Region | str, memo: str = "", actor: Any = None
) -> Transaction:
    """Correct a manual posting by a reversing one (every line negated); once."""
    region = county_resolve(county)
    original = Transaction.objects.filter(uuid=transaction_uuid, county=region).first()
    if original is None:
        raise ApplicationError("no such transaction", code="not_found", status=404)
    if original.kind != TransactionKind.MANUAL:
        raise ApplicationError(
            "only manual postings are reversed by hand; sales are refunded",
            code="not_reversible",
            status=409,
        )
    lines = [(ln.account, -ln.amount_fen) for ln in original.lines.select_related("account")]
    key = f"reversal:{original.uuid}"
    digest = lines_digest(TransactionKind.REVERSAL, region.code, [(a.pk, x) for a, x in lines])
    found = _existing(key, digest)
    if found is not None:
        return found
    with transaction.atomic():
        _lock(a for a, _ in lines)
        tx = _insert(
            county=region,
            kind=TransactionKind.REVERSAL,
            memo=memo or f"reversal of {original.idempotency_key}",
            key=key,
            digest=digest,
            lines=lines,
            occurred_at=timezone.now(),
            actor=actor,
            original=original,
        )
        audit_record(
            action="create",
            object_type="ledger.Transaction",
            object_id=tx.uuid,
            object_repr=str(tx),
            region_code=region.code,
            note=f"reversal of {original.uuid}",
            actor=actor,
        )
    return tx


# --- station fees from logistics ---------------------------------------------------------------


@dataclass
class FeePostResult:
    fees: int = 0
    fen: int = 0
    transactions: int = 0


def station_fees_post(
    *,
    county: Region | str,
    actor: Any = None,
    until: dt.datetime | None = None,
    at: dt.datetime | None = None,
) -> FeePostResult:
    """Book every owed station fee of the county (earned up to ``until`` when given)
    once, as of ``at`` (an aware time, default now): per station one transaction,
    platform (the network) debited, the station credited. Logistics marks the fees
    posted and hands them over in one statement (``fees_claim_owed``) inside this
    database transaction: a concurrent second call waits, then finds nothing owed, and
    if a posting fails the fees stay owed. Running it again posts nothing. The
    idempotency key names the fees (first id, last id, count)."""
    region = county_resolve(county)
    when = _when(at)
    if until is not None:
        _when(until)

    def run() -> FeePostResult:
        result = FeePostResult()
        with transaction.atomic():
            owed = logistics_fees.fees_claim_owed(county_code=region.code, until=until)
            if not owed:
                return result
            per_station: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for fee_id, station_id, amount in owed:
                per_station[station_id].append((fee_id, amount))
            stations = Station.objects.in_bulk(list(per_station))
            platform = _system(AccountKind.PLATFORM, region)
            accounts = {
                sid: account_for(kind=AccountKind.STATION, county=region, station=stations[sid])
                for sid in sorted(per_station)
            }
            _lock([platform, *accounts.values()])
            for station_id in sorted(per_station):
                rows = per_station[station_id]
                total = sum(a for _, a in rows)
                result.fees += len(rows)
                if total == 0:  # a county with free handling: nothing to book
                    continue
                account = accounts[station_id]
                lines = [(platform, total), (account, -total)]
                first, last = rows[0][0], rows[-1][0]
                _insert(
                    county=region,
                    kind=TransactionKind.STATION_FEES,
                    memo=gettext("%(n)s 笔站点服务费") % {"n": len(rows)},
                    key=f"station-fees:{region.code}:{station_id}:{first}-{last}:{len(rows)}",
                    digest=lines_digest(
                        TransactionKind.STATION_FEES, region.code, [(a.pk, x) for a, x in lines]
                    ),
                    lines=lines,
                    occurred_at=when,
                    actor=actor,
                    gross_fen=total,
                )
                result.fen += total
                result.transactions += 1
            audit_record(
                action="create",
                object_type="ledger.StationFeePosting",
                object_id=region.code,
                object_repr=f"station fees {region.name}",
                region_code=region.code,
                after={"fees": result.fees, "fen": result.fen},
                actor=actor,
            )
        return result

    return _retry(run)


@dataclass
class FeeSweepResult:
    day: dt.date
    cut: dt.datetime
    recorded: int = 0
    recorded_fen: int = 0
    posted: int = 0
    posted_fen: int = 0
    transactions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "cut": self.cut.isoformat(),
            "recorded": self.recorded,
            "recorded_fen": self.recorded_fen,
            "posted": self.posted,
            "posted_fen": self.posted_fen,
            "transactions": self.transactions,
        }


def fee_sweep_cut(day: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """Where the sweep of ``day`` stops: the end of that day in China time (the last
    microsecond), or ``now`` while the day is still running."""
    end = dt.datetime.combine(day, dt.time.max, tzinfo=CHINA)
    return min(end, (now or timezone.now()).astimezone(CHINA))


def station_fees_sweep(
    *,
    county: Region | str,
    day: dt.date | None = None,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> FeeSweepResult:
    """The daily sweep of a county's station fees (ADR: station fees posted daily):
    record the fee of every parcel and shipment its stations handled up to the end of
    ``day`` (China time; default today, up to now), then post every owed fee earned by
    then to the ledger as of that cut. Idempotent: a second run of the same day records
    and posts nothing more. A day in the future is refused (``future_day``)."""
    region = county_resolve(county)
    current = (now or timezone.now()).astimezone(CHINA)
    day = day or current.date()
    if day > current.date():
        raise ApplicationError(
            gettext("日期 %(day)s 尚未到来，不能结算站点服务费") % {"day": day.isoformat()},
            code="future_day",
            details={"day": day.isoformat()},
        )
    cut = fee_sweep_cut(day, current)
    result = FeeSweepResult(day=day, cut=cut)
    recorded = logistics_fees.accrue(scope=RegionScope.for_regions([region.code]), until=cut)
    result.recorded = recorded.down + recorded.up
    result.recorded_fen = recorded.down_fen + recorded.up_fen
    posted = station_fees_post(county=region, actor=actor, until=cut, at=cut)
    result.posted, result.posted_fen = posted.fees, posted.fen
    result.transactions = posted.transactions
    return result
