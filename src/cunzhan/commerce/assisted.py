"""Every write of assisted purchase (代购): record, mark ordered, link the inbound parcel,
cancel, and the sweep that links parcels and accrues the station's commission
(docs/adr/0016-assisted-purchase.md).

Parcels belong to ``logistics``: they are read through its selectors, never written
from here (the link is a column of the purchase). The commission is posted by the
ledger's ``assisted_commission_accrue`` with the purchase's idempotency key
(``assisted:<uuid>``), when the linked parcel's state is ``picked_up``. The sweep
(:func:`assisted_sweep`) is idempotent, like ``logistics/fees.accrue``: each purchase is
advanced under its row lock and the ledger key makes a second posting impossible, so a
repeated or a concurrent sweep posts nothing more.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce.assisted_models import LINKABLE, AssistedPurchase, AssistedStatus, Shop
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone, reject_nul
from cunzhan.ledger import services as ledger
from cunzhan.logistics import selectors as parcels
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Direction, Parcel, in_states
from cunzhan.network.models import Station, StationKind, StationStatus

MAX_PRICE_FEN = 10_000_000_00  # ¥10,000,000: beyond is a typing error
LINK_STATES = (sm.AT_STATION, sm.PICKED_UP)  # a parcel that reached the station
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,40}$")
AUDIT_FIELDS = [
    "status",
    "item",
    "price_fen",
    "shop",
    "shop_order_no",
    "tracking_number",
    "parcel_id",
    "commission_bp",
    "commission_fen",
]


def _error(field: str, message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, details={"field": field})


def county_of(station: Station) -> str:
    return station.region_id[:6]


def station_visible(scope: RegionScope, station: Station) -> bool:
    if not scope.contains_code(station.region_id):
        return False
    return scope.everything or scope.station_ids is None or station.pk in scope.station_ids


def price_parse(value: Any) -> int:
    """Yuan as typed ('12.5', '1,299.00', 12) -> integer fen, exactly: more than two
    decimals, zero or less, or not a number is refused with ``invalid_price``."""
    if isinstance(value, bool) or value is None:
        raise _error("price", _("请填写价格（元）"), "invalid_price")
    text = str(value).strip().replace(",", "").replace("¥", "").replace("元", "")
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise _error(
            "price", _("价格不是金额：%(v)s") % {"v": str(value)[:20]}, "invalid_price"
        ) from None
    if not amount.is_finite():
        raise _error("price", _("价格不是金额：%(v)s") % {"v": str(value)[:20]}, "invalid_price")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise _error(
            "price", _("价格最多两位小数（到分）：%(v)s") % {"v": text[:20]}, "invalid_price"
        )
    if fen <= 0:
        raise _error("price", _("价格必须大于 0（收到 %(v)s）") % {"v": text[:20]}, "invalid_price")
    if fen > MAX_PRICE_FEN:
        raise _error("price", _("价格过大：%(v)s") % {"v": text[:20]}, "invalid_price")
    return int(fen)


def _text(value: Any, *, field: str, max_len: int, required: bool = True) -> str:
    value = str(value or "").strip()
    reject_nul(**{field: value})
    if required and not value:
        raise _error(field, _("%(f)s 不能为空") % {"f": field}, "required")
    if len(value) > max_len:
        raise _error(field, _("%(f)s 最多 %(n)s 个字符") % {"f": field, "n": max_len}, "too_long")
    return value


def _tracking(value: Any) -> str:
    tn = str(value or "").strip().upper()
    reject_nul(tracking_number=tn)
    if tn and not TRACKING_RE.match(tn):
        raise _error(
            "tracking_number",
            _("快递单号格式不正确：%(v)s（4–40 位字母、数字）") % {"v": tn[:40]},
            "invalid_tracking",
        )
    return tn


def commission_rate(*, station: Station) -> int:
    """The county's assisted-purchase commission, in basis points (ledger rules)."""
    return int(ledger.settlement_rules(county=county_of(station)).assisted_commission_bp)


def _audit(action: str, p: AssistedPurchase, before: Any, actor: Any, note: str = "") -> None:
    audit_record(
        action=action,
        object_type="commerce.AssistedPurchase",
        object_id=p.uuid,
        object_repr=str(p)[:200],
        region_code=p.village_id,
        before=before,
        after=snapshot(p, AUDIT_FIELDS),
        note=note,
        actor=actor,
    )


