"""The up-and-down pages: book (phone), the county's shipment list with scan-in and
hand-over, CSV upload, fees, county settings and the aging button."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from cunzhan.logistics import fees
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import CountyLogisticsSettings, Parcel, Shipment, ShipmentState
from tests.logistics.conftest import VILLAGE
from tests.logistics.test_shipments import BOOK, book
from tests.logistics.updown_helpers import NATIONAL, T0, event, parcel_at_station


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


def test_book_page(station, operator):
    c = login(operator)
    url = reverse("logistics:shipment-book", kwargs={"pk": station.pk})
    assert f'href="{url}"' in c.get(reverse("logistics:shipments")).content.decode()
    r = c.get(url)
    assert r.status_code == 200 and "生产者姓名" in r.content.decode()
    r = c.post(url, {"producer_name": "", "contents": "茶叶", "pieces": "0", "weight_kg": "x"})
    assert r.status_code == 400 and Shipment.objects.count() == 0
    body = r.content.decode()
    assert body.count('class="errorlist"') >= 3
    data = {
        "producer_name": "王大山",
        "producer_phone": "13812345678",
        "contents": "红心猕猴桃",
        "pieces": "12",
        "weight_kg": "62.5",
        "destination": "广州市",
        "outbound_carrier": "SF",
    }
    r = c.post(url, data)
    assert r.status_code == 302
    s = Shipment.objects.get()
    assert (s.weight_g, s.pieces, s.outbound_carrier.code, s.booked_by) == (
        62_500,
        12,
        "SF",
        operator,
    )
    r = c.get(url)
    assert "红心猕猴桃" in r.content.decode() and "取消预约" in r.content.decode()
    r = c.post(reverse("logistics:shipment-cancel", kwargs={"shipment_id": s.uuid}), {"next": url})
    assert r.status_code == 302 and r["Location"] == url
    s.refresh_from_db()
    assert s.state == ShipmentState.CANCELLED


def test_book_page_for_another_station_is_404(station, make_user, regions):
    from cunzhan.network.models import StationStatus
    from tests.factories.stations import make_station

    other = make_station("520204106202", StationStatus.ACTIVE)
    op = make_user(Role.STATION_OPERATOR, stations=[other.pk])
    r = login(op).get(reverse("logistics:shipment-book", kwargs={"pk": station.pk}))
    assert r.status_code == 404
    driver = make_user(Role.DRIVER, regions=["520204"])
    r = login(driver).get(reverse("logistics:shipment-book", kwargs={"pk": station.pk}))
    assert r.status_code == 403


def test_county_list_scan_in_and_hand_over(station, manager):
    s = book(station)
    c = login(manager)
    r = c.get(reverse("logistics:shipments") + "?state=booked")
    assert r.status_code == 200 and BOOK["contents"] in r.content.decode()
    r = c.post(reverse("logistics:shipment-scan-in", kwargs={"shipment_id": s.uuid}))
    assert r.status_code == 302
    s.refresh_from_db()
    assert s.state == ShipmentState.AT_COUNTY
    url = reverse("logistics:shipment-hand-over", kwargs={"shipment_id": s.uuid})
    r = c.post(url, {"carrier": "NOPE", "tracking_number": "SF12345"}, follow=True)
    assert "unknown carrier" in r.content.decode()
    s.refresh_from_db()
    assert s.state == ShipmentState.AT_COUNTY
    r = c.post(url, {"carrier": "SF", "tracking_number": "SF12345"}, follow=True)
    assert "已交承运商" in r.content.decode()
    s.refresh_from_db()
    assert (s.state, s.outbound_tracking) == (ShipmentState.HANDED_OVER, "SF12345")
    r = c.post(reverse("logistics:shipment-scan-in", kwargs={"shipment_id": s.uuid}), follow=True)
    assert "handed_over" in r.content.decode()  # the wrong-state message is shown


def test_manifest_upload_page(station, manager):
    c = login(manager)
    url = reverse("logistics:manifest-upload")
    assert c.get(url).status_code == 200
    good = f"运单号,收件人,电话,村代码,重量(克)\nZT5000000001,张三,13812345678,{VILLAGE},900\n"
    f = SimpleUploadedFile("m.csv", good.encode("gb18030"))
    r = c.post(url, {"carrier": "ZTO", "file": f})
    assert r.status_code == 200 and 'id="manifest-result"' in r.content.decode()
    assert Parcel.objects.count() == 1
    bad = good.replace("900", "九百").replace("ZT5", "ZT6")
    r = c.post(url, {"carrier": "ZTO", "file": SimpleUploadedFile("b.csv", bad.encode())})
    body = r.content.decode()
    assert r.status_code == 400 and 'id="manifest-errors"' in body
    assert "<td>重量(克)</td>" in body
    assert Parcel.objects.count() == 1


def test_fees_page(station, manager, operator):
    p = parcel_at_station(station, 1)
    event(p, sm.PICKED_UP, T0 + dt.timedelta(hours=3), station)
    fees.accrue(scope=NATIONAL)
    for user in (manager, operator):
        r = login(user).get(reverse("logistics:fees"))
        assert r.status_code == 200
        assert station.code in r.content.decode() and "¥0.50" in r.content.decode()
    r = login(manager).get(reverse("logistics:fees") + "?month=bad")
    assert r.status_code == 200 and "暂无服务费记录" in r.content.decode()


def test_county_settings_page_and_aging_button(station, manager, make_user):
    c = login(manager)
    url = reverse("logistics:county-settings", kwargs={"county_code": "520204"})
    r = c.get(url)
    assert r.status_code == 200 and "使用默认值" in r.content.decode()
    data = {
        "cutoff": "06:30",
        "reminder_days": "5",
        "return_days": "5",
        "fee_down_yuan": "0.80",
        "fee_up_yuan": "1.50",
        "circuity_pct": "150",
        "speed_kmh": "30",
    }
    r = c.post(url, data)
    assert r.status_code == 400 and "must be more than the reminder days" in r.content.decode()
    assert not CountyLogisticsSettings.objects.exists()
    r = c.post(url, {**data, "return_days": "9"})
    assert r.status_code == 302
    row = CountyLogisticsSettings.objects.get()
    assert (row.fee_down_fen, row.fee_up_fen, row.return_days) == (80, 150, 9)
    assert AuditEvent.objects.filter(object_type="logistics.CountyLogisticsSettings").exists()
    parcel_at_station(station, 2, at=T0 - dt.timedelta(days=20))
    r = c.post(reverse("logistics:aging-run", kwargs={"county_code": "520204"}), follow=True)
    assert "转退回 1 件" in r.content.decode()
    driver = make_user(Role.DRIVER, regions=["520204"])
    assert login(driver).get(url).status_code == 200  # read only
    assert login(driver).post(url, data).status_code == 403
