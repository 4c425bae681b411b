"""The county centre's pages and the station operator's pages: per role, in and out of
scope, and the forms' bad input (nothing written)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ParcelException, ScanEvent, SmsMessage
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.logistics.conftest import BARE_VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def tn(n: int) -> str:
    return f"ZT{n:010d}"


def announce(*numbers, **kw):
    services.manifest_intake(
        scope=NATIONAL, carrier_code="ZTO", rows=[row(n, **kw) for n in numbers], occurred_at=T0
    )


def advance(n, types, station=None):
    services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"p-{n}-{t}",
                "carrier": "ZTO",
                "tracking_number": tn(n),
                "type": t,
                "occurred_at": T0 + dt.timedelta(minutes=i + 1),
                "station_code": station.code if station and t == sm.AT_STATION else "",
            }
            for i, t in enumerate(types)
        ],
    )
    return Parcel.objects.get(tracking_number=tn(n))


TO_STATION = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]


@pytest.fixture
def users(make_user, station):
    return {
        "admin": make_user(Role.NETWORK_ADMIN),
        "manager": make_user(Role.COUNTY_MANAGER, regions=["520204"]),
        "other_manager": make_user(Role.COUNTY_MANAGER, regions=["520203"]),
        "auditor": make_user(Role.AUDITOR, regions=["520204"]),
        "driver": make_user(Role.DRIVER, regions=["520204"]),
        "operator": make_user(Role.STATION_OPERATOR, stations=[station.pk]),
        "registry": make_user(Role.REGISTRY_OFFICER, regions=["520204"]),
    }


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_home_sends_each_role_to_its_desk(users, station):
    r = client(users["operator"]).get("/logistics/")
    assert r.status_code == 302 and r["Location"] == f"/logistics/stations/{station.pk}/"
    for who in ("manager", "auditor", "admin"):
        r = client(users[who]).get("/logistics/")
        assert r.status_code == 302 and r["Location"] == "/logistics/county/", who
    r = client(users["driver"]).get("/logistics/")
    assert r.status_code == 302 and r["Location"] == reverse("logistics:driver")
    assert client(users["registry"]).get("/logistics/").status_code == 403


def test_county_page_per_role_and_scope(users, station):
    announce(1, 2)
    advance(1, [sm.RECEIVED_AT_COUNTY])
    r = client(users["manager"]).get("/logistics/county/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "水城区" in body and 'href="/logistics/county/inbound/?county=520204"' in body
    assert client(users["manager"]).get("/logistics/county/?county=520203").status_code == 404
    assert client(users["other_manager"]).get("/logistics/county/?county=520204").status_code == 404
    assert client(users["operator"]).get("/logistics/county/").status_code == 403
    assert client(users["auditor"]).get("/logistics/county/").status_code == 200
    r = client(users["driver"]).get("/logistics/county/")
    assert r.status_code == 200 and "inbound" not in r.content.decode()
    assert client(users["driver"]).get("/logistics/county/inbound/").status_code == 403
    # a national user picks the county first
    r = client(users["admin"]).get("/logistics/county/")
    assert r.status_code == 200 and 'name="county"' in r.content.decode()
    assert client(users["admin"]).get("/logistics/county/?county=520204").status_code == 200
    # search
    r = client(users["manager"]).get("/logistics/county/?q=ZT00000000")
    p = Parcel.objects.get(tracking_number=tn(1))
    assert f"/logistics/parcels/{p.uuid}/" in r.content.decode()


def test_receive_scan_form_with_an_unknown_number_writes_nothing(users, station):
    announce(1, 2)
    c = client(users["manager"])
    before = ScanEvent.objects.count()
    r = c.post(
        "/logistics/county/inbound/",
        {"county": "520204", "carrier": "", "lines": f"{tn(1)}\nBOGUS99\n{tn(2)}"},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "第 2 行" in body and "BOGUS99" in body and "整批未记录" in body
    assert ScanEvent.objects.count() == before
    assert tn(1) in body  # the lines are kept in the form to fix

    r = c.post("/logistics/county/inbound/", {"county": "520204", "lines": f"{tn(1)}\n{tn(2)}"})
    assert r.status_code == 200
    assert r.content.decode().count("已记录") >= 2
    assert set(Parcel.objects.values_list("state", flat=True)) == {sm.RECEIVED_AT_COUNTY}
    r = c.post("/logistics/county/sorting/", {"county": "520204", "lines": tn(1)})
    assert r.status_code == 200 and Parcel.objects.get(tracking_number=tn(1)).state == sm.SORTED
    r = c.get("/logistics/county/sorting/")
    assert station.name in r.content.decode()

    assert (
        client(users["auditor"])
        .post("/logistics/county/inbound/", {"county": "520204", "lines": tn(2)})
        .status_code
        == 403
    )
    r = client(users["other_manager"]).post(
        "/logistics/county/sorting/", {"county": "520204", "lines": tn(2)}
    )
    assert r.status_code == 403
    assert Parcel.objects.get(tracking_number=tn(2)).state == sm.RECEIVED_AT_COUNTY


def test_exceptions_page_resolves_an_unmatched_parcel(users, station):
    announce(5, village_code=BARE_VILLAGE)
    x = ParcelException.objects.get()
    c = client(users["manager"])
    r = c.get("/logistics/county/exceptions/")
    body = r.content.decode()
    assert r.status_code == 200 and tn(5) in body and station.code in body
    url = f"/logistics/county/exceptions/{x.pk}/resolve/"
    assert c.get(url).status_code == 405
    r = c.post(url, {"note": "", "station_code": station.code}, follow=True)
    assert "请填写处理说明" in r.content.decode()
    x.refresh_from_db()
    assert x.status == "open" and Parcel.objects.get().station is None
    assert client(users["other_manager"]).post(url, {"note": "x"}).status_code == 404
    assert client(users["auditor"]).post(url, {"note": "x"}).status_code == 403
    r = c.post(url, {"note": "送海坪村", "station_code": station.code})
    assert r.status_code == 302
    x.refresh_from_db()
    assert x.status == "resolved" and Parcel.objects.get().station == station
    assert f'id="exception-{x.pk}"' not in c.get("/logistics/county/exceptions/").content.decode()
    r = c.get("/logistics/county/exceptions/?status=all")
    assert f'id="exception-{x.pk}"' in r.content.decode() and "送海坪村" in r.content.decode()


def test_parcel_page_timeline_and_resend(users, station):
    announce(1)
    p = advance(1, TO_STATION, station)
    url = f"/logistics/parcels/{p.uuid}/"
    r = client(users["manager"]).get(url)
    body = r.content.decode()
    assert r.status_code == 200 and "resend-code" in body and p.pickup_code in body
    positions = [body.index(f"<code>p-1-{t}</code>") for t in TO_STATION]
    assert positions == sorted(positions)  # in the order the state machine applies them
    sms = SmsMessage.objects.count()
    r = client(users["operator"]).post(url, {"action": "resend"})
    assert r.status_code == 302 and SmsMessage.objects.count() == sms + 1
    assert client(users["other_manager"]).get(url).status_code == 404
    assert client(users["registry"]).get(url).status_code == 403
    auditor = client(users["auditor"]).get(url).content.decode()
    assert "resend-code" not in auditor and p.pickup_code not in auditor
    other = make_station("520204106202", StationStatus.ACTIVE)
    op2 = Client()
    from cunzhan.accounts.services import user_create

    u2, _ = user_create(
        username="op2", role=Role.STATION_OPERATOR, password="pw-secret-1", station_ids=[other.pk]
    )
    op2.force_login(u2)
    assert op2.get(url).status_code == 404


def test_station_pages_per_role(users, station):
    base = f"/logistics/stations/{station.pk}/"
    pages = ["", "receive/", "shelves/", "handout/", "aging/"]
    for who in ("operator", "manager", "admin", "auditor"):
        for page in pages:
            assert client(users[who]).get(base + page).status_code == 200, (who, page)
    for page in pages:
        assert client(users["driver"]).get(base + page).status_code == 403
        assert client(users["other_manager"]).get(base + page).status_code == 404
    other = make_station("520204106202", StationStatus.ACTIVE)
    assert client(users["operator"]).get(f"/logistics/stations/{other.pk}/").status_code == 404
    assert client(users["auditor"]).post(base + "handout/", {"code": "123456"}).status_code == 403


def test_receive_the_run_with_one_tap(users, station):
    announce(1, 2, 3)
    for n in (1, 2):
        advance(n, [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED])
    c = client(users["operator"])
    url = f"/logistics/stations/{station.pk}/receive/"
    body = c.get(url).content.decode()
    assert tn(1) in body and tn(2) in body and tn(3) not in body
    r = c.post(url, {"lines": "NOPE-1"})
    assert r.status_code == 400 and "NOPE-1" in r.content.decode()
    assert Parcel.objects.filter(state=sm.AT_STATION).count() == 0
    uuids = [str(p.uuid) for p in Parcel.objects.filter(state=sm.LOADED)]
    r = c.post(url, {"action": "all", "parcel": uuids})
    assert r.status_code == 200
    waiting = Parcel.objects.filter(state=sm.AT_STATION)
    assert waiting.count() == 2 and all(p.pickup_code and p.shelf_slot for p in waiting)
    assert SmsMessage.objects.count() == 2
    shelves = c.get(f"/logistics/stations/{station.pk}/shelves/").content.decode()
    assert all(p.shelf_slot in shelves for p in waiting)


def test_handout_by_code_and_by_phone(users, station):
    announce(1, 2)
    p1 = advance(1, TO_STATION, station)
    p2 = advance(2, TO_STATION, station)
    c = client(users["operator"])
    url = f"/logistics/stations/{station.pk}/handout/"
    wrong = "000000" if p1.pickup_code != "000000" and p2.pickup_code != "000000" else "999999"
    before = ScanEvent.objects.count()
    for data in ({"code": wrong}, {"code": "12a"}, {"by": "phone", "phone_last4": "5678"}):
        r = c.post(url, data)
        assert r.status_code == 400, data
        assert 'id="handout-error"' in r.content.decode()
    assert "不对" in c.post(url, {"code": wrong}).content.decode()
    assert ScanEvent.objects.count() == before
    r = c.post(url, {"code": p1.pickup_code})
    body = r.content.decode()
    assert r.status_code == 200 and p1.shelf_slot in body and tn(1) in body
    assert Parcel.objects.get(pk=p1.pk).state == sm.PICKED_UP
    again = c.post(url, {"code": p1.pickup_code})
    assert again.status_code == 400
    r = c.post(url, {"by": "phone", "phone_last4": "5678", "name": "张三"})
    assert r.status_code == 200 and tn(2) in r.content.decode()
    assert Parcel.objects.get(pk=p2.pk).state == sm.PICKED_UP


def test_aging_resend_and_return(users, station):
    announce(1, 2)
    p1 = advance(1, TO_STATION, station)
    advance(2, TO_STATION, station)
    Parcel.objects.filter(pk=p1.pk).update(state_at=T0 - dt.timedelta(days=30))
    Parcel.objects.filter(tracking_number=tn(2)).update(state_at=dt.datetime.now(dt.UTC))
    c = client(users["operator"])
    url = f"/logistics/stations/{station.pk}/aging/"
    body = c.get(url).content.decode()
    assert tn(1) in body and tn(2) not in body
    sms = SmsMessage.objects.count()
    assert c.post(url, {"parcel": str(p1.uuid), "action": "resend"}).status_code == 302
    assert SmsMessage.objects.count() == sms + 1
    assert c.post(url, {"parcel": "nope", "action": "return"}).status_code == 400
    assert c.post(url, {"parcel": str(p1.uuid), "action": "return"}).status_code == 302
    p1.refresh_from_db()
    assert p1.state == sm.RETURN_DUE and p1.pickup_code == ""
    assert c.post(url, {"parcel": str(p1.uuid), "action": "return"}).status_code == 400


def test_home_page_panels(users, station):
    announce(1)
    advance(1, TO_STATION, station)
    body = client(users["operator"]).get("/").content.decode()
    assert "包裹 · " in body and f"/logistics/stations/{station.pk}/handout/" in body
    body = client(users["manager"]).get("/").content.decode()
    assert "物流 · 今天" in body and "/logistics/county/?county=520204" in body
    assert "物流 · 今天" not in client(users["registry"]).get("/").content.decode()


def test_links_to_other_pages_are_looked_up_tolerantly(db):
    from cunzhan.logistics.views.county import _county_links, url_or_none

    assert url_or_none("logistics:no-such-page") is None
    assert (
        url_or_none("logistics:county", query="county=520204") == "/logistics/county/?county=520204"
    )
    names = {link["url"].split("?")[0] for link in _county_links("520204")}
    assert "/logistics/county/inbound/" in names and "/logistics/county/sorting/" in names


def test_returns_page_hands_collected_returns_back_to_the_carrier(users, station):
    announce(1, 2, 3, 4)
    advance(1, [*TO_STATION, sm.RETURN_DUE, sm.COLLECTED], station)  # back at the centre
    advance(2, [*TO_STATION, sm.REFUSED], station)  # refused, still at the station
    advance(3, TO_STATION, station)  # waiting: not a return
    advance(4, [sm.RECEIVED_AT_COUNTY, sm.DAMAGED])  # damaged at the centre
    page = client(users["manager"]).get("/logistics/county/returns/?county=520204")
    assert page.status_code == 200
    body = page.content.decode()
    assert tn(1) in body and tn(4) in body
    assert tn(2) not in body and tn(3) not in body  # a run brings those (or nobody)
    # the auditor reads but cannot scan; another county's manager sees nothing of it
    assert (
        client(users["auditor"])
        .post("/logistics/county/returns/", {"county": "520204", "lines": tn(1)})
        .status_code
        == 403
    )
    assert (
        client(users["other_manager"]).get("/logistics/county/returns/?county=520204").status_code
        == 404
    )
    r = client(users["manager"]).post(
        "/logistics/county/returns/", {"county": "520204", "lines": f"{tn(1)}\n{tn(3)}"}
    )
    assert r.status_code == 200
    states = dict(Parcel.objects.values_list("tracking_number", "state"))
    assert states[tn(1)] == sm.RETURNED
    # a waiting parcel handed back by mistake is still recorded: the carrier has it
    assert states[tn(3)] == sm.RETURNED
    assert states[tn(2)] == sm.REFUSED
    again = client(users["manager"]).post(
        "/logistics/county/returns/", {"county": "520204", "lines": tn(1)}
    )
    assert again.status_code == 200
    assert ScanEvent.objects.filter(parcel__tracking_number=tn(1), type=sm.RETURNED).count() == 1
    assert tn(1) not in again.content.decode().split("按承运商")[-1]
