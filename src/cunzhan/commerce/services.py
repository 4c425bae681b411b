"""Every write of the commerce catalogue. Each service runs in a transaction, checks the
caller's scope (outside it: NotFound, never "exists elsewhere"), records an audit event
and raises ApplicationError with a stable code for bad input (nothing half-written):
Unprocessable (422) for values that break a rule, Conflict (409) when the state of an
object forbids the write (ADR 0032).

Products and grade standards are national reference data (loaded from
``commerce/data/catalogue.json`` by ``cunzhan commerce-seed`` and by the demo). Producers
and lots belong to a station; price tiers to a county.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce import codes, grading
from cunzhan.commerce.models import (
    Aggregation,
    Criterion,
    Grade,
    GradeStandard,
    Lot,
    LotEvent,
    LotEventType,
    LotGrading,
    LotStatus,
    PriceTier,
    Producer,
    ProducerKind,
    ProducerMember,
    Product,
    SampleMeasurement,
    Unit,
)
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone, reject_nul
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.network.models import Level, Region, Station, StationStatus
from cunzhan.registry.models import Household

MAX_LOT_QUANTITY = 10_000_000  # whole units of the lot's unit
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000 per unit: a typing error beyond
GRADABLE = (LotStatus.HARVESTED, LotStatus.GRADED, LotStatus.REJECTED)


def _field_error(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return Unprocessable(message, code=code, details={"field": field})


def station_visible(scope: RegionScope, station: Station) -> bool:
    if not scope.contains_code(station.region_id):
        return False
    return scope.everything or scope.station_ids is None or station.pk in scope.station_ids


def _text(value: str, *, field: str, max_len: int, required: bool = True) -> str:
    value = (value or "").strip()
    reject_nul(**{field: value})
    if required and not value:
        raise _field_error(field, _("%(f)s 不能为空") % {"f": field}, "required")
    if len(value) > max_len:
        raise _field_error(
            field, _("%(f)s 最多 %(n)s 个字符") % {"f": field, "n": max_len}, "too_long"
        )
    return value


def _positive_int(value: Any, *, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _field_error(field, _("%(f)s 必须是整数") % {"f": field}, "invalid_quantity")
    if value <= 0:
        raise _field_error(
            field,
            _("%(f)s 必须大于 0（收到 %(v)s）") % {"f": field, "v": value},
            "invalid_quantity",
        )
    if value > maximum:
        raise _field_error(
            field, _("%(f)s 不能超过 %(n)s") % {"f": field, "n": maximum}, "invalid_quantity"
        )
    return value


def _audit(action: str, obj: Any, region: str, before: Any, after: Any, actor: Any, note=""):
    audit_record(
        action=action,
        object_type=f"commerce.{type(obj).__name__}",
        object_id=getattr(obj, "uuid", None) or obj.pk,
        object_repr=str(obj)[:200],
        region_code=region,
        before=before,
        after=after,
        note=note,
        actor=actor,
    )


# --- producers --------------------------------------------------------------------------------


def _member_fields(m: Mapping[str, Any], *, scope: RegionScope, i: int) -> dict[str, Any]:
    where = f"members[{i}]"
    hh = m.get("household")
    household = None
    if hh not in (None, ""):
        household = Household.objects.filter(scope.q("village_id"), uuid=str(hh)).first()
        if household is None:
            raise _field_error(where, _("成员 %(i)s：找不到该农户") % {"i": i}, "unknown_household")
    name = _text(str(m.get("name") or ""), field=f"{where}.name", max_len=80, required=False)
    if not name and household is None:
        raise _field_error(
            where, _("成员 %(i)s：需要姓名或登记的农户") % {"i": i}, "invalid_member"
        )
    phone = str(m.get("phone") or "").strip()
    if phone:
        phone = clean_phone(phone, field=f"{where}.phone")
    return {"name": name, "phone": phone, "household": household}


@transaction.atomic
def producer_register(
    *,
    scope: RegionScope,
    station: Station,
    kind: str,
    name: str,
    phone: str = "",
    household: Household | None = None,
    credit_code: str = "",
    members: Iterable[Mapping[str, Any]] = (),
    actor: Any = None,
) -> Producer:
    """Register a producer at ``station`` (an active station in the caller's scope):
    a person, a registered household (``household`` in scope: its sales count as a
    household's) or a cooperative with ``members`` (name/phone or household)."""
    if not station_visible(scope, station):
        raise NotFound()
    if station.status != StationStatus.ACTIVE:
        raise Conflict(_("该服务站未在运营，不能登记生产者"), code="station_inactive")
    if kind not in ProducerKind.values:
        raise _field_error(
            "kind",
            _("未知的生产者类型：%(k)s（%(all)s）")
            % {"k": kind, "all": ", ".join(ProducerKind.values)},
            "invalid_kind",
        )
    name = _text(name, field="name", max_len=80)
    phone = clean_phone(phone) if (phone or "").strip() else ""
    village: Region = station.region
    if kind == ProducerKind.HOUSEHOLD:
        if household is None:
            raise _field_error("household", _("农户类型的生产者需要选择登记的农户"), "required")
        if not scope.contains_code(household.village_id):
            raise NotFound()
        village = household.village
    elif household is not None:
        raise _field_error("household", _("只有农户类型的生产者关联农户"), "invalid_kind")
    credit_code = _text(credit_code, field="credit_code", max_len=18, required=False).upper()
    if credit_code and kind != ProducerKind.COOPERATIVE:
        raise _field_error("credit_code", _("统一社会信用代码只用于合作社"), "invalid_kind")
    member_rows = list(members or ())
    if member_rows and kind != ProducerKind.COOPERATIVE:
        raise _field_error("members", _("只有合作社有成员"), "invalid_kind")
    cleaned = [_member_fields(m, scope=scope, i=i) for i, m in enumerate(member_rows, start=1)]
    producer = Producer.objects.create(
        kind=kind,
        name=name,
        phone=phone,
        station=station,
        village=village,
        household=household,
        credit_code=credit_code,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    seen: set[int] = set()
    for i, m in enumerate(cleaned, start=1):
        if m["household"] is not None:
            if m["household"].pk in seen:
                raise _field_error(
                    f"members[{i}]", _("成员 %(i)s：该农户重复") % {"i": i}, "duplicate_member"
                )
            seen.add(m["household"].pk)
        ProducerMember.objects.create(cooperative=producer, **m)
    _audit("create", producer, village.code, None, snapshot(producer), actor)
    return producer


@transaction.atomic
def producer_member_add(
    *,
    scope: RegionScope,
    cooperative: Producer,
    name: str = "",
    phone: str = "",
    household: str = "",
    actor: Any = None,
) -> ProducerMember:
    if not station_visible(scope, cooperative.station):
        raise NotFound()
    if cooperative.kind != ProducerKind.COOPERATIVE:
        raise Unprocessable(
            _("只有合作社可以添加成员（该生产者的类型：%(k)s）")
            % {"k": cooperative.get_kind_display()},
            code="invalid_kind",
        )
    m = _member_fields({"name": name, "phone": phone, "household": household}, scope=scope, i=1)
    if m["household"] is not None and cooperative.members.filter(household=m["household"]).exists():
        raise Conflict(
            _("该农户已是本社成员"), code="duplicate_member", details={"field": "household"}
        )
    member = ProducerMember.objects.create(cooperative=cooperative, **m)
    _audit("create", member, cooperative.village_id, None, snapshot(member), actor)
    return member


# --- products and grade standards ----------------------------------------------------------------


@transaction.atomic
def product_upsert(
    *,
    code: str,
    name: str,
    default_unit: str,
    category: str = "",
    description: str = "",
    actor: Any = None,
) -> Product:
    code = _text(code, field="code", max_len=40)
    name = _text(name, field="name", max_len=60)
    if default_unit not in Unit.values:
        raise _field_error(
            "default_unit", _("未知的单位：%(u)s") % {"u": default_unit}, "invalid_unit"
        )
    product, created = Product.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "default_unit": default_unit,
            "category": _text(category, field="category", max_len=30, required=False),
            "description": _text(description, field="description", max_len=300, required=False),
        },
    )
    _audit("create" if created else "update", product, "", None, snapshot(product), actor)
    return product


@transaction.atomic
def standard_create(
    *,
    product: Product,
    name: str,
    valid_from: dt.date,
    grades: list[Mapping[str, Any]],
    reference: str = "",
    actor: Any = None,
) -> GradeStandard:
    """A new active standard for ``product`` (the previous one stays, inactive, for the
    lots graded against it). ``grades`` from the highest: ``{"code", "name",
    "criteria": [{"quantity", "aggregation", "min", "max"}]}``; validated as a whole."""
    name = _text(name, field="name", max_len=120)
    if not grades:
        raise _field_error("grades", _("分级标准至少需要一个等级"), "invalid_standard")
    specs = []
    for rank, g in enumerate(grades, start=1):
        where = _("等级 %(r)s") % {"r": rank}
        gcode = _text(str(g.get("code") or ""), field="code", max_len=20)
        gname = _text(str(g.get("name") or ""), field="name", max_len=30)
        crits = list(g.get("criteria") or [])
        if not crits:
            raise _field_error("criteria", _("%(w)s 没有指标") % {"w": where}, "invalid_standard")
        cs = [
            grading.validate_criterion(
                quantity_key=str(c.get("quantity") or ""),
                aggregation=str(
                    c.get("aggregation")
                    or grading.quantity(str(c.get("quantity") or "")).default_aggregation
                ),
                min_value=c.get("min"),
                max_value=c.get("max"),
                where=where,
            )
            for c in crits
        ]
        if len({c.quantity for c in cs}) != len(cs):
            raise _field_error(
                "criteria", _("%(w)s 的测量项重复") % {"w": where}, "invalid_standard"
            )
        specs.append((rank, gcode, gname, cs))
    if len({s[1] for s in specs}) != len(specs):
        raise _field_error("grades", _("等级代码重复"), "invalid_standard")
    GradeStandard.objects.select_for_update().filter(product=product, active=True).update(
        active=False
    )
    standard = GradeStandard.objects.create(
        product=product,
        name=name,
        reference=_text(reference, field="reference", max_len=120, required=False),
        valid_from=valid_from,
    )
    for rank, gcode, gname, cs in specs:
        grade = Grade.objects.create(standard=standard, rank=rank, code=gcode, name=gname)
        Criterion.objects.bulk_create(
            Criterion(
                grade=grade,
                quantity=c.quantity,
                aggregation=c.aggregation,
                min_value=c.min_value,
                max_value=c.max_value,
            )
            for c in cs
        )
    _audit("create", standard, "", None, snapshot(standard), actor)
    return standard


def catalogue_load(*, data: Mapping[str, Any], actor: Any = None) -> list[Product]:
    """Load products and their standards (``commerce/data/catalogue.json``); a product
    whose active standard has the same name keeps it (loading twice changes nothing)."""
    products = []
    with transaction.atomic():
        for p in data.get("products", []):
            product = product_upsert(
                code=p["code"],
                name=p["name"],
                default_unit=p["unit"],
                category=p.get("category", ""),
                description=p.get("description", ""),
                actor=actor,
            )
            s = p.get("standard")
            if (
                s
                and not GradeStandard.objects.filter(
                    product=product, active=True, name=s["name"]
                ).exists()
            ):
                standard_create(
                    product=product,
                    name=s["name"],
                    reference=s.get("reference", ""),
                    valid_from=dt.date.fromisoformat(s["valid_from"]),
                    grades=s["grades"],
                    actor=actor,
                )
            products.append(product)
    return products


# --- lots ---------------------------------------------------------------------------------------


def _event(
    lot: Lot,
    type_: str,
    *,
    at: dt.datetime,
    region: str | None,
    actor: Any,
    details: dict[str, Any] | None = None,
) -> LotEvent:
    return LotEvent.objects.create(
        lot=lot,
        type=type_,
        occurred_at=at,
        region_id=region,
        details=details or {},
        actor=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def lot_record(
    *,
    scope: RegionScope,
    producer: Producer,
    product: Product,
    harvest_date: dt.date,
    quantity: int,
    unit: str = "",
    note: str = "",
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Lot:
    """Record a harvested lot at the producer's station: a new traceability code, the
    ``harvested`` event. ``quantity`` is whole units of ``unit`` (default: the
    product's), > 0; all of it is available until orders reserve some."""
    if not station_visible(scope, producer.station):
        raise NotFound()
    if not producer.active:
        raise Conflict(_("该生产者已停用"), code="producer_inactive")
    if not product.active:
        raise Conflict(_("该产品已停用"), code="product_inactive")
    unit = unit or product.default_unit
    if unit not in Unit.values:
        raise _field_error(
            "unit",
            _("未知的单位：%(u)s（%(all)s）") % {"u": unit, "all": ", ".join(Unit.values)},
            "invalid_unit",
        )
    quantity = _positive_int(quantity, field="quantity", maximum=MAX_LOT_QUANTITY)
    today = timezone.localdate()
    if not isinstance(harvest_date, dt.date):
        raise _field_error("harvest_date", _("采收日期无效"), "invalid_date")
    if harvest_date > today:
        raise _field_error(
            "harvest_date", _("采收日期不能晚于今天（%(d)s）") % {"d": today}, "invalid_date"
        )
    if harvest_date < today - dt.timedelta(days=3 * 365):
        raise _field_error("harvest_date", _("采收日期太早"), "invalid_date")
    note = _text(note, field="note", max_len=200, required=False)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                lot = Lot.objects.create(
                    code=codes.new_code(),
                    product=product,
                    producer=producer,
                    station=producer.station,
                    village=producer.village,
                    harvest_date=harvest_date,
                    standard=product.standards.filter(active=True).first(),
                    unit=unit,
                    quantity=quantity,
                    quantity_available=quantity,
                    note=note,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
            break
        except IntegrityError:  # a code drawn twice (2^-50 per pair): draw again
            continue
    else:  # pragma: no cover - would need five collisions in a row
        raise ApplicationError("could not draw a unique traceability code", code="code_clash")
    # a harvest without an hour is put at 08:00 local, or now when that is still ahead
    # (a lot recorded at 06:00 for today): a step of the story is never in the future
    harvested_at = at or min(
        timezone.make_aware(
            dt.datetime.combine(harvest_date, dt.time(8, 0)), timezone.get_current_timezone()
        ),
        timezone.now(),
    )
    _event(
        lot,
        LotEventType.HARVESTED,
        at=harvested_at,
        region=producer.village_id,
        actor=actor,
        details={"quantity": quantity, "unit": unit},
    )
    _audit("create", lot, lot.village_id, None, snapshot(lot), actor)
    return lot


def _locked(scope: RegionScope, lot: Lot) -> Lot:
    if not station_visible(scope, lot.station):
        raise NotFound()
    return Lot.objects.select_for_update().select_related("product", "station").get(pk=lot.pk)


def grade_specs(standard: GradeStandard) -> list[grading.GradeSpec]:
    return [
        grading.GradeSpec(
            key=g.pk,
            rank=g.rank,
            code=g.code,
            name=g.name,
            criteria=tuple(
                grading.CriterionSpec(c.quantity, c.aggregation, c.min_value, c.max_value)
                for c in g.criteria.all()
            ),
        )
        for g in standard.grades.prefetch_related("criteria").order_by("rank")
    ]


@transaction.atomic
def lot_grade(
    *,
    scope: RegionScope,
    lot: Lot,
    samples: Sequence[Mapping[str, Any]],
    actor: Any = None,
    at: dt.datetime | None = None,
) -> LotGrading:
    """Grade ``lot`` from the measurements of several samples against its product's
    active standard (rules: ``commerce/grading.py``). The lot gets the highest grade
    whose criteria all hold, or is rejected with the failing criteria; either way the
    grading and its measurements are kept and a ``graded`` event is recorded. Bad
    measurements (outside the physical range, missing, unknown) write nothing."""
    locked = _locked(scope, lot)
    if locked.status not in GRADABLE:
        raise Conflict(
            _("批次状态为“%(s)s”，不能再分级") % {"s": locked.get_status_display()},
            code="wrong_state",
        )
    if locked.quantity_available != locked.quantity:
        raise Conflict(_("批次已有预订，不能重新分级"), code="lot_reserved")
    standard = locked.product.standards.filter(active=True).first()
    if standard is None:
        raise Conflict(
            _("产品“%(p)s”没有生效的分级标准") % {"p": locked.product.name},
            code="no_standard",
        )
    specs = grade_specs(standard)
    needed = {c.quantity for g in specs for c in g.criteria}
    clean = grading.clean_samples(samples, needed=needed)
    outcome = grading.grade_samples(specs, clean)
    now = at or timezone.now()
    grade = Grade.objects.get(pk=outcome.grade.key) if outcome.grade else None
    g = LotGrading.objects.create(
        lot=locked,
        standard=standard,
        grade=grade,
        sample_count=len(clean),
        failures=outcome.failures,
        graded_at=now,
        graded_by=actor if getattr(actor, "pk", None) else None,
    )
    SampleMeasurement.objects.bulk_create(
        SampleMeasurement(grading=g, sample_no=i, quantity=k, value=v)
        for i, row in enumerate(clean, start=1)
        for k, v in row.items()
    )
    before = snapshot(locked, ["status", "grade", "standard"])
    locked.standard = standard
    locked.grade = grade
    locked.status = LotStatus.GRADED if grade else LotStatus.REJECTED
    locked.save(update_fields=["standard", "grade", "status", "updated_at"])
    _event(
        locked,
        LotEventType.GRADED,
        at=now,
        region=locked.station.region_id,
        actor=actor,
        details={
            "standard": standard.name,
            "grade": grade.name if grade else None,
            "grade_code": grade.code if grade else None,
            "samples": len(clean),
            "values": outcome.values,
            "rejected": grade is None,
        },
    )
    _audit("update", locked, locked.village_id, before, snapshot(locked, list(before)), actor)
    return g


@transaction.atomic
def lot_pack(
    *, scope: RegionScope, lot: Lot, actor: Any = None, at: dt.datetime | None = None
) -> Lot:
    """The graded lot is packed at the station (once)."""
    locked = _locked(scope, lot)
    if locked.status != LotStatus.GRADED:
        raise Conflict(
            _("只有已分级的批次可以包装（当前：%(s)s）") % {"s": locked.get_status_display()},
            code="wrong_state",
        )
    locked.status = LotStatus.PACKED
    locked.save(update_fields=["status", "updated_at"])
    _event(
        locked,
        LotEventType.PACKED,
        at=at or timezone.now(),
        region=locked.station.region_id,
        actor=actor,
    )
    _audit("transition", locked, locked.village_id, None, {"status": "packed"}, actor)
    return locked


@transaction.atomic
def lot_ship(
    *,
    scope: RegionScope,
    lot: Lot,
    destination: str,
    pieces: int,
    weight_g: int,
    actor: Any = None,
) -> Lot:
    """Book the packed lot's upward shipment at its station through the logistics
    services and link it; the pickup, county-centre and carrier steps of the lot's
    story are read from that shipment from then on."""
    locked = _locked(scope, lot)
    if locked.status != LotStatus.PACKED or locked.shipment_id is not None:
        raise Conflict(_("只有已包装且未发运的批次可以预约上行"), code="wrong_state")
    if locked.station.status != StationStatus.ACTIVE:
        raise Conflict(
            _("服务站“%(s)s”未在运营，不能预约上行") % {"s": locked.station.name},
            code="station_inactive",
        )
    producer = locked.producer
    shipment = logistics_shipments.shipment_book(
        scope=scope,
        station=locked.station,
        producer_name=producer.name,
        producer_phone=producer.phone,
        contents=_("%(p)s 批次 %(c)s")
        % {"p": locked.product.name, "c": codes.display(locked.code)},
        pieces=pieces,
        weight_g=weight_g,
        destination=destination,
        actor=actor,
    )
    locked.shipment = shipment
    locked.status = LotStatus.SHIPPED
    locked.save(update_fields=["shipment", "status", "updated_at"])
    _audit("transition", locked, locked.village_id, None, {"shipment": str(shipment.uuid)}, actor)
    return locked


# --- price tiers ----------------------------------------------------------------------------


@transaction.atomic
def price_tier_set(
    *,
    scope: RegionScope,
    grade: Grade,
    county_code: str,
    price_fen: int,
    unit: str = "",
    valid_from: dt.datetime | None = None,
    actor: Any = None,
) -> PriceTier:
    """The price of ``grade`` in a county (in scope) from ``valid_from`` (default now),
    integer fen per unit; published to the channels from that time."""
    county = Region.objects.filter(code=str(county_code)[:12], level=Level.COUNTY).first()
    if county is None or not scope.contains_code(county.code):
        raise NotFound()
    if scope.station_ids is not None and not scope.everything:
        raise NotFound()
    unit = unit or grade.standard.product.default_unit
    if unit not in Unit.values:
        raise _field_error("unit", _("未知的单位：%(u)s") % {"u": unit}, "invalid_unit")
    price_fen = _positive_int(price_fen, field="price_fen", maximum=MAX_PRICE_FEN)
    valid_from = valid_from or timezone.now()
    if timezone.is_naive(valid_from):
        raise _field_error("valid_from", _("生效时间需要带时区"), "invalid_date")
    tier, created = PriceTier.objects.update_or_create(
        grade=grade,
        county=county,
        unit=unit,
        valid_from=valid_from,
        defaults={
            "price_fen": price_fen,
            "published": True,
            "created_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    _audit("create" if created else "update", tier, county.code, None, snapshot(tier), actor)
    return tier


__all__ = [
    "Aggregation",
    "catalogue_load",
    "lot_grade",
    "lot_pack",
    "lot_record",
    "lot_ship",
    "price_tier_set",
    "producer_member_add",
    "producer_register",
    "product_upsert",
    "standard_create",
]
