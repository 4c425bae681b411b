from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.core import simulation
from cunzhan.core.models import AuditEvent
from cunzhan.core.simulation import SimulationContext
from cunzhan.registry import simulation as registry_sim
from cunzhan.registry.idcard import parse_id_number
from cunzhan.registry.models import Household, IncomeRecord, Person, PovertyRegistration

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 6, 1)


def _run(seed=7, county="520204", **params):
    return simulation.run(
        seed=seed,
        county_code=county,
        day=DAY,
        only=["registry.households"],
        params={"households_per_village": 20, **params},
    ).results["registry.households"]


def test_generator_is_registered():
    assert "registry.households" in simulation.generators()


def test_same_seed_same_people_and_numbers(regions):
    a = registry_sim.build_specs(SimulationContext(seed=7, county_code="520204", day=DAY))
    b = registry_sim.build_specs(SimulationContext(seed=7, county_code="520204", day=DAY))
    c = registry_sim.build_specs(SimulationContext(seed=8, county_code="520204", day=DAY))
    flat = lambda specs: [(m.name, m.id_number, m.birth_year) for s in specs for m in s.members]  # noqa: E731
    assert flat(a) == flat(b)
    assert flat(a) != flat(c)


def test_generated_people_are_valid_and_plausible(regions):
    result = _run()
    assert result["households_created"] == Household.objects.count() > 20
    people = list(Person.objects.all())
    assert result["persons_created"] == len(people)
    assert Person.objects.filter(relation="head").count() == Household.objects.count()
    from cunzhan.core.crypto import decrypt

    for p in people[:200]:
        parsed = parse_id_number(decrypt(p.id_number_enc))
        assert parsed.region == "520204"
        assert parsed.birth_date.year == p.birth_year
        assert parsed.sex == p.sex
        assert 2 <= len(p.name) <= 3
    ages = [DAY.year - p.birth_year for p in people]
    assert min(ages) < 18 and max(ages) > 60
    assert IncomeRecord.objects.filter(year=2023).exists()
    assert not IncomeRecord.objects.filter(year=2024).exists()
    # a poverty county: a sizeable registered share, nearly all exited by its exit year
    share = PovertyRegistration.objects.count() / Household.objects.count()
    assert 0.1 < share < 0.5
    exited = PovertyRegistration.objects.filter(year_exited__isnull=False)
    assert exited.count() >= 0.9 * PovertyRegistration.objects.count()
    assert not exited.filter(year_exited__gt=2019).exists()
    # one audit event for the whole load
    assert AuditEvent.objects.filter(object_type__startswith="registry.").count() == 1


def test_running_twice_creates_nothing_new(regions):
    first = _run()
    counts = (Household.objects.count(), Person.objects.count(), IncomeRecord.objects.count())
    second = _run()
    assert second["households_created"] == 0
    assert second["households_skipped"] == first["households_created"]
    assert counts == (
        Household.objects.count(),
        Person.objects.count(),
        IncomeRecord.objects.count(),
    )


def test_non_poverty_share_is_lower(regions):
    from cunzhan.network.models import Region

    Region.objects.filter(code="520204").update(is_poverty_county=False)
    _run(households_per_village=60)
    share = PovertyRegistration.objects.count() / Household.objects.count()
    assert share < 0.12
