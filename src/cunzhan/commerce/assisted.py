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

from cunzhan.accounts.roles import Perm
from cunzhan.commerce.assisted_models import (
    DEFAULT_MAX_PRICE_FEN,
    DEFAULT_REVIEW_ABOVE_FEN,
    LINKABLE,
    AssistedLimits,
    AssistedPurchase,
    AssistedStatus,
    ReviewState,
    Shop,
)
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    Unprocessable,
)
from cunzhan.core.money import format_fen
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone, is_ascii_digits, reject_nul
from cunzhan.ledger import services as ledger
from cunzhan.logistics import selectors as parcels
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Direction, Parcel, in_states
from cunzhan.network.models import Station, StationKind, StationStatus

MAX_PRICE_FEN = 10_000_000_00  # ¥10,000,000: beyond is a typing error
# a parcel waiting at the station: one already picked up is never linked (it cannot be
# the delivery of a purchase made for someone who has not received it yet)
LINK_STATES = (sm.AT_STATION,)
# the parcel will not reach the villager: the purchase earns nothing
GONE_STATES = (sm.RETURN_DUE, sm.REFUSED, sm.DAMAGED, sm.COLLECTED, sm.RETURNED, sm.LOST)
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
    "review_state",
    "review_note",
    "no_commission_reason",
]


def _error(field: str, message: str, code: str) -> ApplicationError:
    """A value that breaks a rule (422, naming the field)."""
    return Unprocessable(message, code=code, details={"field": field})


def _state(field: str, message: str, code: str) -> ApplicationError:
    """The state of the purchase, its station or its parcel forbids it now (409)."""
    return Conflict(message, code=code, details={"field": field})


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


def assisted_limits(*, county_code: str) -> AssistedLimits:
    """The county's limits on one purchase; the defaults (unsaved) if it has set none."""
    code = county_code[:6]
    found = AssistedLimits.objects.filter(county_id=code).first()
    return found or AssistedLimits(
        county_id=code,
        max_price_fen=DEFAULT_MAX_PRICE_FEN,
        review_above_fen=DEFAULT_REVIEW_ABOVE_FEN,
        shop_max_fen={},
    )


