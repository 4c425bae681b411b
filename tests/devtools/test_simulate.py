"""`cunzhan simulate`: the simulation framework from the command line, at scale: every
domain's generator over counties × days, deterministic from the seed, with a summary."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from tests.factories.stations import make_station

from cunzhan.core import simulation
from cunzhan.core.errors import ApplicationError
from cunzhan.core.simulation import CHINA
from cunzhan.devtools.fingerprint import data_fingerprint
from cunzhan.ledger.models import PayoutBatch, PayoutStatus, Transaction
from cunzhan.logistics.models import Parcel, StationFee
from cunzhan.network.models import StationStatus
from cunzhan.registry import services as registry_services
from cunzhan.registry.models import Household, IncomeRecord

pytestmark = pytest.mark.django_db

# 29 Dec 2025 (Monday) to 2 Jan 2026 (Friday): a new year and a payout day
START = "2025-12-29"
BUSY = [
    "--param",
    "parcels_per_household=1.5",
    "--param",
    "assisted_share=0.5",
    "--param",
    "households_per_village=4",
]


def simulate(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("simulate", *args, "--json", stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_lists_the_registered_generators():
    out = io.StringIO()
    call_command("simulate", "52", "--list", stdout=out)
    names = out.getvalue().split()
    for name in (
        "registry.households",
        "registry.incomes",
        "logistics.parcels",
        "logistics.shipments",
        "commerce.sim",
        "commerce.assisted",
        "ledger.payouts",
    ):
        assert name in names
    # payouts after the sales, incomes after the orders
    assert names.index("ledger.payouts") > names.index("commerce.sim")
    assert names.index("registry.incomes") > names.index("commerce.sim")


def test_runs_each_county_of_a_prefecture_deterministically_and_idempotently(regions):
    args = ("5202", "--seed", "7", "--day", "2026-11-02", "--param", "households_per_village=2")
    lines = simulate(*args)
    assert [line["county"] for line in lines] == ["520203", "520204"]
    created = sum(line["results"]["registry.households"]["households_created"] for line in lines)
    assert created == Household.objects.count() > 0
    names = sorted(Household.objects.values_list("village_id", "number"))
    again = simulate(*args)
    assert sum(line["results"]["registry.households"]["households_created"] for line in again) == 0
    assert sorted(Household.objects.values_list("village_id", "number")) == names


def test_counties_takes_the_first_n_and_households_are_made_once(regions):
    lines = simulate(
        "5202", "--counties", "1", "--day", START, "--days", "3", "--param",
        "households_per_village=2",
    )  # fmt: skip
    assert {line["county"] for line in lines} == {"520203"}
    assert [line["day"] for line in lines] == ["2025-12-29", "2025-12-30", "2025-12-31"]
    # the households are drawn on the county's first day only
    assert "registry.households" in lines[0]["results"]
    assert all("registry.households" not in line["results"] for line in lines[1:])
    assert not Household.objects.filter(village__code__startswith="520204").exists()


def test_a_new_year_and_a_friday_across_every_domain(regions):
    make_station("520204106201", StationStatus.ACTIVE)
    out = io.StringIO()
    call_command(
        "simulate", "520204", "--day", START, "--days", "5", "--seed", "3", *BUSY, stdout=out
    )
    summary = out.getvalue()
    assert "simulated 1 counties × 5 days (5 county-days)" in summary
    for domain in ("registry", "logistics", "commerce", "ledger"):
        assert f"  {domain} " in summary
    # parcels every day, their pickups on later days recorded (the run moves on until
    # the end of its last day)
    days = {p.tracking_number[2:8] for p in Parcel.objects.all()}  # 2-letter prefix, yymmdd
    assert len(days) >= 4
    assert Parcel.objects.filter(state="picked_up").count() > Parcel.objects.count() // 2
    # on 1 January: last year's income of every household, from its earlier years
    homes = Household.objects.filter(village__code__startswith="520204")
    assert homes.exists()
    for hh in homes:
        years = set(IncomeRecord.objects.filter(household=hh).values_list("year", flat=True))
        assert years == {2022, 2023, 2024, 2025}
        last = dict(
            IncomeRecord.objects.filter(household=hh, year=2025).values_list("source", "amount_fen")
        )
        before = dict(
            IncomeRecord.objects.filter(household=hh, year=2024).values_list("source", "amount_fen")
        )
        assert set(last) <= set(before) | {"business_ecommerce"}
        if before.get("transfers"):
            assert last["transfers"] == pytest.approx(before["transfers"] * 1.03, abs=100)
    # on Friday 2 January: a payout batch paid what the county owed (the 代购 commissions),
    # dated that day, and marked paid (the bank: the next morning, after the run's end,
    # so this one is still exported)
    batch = PayoutBatch.objects.get(note="sim:520204:2026-01-02")
    assert batch.total_fen > 0 and batch.line_count >= 1
    assert batch.transaction.occurred_at.date() == dt.date(2026, 1, 2)
    assert batch.status == PayoutStatus.EXPORTED
    # every day ends with the station fee sweep (issue 12): the fees of the five days are
    # recorded and posted to the ledger, none left owed, and Friday's batch paid them
    fees = StationFee.objects.all()
    assert fees.exists() and not fees.filter(status="owed").exists()
    posted = Transaction.objects.filter(kind="station_fees")
    assert sum(t.gross_fen for t in posted) == sum(f.amount_fen for f in fees)
    # posted as of each day's end (the run's own end on its last day)
    assert all(t.occurred_at.astimezone(CHINA).time() >= dt.time(23, 59, 59) for t in posted)
    assert batch.lines.filter(account__kind="station").exists()


def test_a_payout_is_paid_the_next_morning_and_not_made_twice(regions):
    make_station("520204106201", StationStatus.ACTIVE)
    args = ("520204", "--day", "2026-01-01", "--days", "3", "--seed", "5", *BUSY, "--quiet")
    call_command("simulate", *args)
    batch = PayoutBatch.objects.get()
    assert batch.status == PayoutStatus.PAID
    paid = Transaction.objects.get(kind="payout_paid")
    assert paid.occurred_at.date() == dt.date(2026, 1, 3)
    call_command("simulate", *args)
    assert PayoutBatch.objects.count() == 1


class _Rollback(Exception):
    pass


def _fingerprint_of(seed: int) -> dict:
    """Run on the test's start and roll back: each run starts from the same fresh state."""
    out: dict = {}
    try:
        with transaction.atomic():
            make_station("520204106201", StationStatus.ACTIVE)
            simulation.run_many(
                seed=seed,
                county_codes=["520204"],
                start=dt.date(2025, 12, 30),
                days=4,
                params={
                    "parcels_per_household": 1.5,
                    "assisted_share": 0.5,
                    "households_per_village": 4,
                    "until": "2026-01-02T23:59:59+08:00",
                },
            )
            out = data_fingerprint()
            raise _Rollback
    except _Rollback:
        pass
    return out


