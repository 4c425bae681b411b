"""County logistics settings: validation, scope, audit; the API."""

from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.models import AuditEvent
from cunzhan.logistics import county_settings, selectors
from cunzhan.logistics.models import CountyLogisticsSettings
from tests.logistics.updown_helpers import NATIONAL, put


def test_update_validates_and_audits(regions):
    row = county_settings.county_settings_update(
        scope=NATIONAL, county_code="520204", cutoff="06:30", reminder_days=2, fee_up_fen=150
    )
    assert (str(row.cutoff), row.reminder_days, row.return_days, row.fee_up_fen) == (
        "06:30:00",
        2,
        7,
        150,
    )
    ev = AuditEvent.objects.filter(object_type="logistics.CountyLogisticsSettings").get()
    assert ev.action == "create" and ev.region_code == "520204"
    county_settings.county_settings_update(scope=NATIONAL, county_code="520204", return_days=9)
    ev = AuditEvent.objects.filter(action="update", object_id="520204").get()
    assert ev.before == {"return_days": 7} and ev.after == {"return_days": 9}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"reminder_days": 5, "return_days": 5}, "return_days"),
        ({"reminder_days": 8}, "return_days"),  # the saved return days (7) is not more
        ({"reminder_days": 0}, "reminder_days"),
        ({"cutoff": "25:00"}, "cutoff"),
        ({"circuity_pct": 99}, "circuity_pct"),
        ({"speed_kmh": 500}, "speed_kmh"),
        ({"fee_down_fen": -1}, "fee_down_fen"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_values_name_the_field(regions, values, field):
    with pytest.raises(ApplicationError) as e:
        county_settings.county_settings_update(scope=NATIONAL, county_code="520204", **values)
    assert e.value.details["field"] == field  # type: ignore[index]
    assert not CountyLogisticsSettings.objects.exists()


def test_scope(regions, make_user, station):
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    with pytest.raises(NotFound):
        county_settings.county_settings_update(
            scope=scope_for_user(other), county_code="520204", reminder_days=2
        )
    op = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    with pytest.raises(NotFound):
        county_settings.county_get(scope=scope_for_user(op), county_code="520204")
    with pytest.raises(NotFound):  # a village is not a county
        county_settings.county_get(scope=NATIONAL, county_code="520204106201")


def test_api(regions, make_user, api_client):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    c = api_client(manager)
    r = c.get("/api/v1/logistics/settings/520204")
    assert r.status_code == 200 and r.json()["saved"] is False
    assert r.json()["cutoff"] == "07:00" and r.json()["return_days"] == 7
    r = put(c, "/api/v1/logistics/settings/520204", {"return_days": 10, "cutoff": "06:45"})
    assert r.status_code == 200, r.content
    assert (r.json()["return_days"], r.json()["cutoff"], r.json()["saved"]) == (10, "06:45", True)
    assert selectors.county_settings(county_code="520204").return_days == 10
    r = put(c, "/api/v1/logistics/settings/520204", {"reminder_days": 12})
    assert r.status_code == 422 and r.json()["details"]["field"] == "return_days"
    driver = make_user(Role.DRIVER, regions=["520204"])
    assert put(api_client(driver), "/api/v1/logistics/settings/520204", {}).status_code == 403
    assert api_client(driver).get("/api/v1/logistics/settings/520204").status_code == 200
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    assert api_client(other).get("/api/v1/logistics/settings/520204").status_code == 404