def _fen_setting(value: Any, field: str, low: int) -> int:
    if isinstance(value, str) and is_ascii_digits(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_PRICE_FEN:
        raise _error(
            field,
            _("%(f)s 必须是 %(lo)s 到 %(hi)s 之间的整数（分）")
            % {"f": field, "lo": low, "hi": MAX_PRICE_FEN},
            "invalid_limit",
        )
    return int(value)


@transaction.atomic
def assisted_limits_update(
    *,
    scope: RegionScope,
    county_code: str,
    max_price_fen: Any = None,
    review_above_fen: Any = None,
    shop_max_fen: Any = None,
    actor: Any = None,
) -> AssistedLimits:
    """Set the county's most per purchase, its review threshold (≤ the most) and the
    most per shop platform (``{shop: fen}``; an empty dict clears them). Audited; an
    invalid value is refused naming the field, nothing saved."""
    from cunzhan.logistics.county_settings import county_get

    county = county_get(scope=scope, county_code=county_code)
    current = assisted_limits(county_code=county.code)
    before = snapshot(current, ["max_price_fen", "review_above_fen", "shop_max_fen"])
    new_max = (
        current.max_price_fen
        if max_price_fen is None
        else _fen_setting(max_price_fen, "max_price_fen", 1)
    )
    new_review = (
        current.review_above_fen
        if review_above_fen is None
        else _fen_setting(review_above_fen, "review_above_fen", 0)
    )
    if new_review > new_max:
        raise _error(
            "review_above_fen",
            _("审核门槛（%(r)s）不能高于单笔上限（%(m)s）")
            % {"r": format_fen(new_review), "m": format_fen(new_max)},
            "invalid_limit",
        )
    shops = dict(current.shop_max_fen or {})
    if shop_max_fen is not None:
        if not isinstance(shop_max_fen, dict):
            raise _error("shop_max_fen", _("按店铺平台的上限：{平台: 分}"), "invalid_limit")
        shops = {}
        for shop, fen in shop_max_fen.items():
            if shop not in Shop.values:
                raise _error(
                    "shop_max_fen",
                    _("未知的店铺平台：%(s)s（可选：%(c)s）")
                    % {"s": str(shop)[:20], "c": ", ".join(Shop.values)},
                    "invalid_shop",
                )
            shops[shop] = _fen_setting(fen, "shop_max_fen", 1)
    limits, _created = AssistedLimits.objects.select_for_update().get_or_create(
        county_id=county.code
    )
    limits.max_price_fen = new_max
    limits.review_above_fen = new_review
    limits.shop_max_fen = shops
    limits.updated_by = actor if getattr(actor, "pk", None) else None
    limits.save()
    audit_record(
        action="update",
        object_type="commerce.AssistedLimits",
        object_id=county.code,
        object_repr=str(limits),
        region_code=county.code,
        before=before,
        after=snapshot(limits, ["max_price_fen", "review_above_fen", "shop_max_fen"]),
        actor=actor,
    )
    return limits


def _check_limits(station: Station, shop: str, fen: int) -> AssistedLimits:
    """The purchase's price within the county's limits (over all shops, and the shop's
    own where the county sets one)."""
    limits = assisted_limits(county_code=county_of(station))
    if fen > limits.max_price_fen:
        raise Unprocessable(
            _("价格 %(p)s 超过本县单笔代购上限 %(m)s")
            % {"p": format_fen(fen), "m": format_fen(limits.max_price_fen)},
            code="price_over_limit",
            details={"field": "price", "limit_fen": limits.max_price_fen},
        )
    shop_max = (limits.shop_max_fen or {}).get(shop)
    if shop_max is not None and fen > int(shop_max):
        raise Unprocessable(
            _("价格 %(p)s 超过本县在该店铺平台的单笔上限 %(m)s")
            % {"p": format_fen(fen), "m": format_fen(int(shop_max))},
            code="price_over_shop_limit",
            details={"field": "price", "shop": shop, "limit_fen": int(shop_max)},
        )
    return limits


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
        raise _state("station", _("只有运营中的村级服务站可以代购"), "station_inactive")
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
    limits = _check_limits(station, shop, fen)
    review = ReviewState.PENDING if fen > limits.review_above_fen else ReviewState.NONE
    tn = _tracking(tracking_number)
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
        tracking_number=tn,
        tracking_at=now if tn else None,
        commission_bp=commission_rate(station=station),
        status=AssistedStatus.ORDERED if order_no else AssistedStatus.RECORDED,
        ordered_at=now if order_no else None,
        recorded_by=actor if getattr(actor, "pk", None) else None,
        review_state=review,
    )
    pending = review == ReviewState.PENDING
    _audit("create", p, None, actor, _("金额超过审核门槛，待县级审核") if pending else "")
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
        raise Conflict(
            _("状态为“%(s)s”的代购不能再修改订单") % {"s": p.get_status_display()},
            code="invalid_status",
            details={"status": p.status},
        )
    before = snapshot(p, AUDIT_FIELDS)
    p.shop_order_no = _text(shop_order_no, field="shop_order_no", max_len=64)
    tn = _tracking(tracking_number)
    if tn and tn != p.tracking_number:
        p.tracking_number = tn
        p.tracking_at = timezone.now()
    if p.status == AssistedStatus.RECORDED:
        p.status = AssistedStatus.ORDERED
        p.ordered_at = timezone.now()
    p.save(
        update_fields=[
            "shop_order_no",
            "tracking_number",
            "tracking_at",
            "status",
            "ordered_at",
            "updated_at",
        ]
    )
    _audit("update", p, before, actor, _("已在店铺下单"))
    return p


