"""Browser (phone viewport 390×844): a station operator hands a parcel out by its pickup
code in at most 3 taps from the station page (取件 → the six digits → 确认), sees the
shelf slot, and the parcel is picked up; a wrong code shows a clear error and changes
nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent
from cunzhan.network.models import StationStatus
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


@pytest.fixture
def waiting(transactional_db):
    """A village station with two parcels waiting on its shelves."""
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    national = RegionScope.national()
    services.manifest_intake(
        scope=national, carrier_code="ZTO", rows=[row(1), row(2, recipient_name="李四")]
    )
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    services.scan_events_record(
        scope=national,
        events=[
            {
                "event_id": f"e2e-{n}-{t}",
                "carrier": "ZTO",
                "tracking_number": f"ZT{n:010d}",
                "type": t,
                "occurred_at": T0 + dt.timedelta(minutes=i),
                "station_code": station.code if t == sm.AT_STATION else "",
            }
            for n in (1, 2)
            for i, t in enumerate(steps)
        ],
    )
    return station


class Taps:
    """Clicks counted: every tap on the screen goes through here."""

    def __init__(self, page) -> None:
        self.page = page
        self.n = 0

    def __call__(self, selector: str) -> None:
        self.n += 1
        self.page.click(selector)


def test_operator_hands_out_by_code_in_three_taps_and_a_wrong_code_is_refused(
    waiting, page, login, make_user
):
    station = waiting
    make_user(Role.STATION_OPERATOR, stations=[station.pk], username="zs-op")
    parcel = Parcel.objects.get(tracking_number="ZT0000000001")
    assert parcel.state == sm.AT_STATION and len(parcel.pickup_code) == 6
    login("zs-op")

    # the nav's 物流 leads the operator to the station page
    page.goto("/logistics/")
    page.wait_for_url(f"**/logistics/stations/{station.pk}/")
    box = page.locator("#tap-handout").bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 300  # a big tap target

    # a wrong code: a clear error, nothing recorded
    wrong = "000000" if parcel.pickup_code != "000000" else "999999"
    events = ScanEvent.objects.count()
    tap = Taps(page)
    tap("#tap-handout")
    page.fill("#id_code", wrong)
    tap("#handout-confirm")
    error = page.locator("#handout-error")
    error.wait_for()
    assert wrong in error.inner_text() and "不对" in error.inner_text()
    assert ScanEvent.objects.count() == events
    assert Parcel.objects.get(pk=parcel.pk).state == sm.AT_STATION

    # from the station page again: 取件, type the code, 确认 -> what to hand over
    page.goto(f"/logistics/stations/{station.pk}/")
    tap = Taps(page)
    tap("#tap-handout")
    page.fill("#id_code", parcel.pickup_code)  # typing on the keypad, not a tap
    tap("#handout-confirm")
    handed = page.locator("#handed")
    handed.wait_for()
    assert tap.n <= 3
    text = handed.inner_text()
    assert parcel.shelf_slot in text and "ZT0000000001" in text and "张三" in text
    parcel.refresh_from_db()
    assert parcel.state == sm.PICKED_UP
    assert Parcel.objects.get(tracking_number="ZT0000000002").state == sm.AT_STATION
    # the form is ready for the next one
    assert page.locator("#id_code").input_value() == ""
