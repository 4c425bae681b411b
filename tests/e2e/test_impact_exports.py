"""Browser test of the exports: a county manager downloads the dashboard's children
table as CSV and the event history as XLSX from the form. Screenshots go to
$CUNZHAN_SCREENSHOTS (default the temporary directory)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from pathlib import Path

from openpyxl import load_workbook

from cunzhan.accounts.roles import Role
from cunzhan.impact.services import indicators_refresh
from cunzhan.network.models import StationStatus
from tests.factories.impact import builtin_indicators, deliver
from tests.factories.stations import make_station

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def test_dashboard_downloads(page, login, make_user, regions):
    builtin_indicators()
    today = dt.date.today()
    s1 = make_station("520204106201", StationStatus.ACTIVE)
    for i in range(3):
        deliver(f"X{i}", village=s1.region_id, station_code=s1.code, day=today)
    indicators_refresh(county_code="520204", since=today - dt.timedelta(days=30))
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm")
    login("cm")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/impact/r/520204/?indicator=parcels_down&period_type=day")
    page.screenshot(path=str(SHOTS / "impact-downloads.png"), full_page=True)

    with page.expect_download() as info:
        page.locator("#impact-children .imp-downloads a:has-text('CSV')").click()
    download = info.value
    assert download.suggested_filename.startswith("parcels_down_520204_children_day_")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    assert [(r["region_code"], r["numerator"]) for r in rows] == [("520204106", "3")]

    page.click("text=导出事件记录")
    page.wait_for_url("**/impact/r/520204/events/")
    page.select_option("select[name=format]", "xlsx")
    page.screenshot(path=str(SHOTS / "impact-events-export.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#events-export button")
    ws = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][:3] == ("event_id", "occurred_at", "type")
    from cunzhan.logistics.models import ScanEvent

    # 3 parcels × (announced + 4 scans), every one of them
    assert sorted(v[0] for v in values[1:]) == sorted(
        ScanEvent.objects.values_list("event_id", flat=True)
    )
    assert len(values) == 1 + 3 * 5
