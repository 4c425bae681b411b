"""Simulation generator ``registry.households``: synthetic households and people for
one county, deterministic from the seed (``ctx.rng``), written through
:func:`cunzhan.registry.services.registry_bulk_load`.

Parameters (``ctx.params``):

- ``households_per_village`` (default 12): mean households per village (±25 %).
- ``poverty_share``: share of households registered poor (建档立卡); default 0.28 in
  a national poverty county, 0.05 elsewhere. Urban communities (居委会) get 40 % of it.
- ``income_years`` (default 3): income records for that many years before ``ctx.day``.

Idempotent: household numbers are ``0001``… per village in a deterministic order,
and a (village, number) pair that already exists is skipped, so running again for
the same seed, county and day creates nothing. The whole county load is recorded as
one audit event (simulated data; see ``registry_bulk_load``).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from cunzhan.core.scope import prefix_q
from cunzhan.core.simulation import SimulationContext, register
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import Level, Region
from cunzhan.registry import services
from cunzhan.registry.idcard import make_id_number
from cunzhan.registry.models import Household, IncomeRecord, Person, PovertyCause

PHONE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "157",
    "158",
    "159",
    "177",
    "180",
    "182",
    "183",
    "185",
    "187",
    "188",
    "189",
    "199",
]

CAUSE_WEIGHTS = {
    PovertyCause.ILLNESS: 42,
    PovertyCause.LACK_OF_LABOUR: 16,
    PovertyCause.SKILLS: 12,
    PovertyCause.CAPITAL: 10,
    PovertyCause.DISABILITY: 8,
    PovertyCause.EDUCATION: 5,
    PovertyCause.LAND: 3,
    PovertyCause.WATER: 2,
    PovertyCause.OTHER: 2,
}
REGISTERED_YEAR_WEIGHTS = {2014: 62, 2015: 15, 2016: 13, 2017: 6, 2018: 4}


@dataclass(frozen=True)
class NameLists:
    surnames: tuple[str, ...]
    surname_weights: tuple[float, ...]
    chars: dict[tuple[str, str], tuple[str, ...]]  # (sex m/f, era old/new) -> chars


@cache
def name_lists(data_dir: str | None = None) -> NameLists:
    base = Path(data_dir or settings.DATA_DIR) / "names"
    with open(base / "surnames.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    surnames = tuple(r["surname"] for r in rows)
    weights = tuple(float(r["weight_percent"]) for r in rows)
    chars: dict[tuple[str, str], list[str]] = {
        (s, e): [] for s in ("m", "f") for e in ("old", "new")
    }
    with open(base / "given_chars.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            sexes = ("m", "f") if r["sex"] == "u" else (r["sex"],)
            eras = ("old", "new") if r["era"] == "any" else (r["era"],)
            for s in sexes:
                for e in eras:
                    chars[(s, e)].append(r["char"])
    return NameLists(
        surnames=surnames,
        surname_weights=weights,
        chars={k: tuple(v) for k, v in chars.items()},
    )


def person_name(rng: random.Random, *, sex: str, birth_year: int) -> str:
    """A plausible name (weighted surname, era-typical given name) for other domains'
    synthetic people, e.g. the demo's station applicants."""
    maker = _PersonMaker(rng=rng, names=name_lists(), region="", year=birth_year, used=set())
    return maker.surname() + maker.given(sex, birth_year)