@transaction.atomic
def assisted_cancel(
    *, scope: RegionScope, purchase: AssistedPurchase, reason: str = "", actor: Any = None
) -> AssistedPurchase:
    """Cancel before the villager picked the parcel up (no commission is owed)."""
    p = _locked(scope, purchase)
    if p.status in (AssistedStatus.PICKED_UP, AssistedStatus.CANCELLED):
        raise Conflict(
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


def identity_refusal(p: AssistedPurchase, parcel: Parcel) -> ApplicationError | None:
    """Why ``parcel`` cannot be the delivery of purchase ``p``, or None. Facts the
    operator cannot invent: the parcel is the carrier's (station, recipient phone) and
    the server's (when it was announced); the purchase's recording time is the
    server's too. Refused: another station's parcel, another villager's parcel (the
    recipient's phone is not the purchase's), a parcel announced before the purchase
    was recorded (it was ordered before, by someone else or for something else)."""
    t = parcel.tracking_number
    if parcel.station_id != p.station_id:
        return _error(
            "parcel",
            _("包裹 %(t)s 属于另一个站点，不能关联到本站的代购") % {"t": t},
            "wrong_station",
        )
    if parcel.direction != Direction.DOWN:
        return _error(
            "parcel", _("包裹 %(t)s 是寄出的包裹，不是代购的到货") % {"t": t}, "parcel_not_arrived"
        )
    if parcel.recipient_phone != p.villager_phone:
        return _error(
            "parcel",
            _("包裹 %(t)s 的收件人不是这笔代购的村民（手机号不符）") % {"t": t},
            "other_villager",
        )
    if p.created_at is not None and parcel.created_at <= p.created_at:
        return _error(
            "parcel",
            _("包裹 %(t)s 在这笔代购登记之前就已发出，不可能是它的到货") % {"t": t},
            "parcel_before_purchase",
        )
    return None


def _check_parcel(p: AssistedPurchase, parcel: Parcel) -> None:
    refusal = identity_refusal(p, parcel)
    if refusal is not None:
        raise refusal
    if parcel.state == sm.PICKED_UP:
        raise _state(
            "parcel",
            _("包裹 %(t)s 已经被取走，不能再关联代购") % {"t": parcel.tracking_number},
            "parcel_picked_up",
        )
    if parcel.state not in LINK_STATES:
        raise _state(
            "parcel",
            _("包裹 %(t)s 还没有到站（状态：%(s)s）")
            % {"t": parcel.tracking_number, "s": parcel.state},
            "parcel_not_arrived",
        )
    if _parcel_linked(parcel, but=p):
        raise _state(
            "parcel",
            _("包裹 %(t)s 已关联到另一笔代购") % {"t": parcel.tracking_number},
            "parcel_linked",
        )


def _attach(p: AssistedPurchase, parcel: Parcel, how: str) -> None:
    p.parcel = parcel
    p.linked_by = how
    p.status = AssistedStatus.ARRIVED
    p.arrived_at = parcel.state_at or timezone.now()
    if not p.tracking_number:
        p.tracking_number = parcel.tracking_number
        p.tracking_at = timezone.now()
    p.save(
        update_fields=[
            "parcel",
            "linked_by",
            "status",
            "arrived_at",
            "tracking_number",
            "tracking_at",
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
    Only a parcel waiting at the station, for the same villager, announced after the
    purchase was recorded (:func:`identity_refusal`); the commission waits for its
    hand-out."""
    with transaction.atomic():
        p = _locked(scope, purchase)
        if p.status not in LINKABLE:
            raise Conflict(
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
            raise _state(
                "parcel",
                _("包裹 %(t)s 已关联到另一笔代购") % {"t": parcel.tracking_number},
                "parcel_linked",
            ) from None
        _audit("update", p, before, actor, _("已关联包裹（%(h)s）") % {"h": how})
    return p


# --- completion: pickup -> commission ---------------------------------------------------------


def _finish_without_commission(p: AssistedPurchase, status: str, reason: str) -> None:
    before = snapshot(p, AUDIT_FIELDS)
    p.status = status
    p.commission_fen = 0
    p.no_commission_reason = reason
    if status == AssistedStatus.PICKED_UP:
        p.picked_up_at = p.parcel.state_at if p.parcel else timezone.now()
    p.save(
        update_fields=[
            "status",
            "commission_fen",
            "no_commission_reason",
            "picked_up_at",
            "updated_at",
        ]
    )
    _audit("update", p, before, None, NO_COMMISSION_NOTES[reason]())


NO_COMMISSION_NOTES = {
    "returned": lambda: _("包裹未被村民取走（退回、拒收或丢失）：无佣金"),
    "rejected": lambda: _("县级审核驳回：无佣金"),
    "identity": lambda: _("包裹不是这位村民在登记之后收到的：无佣金"),
}


def _complete(purchase: AssistedPurchase) -> tuple[AssistedPurchase, bool]:
    """``arrived`` and its parcel handed out to the villager: mark it picked up and
    accrue the commission, once (row lock + the ledger's idempotency key). True when
    this call completed it. The commission is HELD (nothing happens) while the parcel
    waits, while it was closed without a hand-out (no code, no phone and name), and
    while the county's review is pending; a parcel that goes back, a rejected review,
    or a parcel that is not the villager's later delivery completes it with nothing."""
    with transaction.atomic():
        p = (
            AssistedPurchase.objects.select_for_update(of=("self",))
            .select_related("station", "parcel")
            .get(pk=purchase.pk)
        )
        if p.status != AssistedStatus.ARRIVED or p.parcel is None:
            return p, False
        if p.parcel.state in GONE_STATES:
            _finish_without_commission(p, AssistedStatus.RETURNED, "returned")
            return p, True
        if p.parcel.state != sm.PICKED_UP:
            return p, False
        handout = parcels.parcels_handed_out(parcel_ids=[p.parcel.pk]).get(p.parcel.pk)
        if handout is None or handout[0] != p.station_id:
            return p, False  # held: closed by a bulk scan, not handed out here
        if identity_refusal(p, p.parcel) is not None:
            _finish_without_commission(p, AssistedStatus.PICKED_UP, "identity")
            return p, True
        if p.review_state == ReviewState.PENDING:
            return p, False  # held until the county reviews it
        if p.review_state == ReviewState.REJECTED:
            _finish_without_commission(p, AssistedStatus.PICKED_UP, "rejected")
            return p, True
        before = snapshot(p, AUDIT_FIELDS)
        picked_at = handout[1]
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
        _audit("update", p, before, None, _("村民已取件：佣金已入账"))
    return p, True


# --- county review -----------------------------------------------------------------------------


def assisted_review(
    *,
    scope: RegionScope,
    purchase: AssistedPurchase,
    approve: bool,
    note: str = "",
    actor: Any,
) -> AssistedPurchase:
    """The county's decision on a purchase above its review threshold: approved, its
    commission may accrue (at once if the parcel was already handed out); rejected, it
    never earns one. Only a county reviewer (``review_assisted``) and never the person
    who recorded the purchase; audited."""
    if actor is None or not getattr(actor, "pk", None) or not actor.can(Perm.REVIEW_ASSISTED):
        raise PermissionDenied(_("只有县级审核人员可以审核代购"))
    note = _text(note, field="note", max_len=200, required=not approve)
    with transaction.atomic():
        p = _locked(scope, purchase)
        if p.review_state != ReviewState.PENDING:
            raise Conflict(
                _("这笔代购不在待审核状态（%(s)s）") % {"s": p.get_review_state_display()},
                code="not_pending",
                details={"review_state": p.review_state},
            )
        if p.recorded_by_id == actor.pk:
            raise Unprocessable(
                _("登记代购的人不能审核自己的代购"),
                code="same_person",
                details={"field": "actor"},
            )
        before = snapshot(p, AUDIT_FIELDS)
        p.review_state = ReviewState.APPROVED if approve else ReviewState.REJECTED
        p.reviewed_by = actor
        p.reviewed_at = timezone.now()
        p.review_note = note
        p.save(
            update_fields=[
                "review_state",
                "reviewed_by",
                "reviewed_at",
                "review_note",
                "updated_at",
            ]
        )
        _audit(
            "update",
            p,
            before,
            actor,
            (_("县级审核通过：%(n)s") if approve else _("县级审核驳回：%(n)s")) % {"n": note},
        )
    return _complete(p)[0]


@dataclass
class SweepResult:
    linked_tracking: int = 0
    linked_phone: int = 0
    picked_up: int = 0
    commission_fen: int = 0
    returned: int = 0


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
    # waiting parcels; and those already handed out (or gone back), for a tracking
    # number the purchase named before the parcel was announced (before this sweep ran)
    named = sorted({p.tracking_number for p in open_ if p.tracking_number})
    visible = parcels.parcels_in_scope(scope=scope).filter(
        station_id__in=station_ids, direction=Direction.DOWN
    )
    found = list(visible.filter(in_states(*LINK_STATES)))
    for i in range(0, len(named), 500):
        found += visible.filter(
            in_states(sm.PICKED_UP, *GONE_STATES), tracking_number__in=named[i : i + 500]
        )
    arrived = [x for x in found if x.pk not in linked_ids]
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
            candidates = [x for x in by_phone.get(key, []) if identity_refusal(p, x) is None]
            unambiguous = len(candidates) == 1 and len(wants[key]) == 1
            parcel = candidates[0] if unambiguous else None
            how = "phone"
        if parcel is None or identity_refusal(p, parcel) is not None:
            continue  # another villager's, or announced before the purchase: never
        if parcel.state != sm.AT_STATION and not (
            how == "tracking" and p.tracking_at is not None and p.tracking_at < parcel.created_at
        ):
            continue  # not waiting: only for a tracking number named before it existed
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
            _audit("update", locked, before, None, _("同步时关联包裹（%(h)s）") % {"h": how})
        if how == "tracking":
            result.linked_tracking += 1
        else:
            result.linked_phone += 1


def assisted_sweep(*, scope: RegionScope) -> SweepResult:
    """Link the parcels that arrived, accrue the commission of those handed out to
    their villager (and reviewed, above the threshold), close with nothing those whose
    parcel went back. Idempotent: run it as often as you like, from several processes at once."""
    result = SweepResult()
    _sweep_link(scope, result)
    due = AssistedPurchase.objects.filter(
        scope.q("village_id"),
        in_states(sm.PICKED_UP, *GONE_STATES, prefix="parcel__"),
        status=AssistedStatus.ARRIVED,
    ).order_by("pk")
    if not scope.everything and scope.station_ids is not None:
        due = due.filter(station_id__in=list(scope.station_ids))
    for p in list(due):
        done, did = _complete(p)
        if not did:
            continue
        if done.status == AssistedStatus.RETURNED:
            result.returned += 1
        else:
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
