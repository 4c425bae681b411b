"""The daily station-fee sweep (issue 12 §1, "station fees are never posted"): fees
owed → the sweep posts them to the ledger once; the operator's earnings page and the
station's statement show the same pending and posted amounts."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.core import simulation
from cunzhan.core.errors import ApplicationError
from cunzhan.core.simulation import CHINA
from cunzhan.ledger import services
from cunzhan.ledger.models import Account, Transaction, TransactionKind
from cunzhan.ledger.simulation import generate_fees
from cunzhan.logistics.models import StationFee
from tests.ledger.conftest import COUNTY
from tests.ledger.factories import collected_fees
from tests.ledger.helpers import assert_invariants

pytestmark = pytest.mark.django_db
FEE_RE = re.compile(r'id="fees-(pending|posted)" data-fen="(-?\d+)"')


def _fees_shown(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in FEE_RE.findall(page)}


def _pages(client: Client, station) -> tuple[dict[str, int], dict[str, int]]:
    earnings = client.get(f"/commerce/earnings/?station={station.pk}")
    statement = client.get(f"/ledger/station/{station.pk}/")
    assert earnings.status_code == 200 and statement.status_code == 200
    return _fees_shown(earnings.content.decode()), _fees_shown(statement.content.decode())


def test_sweep_posts_owed_fees_once(station):
    collected_fees(station, 3)  # recorded, owed
    per_fee = StationFee.objects.filter(station=station).first().amount_fen
    assert per_fee > 0
    result = services.station_fees_sweep(county=COUNTY)
    assert (result.posted, result.posted_fen, result.transactions) == (3, 3 * per_fee, 1)
    assert set(StationFee.objects.values_list("status", flat=True)) == {"posted"}
    acct = Account.objects.get(kind="station", station=station)
    assert acct.balance_fen == -3 * per_fee
    tx = Transaction.objects.get(kind=TransactionKind.STATION_FEES)
    assert tx.occurred_at == result.cut
    # running it again posts nothing more
    before = Transaction.objects.count()
    again = services.station_fees_sweep(county=COUNTY)
    assert (again.recorded, again.posted, again.posted_fen) == (0, 0, 0)
    assert Transaction.objects.count() == before
    acct.refresh_from_db()
    assert acct.balance_fen == -3 * per_fee
    assert_invariants()


def test_sweep_records_what_was_handled_and_posts_it_as_of_the_days_end(station):
    now = timezone.now().astimezone(CHINA)
    yesterday = now.date() - dt.timedelta(days=1)
    collected_fees(station, 2)  # handled now: not part of yesterday's sweep
    r = services.station_fees_sweep(county=COUNTY, day=yesterday)
    assert (r.posted, r.posted_fen) == (0, 0)
    assert r.cut == dt.datetime.combine(yesterday, dt.time.max, tzinfo=CHINA)
    assert StationFee.objects.filter(status="owed").count() == 2
    r = services.station_fees_sweep(county=COUNTY)
    assert r.posted == 2
    with pytest.raises(ApplicationError) as exc:
        services.station_fees_sweep(county=COUNTY, day=now.date() + dt.timedelta(days=1))
    assert exc.value.code == "future_day"


def test_earnings_page_and_statement_show_the_same_pending_and_posted(station, make_user):
    operator = make_user(Role.STATION_OPERATOR, regions=[COUNTY], stations=[station.pk])
    c = Client()
    c.force_login(operator)
    collected_fees(station, 2)
    per_fee = StationFee.objects.first().amount_fen
    earnings, statement = _pages(c, station)
    assert earnings == statement == {"pending": 2 * per_fee, "posted": 0}
    services.station_fees_sweep(county=COUNTY)
    collected_fees(station, 1)  # handled after the sweep: pending
    earnings, statement = _pages(c, station)
    assert earnings == statement == {"pending": per_fee, "posted": 2 * per_fee}
    # the statement's closing balance is what the ledger holds: the posted fees
    acct = Account.objects.get(kind="station", station=station)
    assert -acct.balance_fen == statement["posted"]


def test_command_sweeps_each_county_and_is_idempotent(station):
    collected_fees(station, 2)
    out = io.StringIO()
    call_command("ledger_fees_sweep", county=COUNTY, stdout=out)
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["county"] == COUNTY and first["posted"] == 2
    out = io.StringIO()
    call_command("ledger_fees_sweep", stdout=out)  # every county with stations
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["county"] for r in rows} >= {COUNTY}
    assert all(r["posted"] == 0 for r in rows)


def test_the_simulator_sweeps_every_day_before_the_payouts(station):
    names = simulation.generators()
    assert names.index("ledger.fees") < names.index("ledger.payouts")
    for dep in ("logistics.parcels", "logistics.shipments", "commerce.assisted"):
        assert names.index(dep) < names.index("ledger.fees")
    collected_fees(station, 2)
    today = timezone.now().astimezone(CHINA).date()
    ctx = simulation.SimulationContext(seed=1, county_code=COUNTY, day=today)
    assert generate_fees(ctx)["posted"] == 2
    assert generate_fees(ctx)["posted"] == 0
    assert not StationFee.objects.filter(status="owed").exists()
