"""Commerce services: producers, lots, grading through the service, packing, the
shipment link and the story, price tiers; bad input writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cunzhan.commerce import codes, selectors, services
from cunzhan.commerce.models import (
    Lot,
    LotEvent,
    LotGrading,
    PriceTier,
    Producer,
    ProducerMember,
    SampleMeasurement,
)
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.network.models import StationStatus
from cunzhan.registry import services as registry_services
from tests.factories.commerce import (
    KIWI_FIRST,
    KIWI_REJECTED,
    KIWI_SPECIAL,
    NATIONAL,
    make_lot,
    make_producer,
)
from tests.factories.stations import make_station

OTHER_COUNTY = RegionScope.for_regions(["520203"])


# --- producers ------------------------------------------------------------------------------


def test_register_a_person_producer(station):
    p = make_producer(station, name="王小二", phone="138 1234 5678")
    assert p.kind == "person" and p.phone == "13812345678"
    assert p.village_id == station.region_id
    assert AuditEvent.objects.filter(object_type="commerce.Producer", action="create").exists()


def test_a_household_producer_links_the_registry_household(station):
    hh = registry_services.household_create(scope=NATIONAL, village_code=station.region_id)
    p = make_producer(station, kind="household", name="李家", household=hh)
    assert p.household == hh and p.village_id == hh.village_id


def test_a_household_producer_needs_a_household(station):
    with pytest.raises(ApplicationError) as exc:
        make_producer(station, kind="household", name="李家")
    assert exc.value.details == {"field": "household"}
    assert not Producer.objects.exists()


def test_a_cooperative_with_members(station):
    hh = registry_services.household_create(scope=NATIONAL, village_code=station.region_id)
    coop = make_producer(
        station,
        kind="cooperative",
        name="米箩猕猴桃专业合作社",
        credit_code="93520221MA6DXXXX1",
        members=[{"name": "张三", "phone": "13900001111"}, {"household": str(hh.uuid)}],
    )
    assert coop.members.count() == 2
    services.producer_member_add(scope=NATIONAL, cooperative=coop, name="李四")
    assert coop.members.count() == 3
    with pytest.raises(ApplicationError) as exc:
        services.producer_member_add(scope=NATIONAL, cooperative=coop, household=str(hh.uuid))
    assert exc.value.code == "duplicate_member"


def test_a_bad_member_writes_nothing(station):
    with pytest.raises(ApplicationError) as exc:
        make_producer(
            station,
            kind="cooperative",
            name="合作社",
            members=[{"name": "张三"}, {"name": "李四", "phone": "12345"}],
        )
    assert exc.value.code == "invalid_phone"
    assert not Producer.objects.exists() and not ProducerMember.objects.exists()


@pytest.mark.parametrize("phone", ["12345", "2381234567", "1381234567x"])
def test_a_bad_phone_is_refused(station, phone):
    with pytest.raises(ApplicationError) as exc:
        make_producer(station, phone=phone)
    assert exc.value.code == "invalid_phone"


def test_unknown_kind_and_inactive_station(regions):
    st = make_station("520204106202", StationStatus.SUSPENDED)
    with pytest.raises(ApplicationError) as exc:
        make_producer(st)
    assert exc.value.code == "station_inactive"


def test_a_station_outside_the_scope_is_not_found(station):
    with pytest.raises(NotFound):
        services.producer_register(scope=OTHER_COUNTY, station=station, kind="person", name="王")


# --- lots -----------------------------------------------------------------------------------


def test_record_a_lot(producer, kiwi):
    lot = make_lot(producer, kiwi, quantity=480)
    assert lot.quantity == lot.quantity_available == 480
    assert lot.unit == "kg" and lot.status == "harvested"
    assert codes.normalise(lot.code) == lot.code and len(lot.code) == 10
    assert [e.type for e in lot.events.all()] == ["harvested"]
    assert lot.standard is not None and lot.standard.active


@pytest.mark.parametrize(("hour", "expected_hour"), [(1, 1), (7, 7), (8, 8), (15, 8)])
def test_a_harvest_recorded_today_is_never_in_the_future(
    producer, kiwi, monkeypatch, hour, expected_hour
):
    """A harvest date has no hour: its step goes at 08:00 local, or at the moment of
    recording when 08:00 is still ahead (a lot recorded at 01:00 for today)."""
    tz = timezone.get_current_timezone()
    clock = dt.datetime.combine(dt.date(2026, 7, 15), dt.time(hour, 0), tzinfo=tz)
    monkeypatch.setattr(timezone, "now", lambda: clock)
    lot = make_lot(producer, kiwi, harvest_date=clock.date())
    harvested = lot.events.get()
    assert harvested.occurred_at <= clock
    assert timezone.localtime(harvested.occurred_at).hour == expected_hour


@pytest.mark.parametrize("quantity", [0, -1, -500])
def test_zero_or_negative_quantity_is_a_clear_error(producer, kiwi, quantity):
    with pytest.raises(ApplicationError) as exc:
        make_lot(producer, kiwi, quantity=quantity)
    assert exc.value.code == "invalid_quantity"
    assert exc.value.details == {"field": "quantity"}
    assert str(quantity) in exc.value.message
    assert not Lot.objects.exists() and not LotEvent.objects.exists()


def test_a_fractional_quantity_or_a_future_harvest_is_refused(producer, kiwi):
    with pytest.raises(ApplicationError):
        make_lot(producer, kiwi, quantity=1.5)  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as exc:
        make_lot(producer, kiwi, harvest_date=timezone.localdate() + dt.timedelta(days=1))
    assert exc.value.code == "invalid_date"
    with pytest.raises(ApplicationError) as exc:
        make_lot(producer, kiwi, unit="tonne")
    assert exc.value.code == "invalid_unit"
    assert not Lot.objects.exists()


def test_trace_codes_are_unique_and_easy_to_type(producer, kiwi):
    lots = [make_lot(producer, kiwi) for _ in range(30)]
    assert len({lot.code for lot in lots}) == 30
    for lot in lots:
        assert set(lot.code) <= set(codes.ALPHABET)
        assert not set(lot.code) & set("ILOU")
    lot = lots[0]
    typed = codes.display(lot.code).lower()
    assert selectors.lot_by_code(code=typed) == lot
    assert selectors.lot_by_code(code=f" {lot.code[:5]} {lot.code[5:]} ") == lot


@pytest.mark.parametrize("code", ["", "0000000000", "ABC", "X" * 41, "ZZZZZ-ZZZZU", "\x00"])
def test_an_unknown_lot_code_is_not_found(db, code):
    with pytest.raises(NotFound) as exc:
        selectors.lot_by_code(code=code)
    assert exc.value.code == "unknown_lot"


# --- grading ------------------------------------------------------------------------------


def test_grade_a_lot_to_the_highest_grade(producer, kiwi):
    lot = make_lot(producer, kiwi)
    g = services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    lot.refresh_from_db()
    assert g.grade.code == "special" and lot.grade.name == "特级"
    assert lot.status == "graded"
    assert SampleMeasurement.objects.filter(grading=g).count() == 9
    ev = lot.events.get(type="graded")
    assert ev.details["grade"] == "特级" and ev.details["samples"] == 3
    assert ev.details["values"]["brix:mean"] == "15.5"


def test_regrading_gives_the_grade_of_the_new_samples(producer, kiwi):
    lot = make_lot(producer, kiwi)
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    g = services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_FIRST)
    lot.refresh_from_db()
    assert g.grade.code == "first" and lot.grade.code == "first"
    assert g.failures[0]["grade"] == "special"
    assert lot.events.filter(type="graded").count() == 2


def test_a_lot_meeting_no_grade_is_rejected_with_the_failures(producer, kiwi):
    lot = make_lot(producer, kiwi)
    g = services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_REJECTED)
    lot.refresh_from_db()
    assert g.grade is None and lot.grade is None and lot.status == "rejected"
    assert [f["grade"] for f in g.failures] == ["special", "first", "second"]
    second = {c["quantity"]: c for c in g.failures[2]["failed"]}
    assert second["weight_g"]["measured"] == "55" and second["weight_g"]["min"] == "60"
    assert second["brix"]["measured"] == "11.5" and second["brix"]["min"] == "12"
    assert second["defect_pct"]["measured"] == "12" and second["defect_pct"]["max"] == "10"
    assert lot.events.get(type="graded").details["rejected"] is True


def test_a_measurement_outside_the_physical_range_writes_nothing(producer, kiwi):
    lot = make_lot(producer, kiwi)
    bad = [*KIWI_SPECIAL, {"weight_g": 110, "brix": 45, "defect_pct": 1}]
    with pytest.raises(ApplicationError) as exc:
        services.lot_grade(scope=NATIONAL, lot=lot, samples=bad)
    assert exc.value.code == "out_of_physical_range"
    assert exc.value.details["sample"] == 4 and exc.value.details["quantity"] == "brix"
    lot.refresh_from_db()
    assert lot.status == "harvested" and lot.grade is None
    assert not LotGrading.objects.exists() and not SampleMeasurement.objects.exists()
    assert lot.events.count() == 1


def test_a_lot_outside_the_scope_cannot_be_graded(producer, kiwi):
    lot = make_lot(producer, kiwi)
    with pytest.raises(NotFound):
        services.lot_grade(scope=OTHER_COUNTY, lot=lot, samples=KIWI_SPECIAL)


# --- pack, ship, the story --------------------------------------------------------------------


def test_the_story_follows_the_shipment(producer, kiwi):
    lot = make_lot(producer, kiwi)
    with pytest.raises(ApplicationError) as exc:
        services.lot_pack(scope=NATIONAL, lot=lot)
    assert exc.value.code == "wrong_state"
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    services.lot_pack(scope=NATIONAL, lot=lot)
    lot = services.lot_ship(
        scope=NATIONAL, lot=lot, destination="广州", pieces=50, weight_g=500_000
    )
    assert lot.status == "shipped" and lot.shipment.state == "booked"
    assert lot.shipment.producer_name == producer.name
    types = [s.type for s in selectors.lot_story(lot=lot)]
    assert types == ["harvested", "graded", "packed"]
    s = logistics_shipments.shipment_collect(scope=NATIONAL, shipment=lot.shipment)
    s = logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=s)
    logistics_shipments.shipment_hand_over(
        scope=NATIONAL, shipment=s, carrier="SF", tracking_number="SF1234567890"
    )
    story = selectors.lot_story(lot=lot)
    assert [st.type for st in story] == [
        "harvested",
        "graded",
        "packed",
        "picked_up",
        "at_county",
        "handed_over",
    ]
    assert story[3].region.code == producer.village_id
    assert story[4].region.code == "520204"
    assert story[5].details["carrier"]  # the carrier's name, no tracking number
    # derived ids are stable across reads
    assert [x.event_id for x in selectors.lot_story(lot=lot)] == [x.event_id for x in story]
    with pytest.raises(ApplicationError):
        services.lot_ship(scope=NATIONAL, lot=lot, destination="x", pieces=1, weight_g=1)


def test_ship_with_bad_weight_writes_nothing(producer, kiwi):
    lot = make_lot(producer, kiwi)
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    services.lot_pack(scope=NATIONAL, lot=lot)
    with pytest.raises(ApplicationError):
        services.lot_ship(scope=NATIONAL, lot=lot, destination="广州", pieces=1, weight_g=0)
    lot.refresh_from_db()
    assert lot.status == "packed" and lot.shipment_id is None


# --- price tiers --------------------------------------------------------------------------------


def test_price_in_force_is_the_latest_published_before_now(kiwi, regions):
    grade = kiwi.standards.get(active=True).grades.get(code="special")
    now = timezone.now()
    services.price_tier_set(
        scope=NATIONAL,
        grade=grade,
        county_code="520204",
        price_fen=1200,
        valid_from=now - dt.timedelta(days=10),
    )
    services.price_tier_set(
        scope=NATIONAL,
        grade=grade,
        county_code="520204",
        price_fen=1500,
        valid_from=now - dt.timedelta(days=1),
    )
    services.price_tier_set(
        scope=NATIONAL,
        grade=grade,
        county_code="520204",
        price_fen=1800,
        valid_from=now + dt.timedelta(days=5),
    )
    assert selectors.price_tier_current(grade=grade, county_code="520204").price_fen == 1500
    later = now + dt.timedelta(days=6)
    assert selectors.price_tier_current(grade=grade, county_code="520204", at=later).price_fen == (
        1800
    )
    published = selectors.price_list_published(scope=NATIONAL)
    assert [(t.grade.code, t.price_fen) for t in published] == [("special", 1500)]
    assert selectors.price_list_published(scope=OTHER_COUNTY) == []


@pytest.mark.parametrize("price", [0, -100])
def test_a_price_must_be_positive(kiwi, regions, price):
    grade = kiwi.standards.get(active=True).grades.first()
    with pytest.raises(ApplicationError) as exc:
        services.price_tier_set(scope=NATIONAL, grade=grade, county_code="520204", price_fen=price)
    assert exc.value.code == "invalid_quantity"
    assert not PriceTier.objects.exists()


def test_a_price_outside_the_scope_or_not_a_county_is_not_found(kiwi, regions):
    grade = kiwi.standards.get(active=True).grades.first()
    for county in ("520204", "520204106"):
        with pytest.raises(NotFound):
            services.price_tier_set(
                scope=OTHER_COUNTY if county == "520204" else NATIONAL,
                grade=grade,
                county_code=county,
                price_fen=100,
            )


def test_the_seed_loads_six_products_once(catalogue):
    from cunzhan.commerce.models import GradeStandard, Product
    from cunzhan.commerce.seed import catalogue_seed

    assert {p.name for p in Product.objects.all()} == {
        "红心猕猴桃",
        "刺梨",
        "茶叶",
        "马铃薯",
        "核桃",
        "生猪",
    }
    n = GradeStandard.objects.count()
    catalogue_seed()
    assert GradeStandard.objects.count() == n == 6
    assert Product.objects.get(code="live-pig").default_unit == "head"
