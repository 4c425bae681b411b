"""Registry objects for tests, built through the services (so audit and rules apply)."""

from __future__ import annotations

import datetime as dt
import itertools

from cunzhan.core.scope import RegionScope
from cunzhan.registry import services
from cunzhan.registry.idcard import make_id_number
from cunzhan.registry.models import Household, Person

_seq = itertools.count(1)


def id_number(
    *, region: str = "520204", born: dt.date = dt.date(1980, 5, 17), sex: str = "male"
) -> str:
    """A fresh valid ID number (sequence parity follows ``sex``)."""
    n = next(_seq) % 499
    sequence = 2 * n + (1 if sex == "male" else 0)
    return make_id_number(region=region, birth_date=born, sequence=sequence)


def make_household(
    *, village: str = "520204106201", number: str = "", address: str = "1组"
) -> Household:
    return services.household_create(
        scope=RegionScope.national(), village_code=village, number=number, address=address
    )


def make_person(
    *,
    household: Household,
    name: str = "张三",
    sex: str = "male",
    birth_year: int | None = 1980,
    relation: str = "head",
    phone: str = "",
    with_id: bool = True,
    id_number_value: str = "",
) -> Person:
    number = id_number_value
    if with_id and not number:
        number = id_number(region="520204", born=dt.date(birth_year or 1980, 5, 17), sex=sex)
    return services.person_create(
        household=household,
        name=name,
        sex=sex,
        birth_year=birth_year,
        relation=relation,
        phone=phone,
        id_number=number,
    )