class _PersonMaker:
    def __init__(
        self, *, rng: random.Random, names: NameLists, region: str, year: int, used: set[str]
    ) -> None:
        self.rng = rng
        self.names = names
        self.region = region
        self.year = year
        self.used = used

    def surname(self) -> str:
        return self.rng.choices(self.names.surnames, weights=self.names.surname_weights)[0]

    def given(self, sex: str, birth_year: int) -> str:
        key = "m" if sex == "male" else "f"
        era = "old" if birth_year < 1985 else "new"
        pool = self.names.chars[(key, era)]
        other = self.names.chars[(key, "new" if era == "old" else "old")]
        first = self.rng.choice(pool if self.rng.random() < 0.85 else other)
        if self.rng.random() < 0.3:
            return first
        return first + self.rng.choice(pool)

    def id_number(self, sex: str, birth_year: int) -> str:
        rng = self.rng
        for _attempt in range(50):
            born = dt.date(birth_year, 1, 1) + dt.timedelta(days=rng.randrange(365))
            seq = rng.randrange(500) * 2 + (1 if sex == "male" else 0)
            number = make_id_number(region=self.region, birth_date=born, sequence=seq)
            if number not in self.used:
                self.used.add(number)
                return number
        raise RuntimeError("could not draw a free ID number")  # pragma: no cover

    def phone(self, birth_year: int) -> str:
        age = self.year - birth_year
        if not 18 <= age <= 70 or self.rng.random() > 0.85:
            return ""
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def person(
        self, *, surname: str, sex: str, birth_year: int, relation: str
    ) -> services.PersonSpec:
        birth_year = max(1915, min(birth_year, self.year - 1))
        return services.PersonSpec(
            name=surname + self.given(sex, birth_year),
            sex=sex,
            birth_year=birth_year,
            relation=relation,
            phone=self.phone(birth_year),
            id_number=self.id_number(sex, birth_year),
        )


def _head_age(rng: random.Random) -> int:
    # Rural household heads: few under 30, most 40-65 (many young adults work away).
    return int(rng.triangular(24, 88, 52))


def _members(mk: _PersonMaker) -> list[services.PersonSpec]:
    rng, year = mk.rng, mk.year
    age = _head_age(rng)
    head_sex = "male" if rng.random() < 0.85 else "female"
    family = mk.surname()
    members = [mk.person(surname=family, sex=head_sex, birth_year=year - age, relation="head")]
    married = rng.random() < (0.88 if age < 70 else 0.6)
    if married:
        spouse_sex = "female" if head_sex == "male" else "male"
        gap = rng.randint(-2, 5) * (1 if head_sex == "male" else -1)
        members.append(
            mk.person(
                surname=mk.surname(), sex=spouse_sex, birth_year=year - age + gap, relation="spouse"
            )
        )
    if married and age >= 22:
        n_children = rng.choices([0, 1, 2, 3], weights=[10, 35, 40, 15])[0]
        at_home = 1.0 if age < 45 else 0.45  # grown children often left home
        for _ in range(n_children):
            child_age = age - rng.randint(21, 34)
            if child_age < 0 or rng.random() > at_home:
                continue
            sex = "male" if rng.random() < 0.53 else "female"
            members.append(
                mk.person(surname=family, sex=sex, birth_year=year - child_age, relation="child")
            )
    if age < 55 and rng.random() < 0.3:
        parent_age = min(age + rng.randint(22, 32), 96)
        sex = "female" if rng.random() < 0.6 else "male"
        members.append(
            mk.person(
                surname=family if sex == "male" else mk.surname(),
                sex=sex,
                birth_year=year - parent_age,
                relation="parent",
            )
        )
    if age >= 52 and rng.random() < 0.4:
        for _ in range(rng.randint(1, 2)):
            g_age = rng.randint(1, max(1, min(16, age - 44)))
            sex = "male" if rng.random() < 0.53 else "female"
            members.append(
                mk.person(surname=family, sex=sex, birth_year=year - g_age, relation="grandchild")
            )
    return members


def _poverty(
    rng: random.Random, *, share: float, exit_year: int, this_year: int
) -> tuple[int, str, int | None] | None:
    if rng.random() >= share:
        return None
    reg = rng.choices(
        list(REGISTERED_YEAR_WEIGHTS), weights=list(REGISTERED_YEAR_WEIGHTS.values())
    )[0]
    cause = rng.choices(list(CAUSE_WEIGHTS), weights=list(CAUSE_WEIGHTS.values()))[0]
    if reg >= this_year or rng.random() < 0.02:
        return reg, str(cause), None  # still registered (monitored)
    first = min(reg + 1, exit_year)
    years = list(range(first, exit_year + 1))
    exited = rng.choices(years, weights=[i + 1 for i in range(len(years))])[0]
    return reg, str(cause), min(exited, this_year)


