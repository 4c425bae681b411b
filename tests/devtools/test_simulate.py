"""`cunzhan simulate`: the simulation framework from the command line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cunzhan.registry.models import Household

pytestmark = pytest.mark.django_db


def simulate(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_lists_the_registered_generators():
    out = io.StringIO()
    call_command("simulate", "52", "--list", stdout=out)
    assert "registry.households" in out.getvalue().split()


def test_runs_each_county_of_a_prefecture_deterministically_and_idempotently(regions):
    lines = simulate(
        "5202", "--seed", "7", "--day", "2026-11-02", "--param", "households_per_village=2"
    )
    assert [line["county"] for line in lines] == ["520203", "520204"]
    created = sum(line["results"]["registry.households"]["households_created"] for line in lines)
    assert created == Household.objects.count() > 0
    names = sorted(Household.objects.values_list("village_id", "number"))
    again = simulate(
        "5202", "--seed", "7", "--day", "2026-11-02", "--param", "households_per_village=2"
    )
    assert sum(line["results"]["registry.households"]["households_created"] for line in again) == 0
    assert sorted(Household.objects.values_list("village_id", "number")) == names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999"], "not a loaded"),
        (["520204106"], "not a loaded"),
        (["520204", "--only", "nope"], "unknown generator"),
        (["520204", "--day", "2026-13-40"], "YYYY-MM-DD"),
        (["520204", "--param", "novalue"], "NAME=VALUE"),
        (["520204", "--days", "0"], "at least 1"),
    ],
)
def test_bad_arguments_are_named(regions, args, message):
    with pytest.raises(CommandError, match=message):
        simulate(*args)