def _locked(scope: RegionScope, purchase: AssistedPurchase) -> AssistedPurchase:
    """The purchase row, locked, if the caller's scope reaches its station."""
    p = (
        AssistedPurchase.objects.select_for_update(of=("self",))
        .select_related("station")
        .filter(pk=purchase.pk)
        .first()
    )
    if p is None or not station_visible(scope, p.station):
        raise NotFound()
    return p


# --- record, order, cancel ------------------------------------------------------------------


@transaction.atomic
def assisted_record(
    *,
    scope: RegionScope,
    station: Station,
    villager_name: str,
    villager_phone: str,
    item: str,
    price: Any,
    shop: str,
    shop_order_no: str = "",
    tracking_number: str = "",
    actor: Any = None,
) -> AssistedPurchase:
    """Record a villager's order from an outside shop at ``station`` (the caller's).
    ``price`` is in yuan as typed; it is stored as integer fen. With a shop order number
    the purchase starts as ``ordered``."""
    if not station_visible(scope, station):
        raise NotFound()
    if station.kind != StationKind.VILLAGE_STATION or station.status != StationStatus.ACTIVE:
        raise _error("station", _("只有运营中的村级服务站可以代购"), "station_inactive")
    name = _text(villager_name, field="villager_name", max_len=80)
    phone = clean_phone(str(villager_phone or ""), field="villager_phone")
    item = _text(item, field="item", max_len=200)
    fen = price_parse(price)
    if shop not in Shop.values:
        raise _error(
            "shop",
            _("未知的店铺平台：%(s)s（可选：%(c)s）")
            % {"s": str(shop)[:20], "c": ", ".join(Shop.values)},
            "invalid_shop",
        )
    order_no = _text(shop_order_no, field="shop_order_no", max_len=64, required=False)
    now = timezone.now()
    p = AssistedPurchase.objects.create(
        station=station,
        village_id=station.region_id,
        villager_name=name,
        villager_phone=phone,
        phone_last4=phone[-4:],
        item=item,
        price_fen=fen,
        shop=shop,
        shop_order_no=order_no,
        tracking_number=_tracking(tracking_number),
        commission_bp=commission_rate(station=station),
        status=AssistedStatus.ORDERED if order_no else AssistedStatus.RECORDED,
        ordered_at=now if order_no else None,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    _audit("create", p, None, actor)
    return p


@transaction.atomic
def assisted_mark_ordered(
    *,
    scope: RegionScope,
    purchase: AssistedPurchase,
    shop_order_no: str,
    tracking_number: str = "",
    actor: Any = None,
) -> AssistedPurchase:
    """The operator placed the order: the shop's order number (and, when the shop gives
    it, the carrier's tracking number). Allowed while the parcel is not linked yet."""
    p = _locked(scope, purchase)
    if p.status not in LINKABLE:
        raise ApplicationError(
            _("状态为“%(s)s”的代购不能再修改订单") % {"s": p.get_status_display()},
            code="invalid_status",
            details={"status": p.status},
        )
    before = snapshot(p, AUDIT_FIELDS)
    p.shop_order_no = _text(shop_order_no, field="shop_order_no", max_len=64)
    tn = _tracking(tracking_number)
    if tn:
        p.tracking_number = tn
    if p.status == AssistedStatus.RECORDED:
        p.status = AssistedStatus.ORDERED
        p.ordered_at = timezone.now()
    p.save(update_fields=["shop_order_no", "tracking_number", "status", "ordered_at", "updated_at"])
    _audit("update", p, before, actor, "ordered")
    return p


@transaction.atomic
def assisted_cancel(
    *, scope: RegionScope, purchase: AssistedPurchase, reason: str = "", actor: Any = None
) -> AssistedPurchase:
    """Cancel before the villager picked the parcel up (no commission is owed)."""
    p = _locked(scope, purchase)
    if p.status in (AssistedStatus.PICKED_UP, AssistedStatus.CANCELLED):
        raise ApplicationError(
            _("状态为“%(s)s”的代购不能取消") % {"s": p.get_status_display()},
            code="invalid_status",
            details={"status": p.status},
        )
    before = snapshot(p, AUDIT_FIELDS)
    p.status = AssistedStatus.CANCELLED
    p.cancelled_at = timezone.now()
    p.save(update_fields=["status", "cancelled_at", "updated_at"])
    _audit("update", p, before, actor, _text(reason, field="reason", max_len=200, required=False))
    return p


# --- linking the inbound parcel -------------------------------------------------------------


def _parcel_linked(parcel: Parcel, but: AssistedPurchase | None = None) -> bool:
    qs = AssistedPurchase.objects.filter(parcel=parcel)
    if but is not None:
        qs = qs.exclude(pk=but.pk)
    return qs.exists()


def _check_parcel(p: AssistedPurchase, parcel: Parcel) -> None:
    if parcel.station_id != p.station_id:
        raise _error(
            "parcel",
            _("包裹 %(t)s 属于另一个站点，不能关联到本站的代购") % {"t": parcel.tracking_number},
            "wrong_station",
        )
    if parcel.direction != Direction.DOWN or parcel.state not in LINK_STATES:
        raise _error(
            "parcel",
            _("包裹 %(t)s 还没有到站（状态：%(s)s）")
            % {"t": parcel.tracking_number, "s": parcel.state},
            "parcel_not_arrived",
        )
    if _parcel_linked(parcel, but=p):
        raise _error(
            "parcel",
            _("包裹 %(t)s 已关联到另一笔代购") % {"t": parcel.tracking_number},
            "parcel_linked",
        )


def _attach(p: AssistedPurchase, parcel: Parcel, how: str) -> None:
    p.parcel = parcel
    p.linked_by = how
    p.status = AssistedStatus.ARRIVED
    p.arrived_at = parcel.state_at if parcel.state == sm.AT_STATION else timezone.now()
    if not p.tracking_number:
        p.tracking_number = parcel.tracking_number
    p.save(
        update_fields=[
            "parcel",
            "linked_by",
            "status",
            "arrived_at",
            "tracking_number",
            "updated_at",
        ]
    )


def assisted_link(
    *,
    scope: RegionScope,
    purchase: AssistedPurchase,
    tracking_number: str = "",
    parcel_id: Any = None,
    actor: Any = None,
) -> AssistedPurchase:
    """Link the inbound parcel by the carrier tracking number the operator enters, or by
    the parcel the operator picked from the station's waiting parcels (``parcel_id``).
    A parcel already picked up completes the purchase (commission) at once."""
    with transaction.atomic():
        p = _locked(scope, purchase)
        if p.status not in LINKABLE:
            raise ApplicationError(
                _("状态为“%(s)s”的代购不能关联包裹") % {"s": p.get_status_display()},
                code="invalid_status",
                details={"status": p.status},
            )
        visible = parcels.parcels_in_scope(scope=scope).select_related("carrier")
        if parcel_id:
            parcel = visible.filter(uuid=parcel_id).first()
            if parcel is None:
                raise _error("parcel_id", _("找不到该包裹"), "unknown_parcel")
            how = "pick"
        else:
            tn = _tracking(tracking_number)
            if not tn:
                raise _error("tracking_number", _("请填写快递单号或选择包裹"), "required")
            found = list(visible.filter(tracking_number=tn)[:5])
            if not found:
                raise _error(
                    "tracking_number",
                    _("找不到快递单号为 %(t)s 的包裹（可能还没到站）") % {"t": tn},
                    "unknown_tracking",
                )
            here = [x for x in found if x.station_id == p.station_id]
            parcel = here[0] if here else found[0]
            how = "tracking"
        _check_parcel(p, parcel)
        before = snapshot(p, AUDIT_FIELDS)
        try:
            with transaction.atomic():
                _attach(p, parcel, how)
        except IntegrityError:
            raise _error(
                "parcel",
                _("包裹 %(t)s 已关联到另一笔代购") % {"t": parcel.tracking_number},
                "parcel_linked",
            ) from None
        _audit("update", p, before, actor, f"linked by {how}")
    return _complete(p)[0] if parcel.state == sm.PICKED_UP else p


# --- completion: pickup -> commission ---------------------------------------------------------


def _complete(purchase: AssistedPurchase) -> tuple[AssistedPurchase, bool]:
    """``arrived`` and its parcel picked up: mark it picked up and accrue the commission,
    once (row lock + the ledger's idempotency key). True when this call did it."""
    with transaction.atomic():
        p = (
            AssistedPurchase.objects.select_for_update(of=("self",))
            .select_related("station", "parcel")
            .get(pk=purchase.pk)
        )
        if p.status != AssistedStatus.ARRIVED or p.parcel is None:
            return p, False
        if p.parcel.state != sm.PICKED_UP:
            return p, False
        before = snapshot(p, AUDIT_FIELDS)
        picked_at = p.parcel.state_at or timezone.now()
        try:
            txn = ledger.assisted_commission_accrue(
                county=county_of(p.station),
                idempotency_key=p.idempotency_key,
                station=p.station,
                price_fen=p.price_fen,
                occurred_at=picked_at,
            )
        except ApplicationError as exc:
            if exc.code != "zero_commission":
                raise
            p.commission_fen = 0
        else:
            p.commission_txn = txn.uuid
            p.commission_fen = int(
                sum(ln.amount_fen for ln in txn.lines.all() if ln.amount_fen < 0) * -1
            )
        p.status = AssistedStatus.PICKED_UP
        p.picked_up_at = picked_at
        p.save(
            update_fields=[
                "status",
                "picked_up_at",
                "commission_fen",
                "commission_txn",
                "updated_at",
            ]
        )
        _audit("update", p, before, None, "picked up: commission accrued")
    return p, True


@dataclass
class SweepResult:
    linked_tracking: int = 0
    linked_phone: int = 0
    picked_up: int = 0
    commission_fen: int = 0


def _sweep_link(scope: RegionScope, result: SweepResult) -> None:
    """Link waiting purchases: by tracking number at the same station; else, for a
    purchase without one, by the villager's phone when exactly one unlinked parcel at
    the station and exactly one open purchase share it."""
    open_ = list(
        AssistedPurchase.objects.filter(scope.q("village_id"), status__in=LINKABLE, parcel=None)
        .select_related("station")
        .order_by("pk")
    )
    if not scope.everything and scope.station_ids is not None:
        open_ = [p for p in open_ if p.station_id in scope.station_ids]
    if not open_:
        return
    station_ids = sorted({p.station_id for p in open_})
    linked_ids = set(
        AssistedPurchase.objects.filter(
            parcel__isnull=False, station_id__in=station_ids
        ).values_list("parcel_id", flat=True)
    )
    arrived = [
        x
        for x in parcels.parcels_in_scope(scope=scope).filter(
            in_states(*LINK_STATES), station_id__in=station_ids, direction=Direction.DOWN
        )
        if x.pk not in linked_ids
    ]
    by_tracking = {(x.station_id, x.tracking_number): x for x in arrived}
    claimed = {(p.station_id, p.tracking_number) for p in open_ if p.tracking_number}
    by_phone: dict[tuple[int | None, str], list[Parcel]] = defaultdict(list)
    for x in arrived:
        if x.state == sm.AT_STATION and (x.station_id, x.tracking_number) not in claimed:
            by_phone[(x.station_id, x.recipient_phone)].append(x)
    wants: dict[tuple[int, str], list[AssistedPurchase]] = defaultdict(list)
    for p in open_:
        if not p.tracking_number:
            wants[(p.station_id, p.villager_phone)].append(p)
    for p in open_:
        if p.tracking_number:
            parcel = by_tracking.get((p.station_id, p.tracking_number))
            how = "tracking"
        else:
            key = (p.station_id, p.villager_phone)
            candidates = by_phone.get(key, [])
            unambiguous = len(candidates) == 1 and len(wants[key]) == 1
            parcel = candidates[0] if unambiguous else None
            how = "phone"
        if parcel is None:
            continue
        with transaction.atomic():
            locked = AssistedPurchase.objects.select_for_update(of=("self",)).get(pk=p.pk)
            if locked.status not in LINKABLE or locked.parcel_id is not None:
                continue  # a concurrent sweep or the operator got there first
            if _parcel_linked(parcel):
                continue
            before = snapshot(locked, AUDIT_FIELDS)
            try:
                with transaction.atomic():
                    _attach(locked, parcel, how)
            except IntegrityError:
                continue  # linked concurrently to another purchase
            _audit("update", locked, before, None, f"linked by {how} (sweep)")
        if how == "tracking":
            result.linked_tracking += 1
        else:
            result.linked_phone += 1


def assisted_sweep(*, scope: RegionScope) -> SweepResult:
    """Link the parcels that arrived and accrue the commission of those picked up.
    Idempotent: run it as often as you like, from several processes at once."""
    result = SweepResult()
    _sweep_link(scope, result)
    due = AssistedPurchase.objects.filter(
        scope.q("village_id"),
        in_states(sm.PICKED_UP, prefix="parcel__"),
        status=AssistedStatus.ARRIVED,
    ).order_by("pk")
    if not scope.everything and scope.station_ids is not None:
        due = due.filter(station_id__in=list(scope.station_ids))
    for p in list(due):
        done, did = _complete(p)
        if did:
            result.picked_up += 1
            result.commission_fen += done.commission_fen or 0
    return result


def assisted_sweep_station(*, scope: RegionScope, station: Station) -> SweepResult:
    """The sweep narrowed to one station of the caller's (the operator's button)."""
    if not station_visible(scope, station):
        raise NotFound()
    return assisted_sweep(
        scope=RegionScope(prefixes=(station.region_id,), station_ids=(station.pk,))
    )