def _incomes(
    rng: random.Random,
    members: list[services.PersonSpec],
    *,
    poor: bool,
    years: list[int],
) -> list[tuple[int, str, int]]:
    last = years[-1]
    workers = sum(1 for m in members if 18 <= last - m.birth_year <= 60)
    elderly = sum(1 for m in members if last - m.birth_year >= 60)
    scale = 0.6 if poor else 1.0
    wages = sum(rng.uniform(15_000, 42_000) for _ in range(workers) if rng.random() < 0.6)
    farming = rng.uniform(2_000, 12_000)
    business = rng.uniform(5_000, 40_000) if rng.random() < 0.12 else 0.0
    transfers = elderly * rng.uniform(1_300, 2_400) + (rng.uniform(2_000, 6_000) if poor else 0)
    out: list[tuple[int, str, int]] = []
    for y in years:
        growth = 1.06 ** (y - last)
        for source, yuan in (
            ("wages", wages * scale),
            ("farming", farming),
            ("business_ecommerce", business * scale),
            ("transfers", transfers),
        ):
            if yuan > 0:
                out.append((y, source, round(yuan * growth) * 100))
    return out


def _village_label(name: str) -> str:
    for suffix in ("村民委员会", "居民委员会", "委员会"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def build_specs(ctx: SimulationContext) -> list[services.HouseholdSpec]:
    """The county's households as specs (no writes): deterministic from ctx."""
    county = Region.objects.filter(code=ctx.county_code, level=Level.COUNTY).first()
    if county is None:
        raise ValueError(f"{ctx.county_code!r} is not a county code in the region tree")
    per_village = int(ctx.params.get("households_per_village", 12))
    share = float(ctx.params.get("poverty_share", 0.28 if county.is_poverty_county else 0.05))
    exit_year = county.poverty_exit_year or 2019
    this_year = ctx.day.year
    n_years = int(ctx.params.get("income_years", 3))
    years = list(range(this_year - n_years, this_year))
    villages = list(
        Region.objects.filter(
            prefix_q("code", county.code), level=Level.VILLAGE, withdrawn_in=""
        ).order_by("code")
    )
    used: set[str] = set()
    names = name_lists()
    specs: list[services.HouseholdSpec] = []
    for village in villages:
        rng = ctx.county_rng(f"registry.households:{village.code}")
        mk = _PersonMaker(rng=rng, names=names, region=county.code, year=this_year, used=used)
        spread = max(1, per_village // 4)
        n = max(1, per_village + rng.randint(-spread, spread))
        community = is_ascii_digits(village.code[9:]) and int(village.code[9:]) < 200
        v_share = share * (0.4 if community else 1.0) * rng.uniform(0.6, 1.4)
        label = _village_label(village.name)
        for i in range(1, n + 1):
            members = _members(mk)
            poverty = _poverty(rng, share=v_share, exit_year=exit_year, this_year=this_year)
            incomes = _incomes(rng, members, poor=poverty is not None, years=years)
            specs.append(
                services.HouseholdSpec(
                    village_code=village.code,
                    number=f"{i:04d}",
                    address=f"{label}{rng.randint(1, 9)}组{rng.randint(1, 60)}号",
                    members=members,
                    poverty=poverty,
                    incomes=incomes,
                )
            )
    return specs


@register("registry.households", once=True)
def generate_households(ctx: SimulationContext) -> dict[str, Any]:
    specs = build_specs(ctx)
    existing = set(
        Household.objects.filter(prefix_q("village_id", ctx.county_code)).values_list(
            "village_id", "number"
        )
    )
    new = [s for s in specs if (s.village_code, s.number) not in existing]
    indexes = {
        services.id_number_index(m.id_number): m for s in new for m in s.members if m.id_number
    }
    # An ID drawn for a new household may belong to someone already on record
    # (entered by hand): that simulated person then gets no number rather than fail.
    for taken in Person.objects.filter(id_number_index__in=list(indexes)).values_list(
        "id_number_index", flat=True
    ):
        if taken is not None:
            indexes[taken].id_number = ""
    result = services.registry_bulk_load(
        specs=new,
        note=f"simulation seed={ctx.seed} county={ctx.county_code} day={ctx.day.isoformat()}",
    )
    return {
        "households_created": result.households_created,
        "households_skipped": len(specs) - len(new),
        "persons_created": result.persons_created,
        "registrations_created": result.registrations_created,
        "incomes_created": result.incomes_created,
    }


# -- income records: a year's figures written when the simulated days reach a new year --

IncomeLink = Callable[[str, int], dict[int, int]]
_INCOME_LINKS: list[IncomeLink] = []
# the share of a household's e-commerce sales that is its net income (costs of inputs,
# packing and the platform's fees taken off): an ASSUMPTION
SALES_NET_SHARE = 0.6
# a year's shock to wages (a migrant worker back home, an illness): an ASSUMPTION
WAGE_SHOCK_SHARE = 0.04


def register_income_link(fn: IncomeLink) -> IncomeLink:
    """A higher domain's ``fn(county, year) -> {household id: fen}``: a household's sales
    in that year (e.g. commerce's delivered orders of its lots), part of its
    business/e-commerce income. The registry never imports that domain."""
    _INCOME_LINKS.append(fn)
    return fn


def _linked_sales(county: str, year: int) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for fn in _INCOME_LINKS:
        for household, fen in fn(county, year).items():
            out[household] += fen
    return out


@register("registry.incomes", after=("registry.households", "commerce.sim"))
def generate_incomes(ctx: SimulationContext) -> dict[str, Any]:
    """On 1 January, last year's income of every household of the county that has an
    earlier year on record (the generated ones have three): each source moves on from
    the latest year (wages +6 % a year with noise and now and then a shock, farming with
    the weather, transfers +3 %), and the business/e-commerce figure follows the
    household's simulated sales (:func:`register_income_link`). A household that already
    has that year's records keeps them; written through
    :func:`~cunzhan.registry.services.income_records_bulk_add` (one audit event)."""
    if (ctx.day.month, ctx.day.day) != (1, 1):
        return {"incomes_created": 0}
    county = ctx.county_code
    year = ctx.day.year - 1
    homes = list(
        Household.objects.filter(prefix_q("village_id", county))
        .order_by("village_id", "number")
        .values_list("pk", "village_id", "number")
    )
    latest: dict[int, tuple[int, dict[str, int]]] = {}
    done: set[int] = set()
    for hh, y, source, fen in (
        IncomeRecord.objects.filter(
            prefix_q("household__village_id", county), year__gte=year - 5, year__lte=year
        )
        .order_by("household_id", "year")
        .values_list("household_id", "year", "source", "amount_fen")
    ):
        if y == year:
            done.add(hh)
            continue
        if hh not in latest or latest[hh][0] < y:
            latest[hh] = (y, {})
        latest[hh][1][source] = fen
    sales = _linked_sales(county, year)
    sales_before = _linked_sales(county, year - 1)
    rows: list[tuple[int, int, str, int]] = []
    for hh, village, number in homes:
        rng = ctx.rng(f"registry.incomes:{village}:{number}")
        # every household draws the same numbers, written or not (determinism)
        wage_step = rng.lognormvariate(0, 0.12)
        shock = rng.uniform(0.3, 0.7) if rng.random() < WAGE_SHOCK_SHARE else 1.0
        farm_step = rng.uniform(0.85, 1.2)
        business_step = rng.lognormvariate(0, 0.15)
        if hh in done or hh not in latest:
            continue
        prev_year, prev = latest[hh]
        growth = 1.06 ** (year - prev_year)
        base_business = max(
            0, prev.get("business_ecommerce", 0) - sales_before.get(hh, 0) * SALES_NET_SHARE
        )
        figures: dict[str, float] = {
            "wages": prev.get("wages", 0) * growth * wage_step * shock,
            "farming": prev.get("farming", 0) * farm_step,
            "business_ecommerce": base_business * growth * business_step
            + sales.get(hh, 0) * SALES_NET_SHARE,
            "transfers": prev.get("transfers", 0) * 1.03 ** (year - prev_year),
        }
        for source, amount in figures.items():
            if amount >= 100:
                rows.append((hh, year, source, round(amount / 100) * 100))
    created = services.income_records_bulk_add(
        rows=rows,
        note=f"simulation seed={ctx.seed} county={county} year={year}",
        region_code=county,
    )
    return {"incomes_created": created, "year": year, "households_with_sales": len(sales)}