def test_same_seed_same_fingerprint_other_seed_differs(regions):
    first, second, other = _fingerprint_of(11), _fingerprint_of(11), _fingerprint_of(12)
    assert first["rows"]["parcels"] > 0 and first["rows"]["incomes"] > 0
    assert first["rows"]["payouts"] == 1
    assert first == second
    assert other["digest"] != first["digest"]


def test_progress_bar_names_the_county_and_day(regions, capsys):
    simulation.run_many(
        seed=1,
        county_codes=["520203"],
        start=dt.date(2026, 3, 2),
        days=2,
        only=["registry.households"],
        params={"households_per_village": 1},
        progress=True,
    )
    err = capsys.readouterr().err
    assert "2/2" in err and "520203 2026-03-03" in err


def test_income_records_bulk_add_keeps_what_is_on_record(regions):
    call_command(
        "simulate", "520204", "--day", "2026-03-02", "--only", "registry.households",
        "--param", "households_per_village=1", "--quiet",
    )  # fmt: skip
    hh = Household.objects.filter(village__code__startswith="520204").first()
    kept = IncomeRecord.objects.get(household=hh, year=2025, source="farming")
    IncomeRecord.objects.filter(household=hh, year=2025, source="business_ecommerce").delete()
    n = registry_services.income_records_bulk_add(
        rows=[(hh.pk, 2025, "farming", 1), (hh.pk, 2025, "business_ecommerce", 12_300)],
        note="test",
        region_code="520204",
    )
    kept.refresh_from_db()
    assert kept.amount_fen != 1
    assert n == 1
    added = IncomeRecord.objects.get(household=hh, year=2025, source="business_ecommerce")
    assert added.amount_fen == 12_300
    with pytest.raises(ApplicationError, match="lottery"):
        registry_services.income_records_bulk_add(
            rows=[(hh.pk, 2025, "lottery", 1)], note="test", region_code="520204"
        )
    with pytest.raises(ApplicationError, match="unknown id"):
        registry_services.income_records_bulk_add(
            rows=[(hh.pk + 10_000, 2025, "wages", 1)], note="test", region_code="520204"
        )
    on_record = IncomeRecord.objects.count()
    with pytest.raises(ApplicationError, match="more than once") as twice:
        registry_services.income_records_bulk_add(
            rows=[
                (hh.pk, 2026, "farming", 5),
                (hh.pk, 2026, "wages", 1),
                (hh.pk, 2026, "wages", 2),
            ],
            note="test",
            region_code="520204",
        )
    assert twice.value.code == "duplicate_income"
    assert IncomeRecord.objects.count() == on_record  # nothing written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999"], "not a loaded"),
        (["520204106"], "not a loaded"),
        (["520204", "--only", "nope"], "unknown generator"),
        (["520204", "--day", "2026-13-40"], "YYYY-MM-DD"),
        (["520204", "--param", "novalue"], "NAME=VALUE"),
        (["520204", "--days", "0"], "at least 1"),
        (["5202", "--counties", "0"], "at least 1"),
    ],
)
def test_bad_arguments_are_named(regions, args, message):
    with pytest.raises(CommandError, match=message):
        simulate(*args)
