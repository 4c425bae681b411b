"""An attacker against the public page's data (issue 12, §3): it fetches every level of
every household-based indicator of a small world through the public API (no login),
then subtracts, children from parents, as far as the published cells take it
(interval reasoning: a cell marked "small" holds 1 to 4 households of a count, zero
is published as 0, any other hidden cell is at least 0). It must recover no cell that
rests on fewer than 5 households."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.test import Client

from cunzhan.impact.models import IndicatorValue
from cunzhan.network.models import Level, Region
from tests.impact.conftest import OUT_V, V1, V2
from tests.impact.test_public import households, refresh

TOWNSHIP = "520204106"
EXTRA = {f"{TOWNSHIP}{n}": f"第{n}村" for n in (203, 204, 205)}
# household indicators whose value is a number of households
COUNTS = {"households_registered_poor", "households_exited"}


@pytest.fixture
def world(regions):
    for code, name in EXTRA.items():
        Region.objects.create(
            code=code, name=name, level=Level.VILLAGE, kind="village", parent_id=TOWNSHIP
        )
    # four villages with one registered household each, one with six, one village
    # elsewhere with two: the township (10) minus the large village (6) is 4 = 1+1+1+1
    for i, village in enumerate((V1, V2, f"{TOWNSHIP}203", f"{TOWNSHIP}204")):
        households(village, 1, tag=f"小{i}")
    households(f"{TOWNSHIP}205", 6, tag="大")
    households(OUT_V, 2, tag="外")
    refresh()
    # the latest year with a stored registered-poor stock (a stock is stored per year up
    # to the refresh's day)
    return max(
        IndicatorValue.objects.filter(
            indicator__code="households_registered_poor", region_code=V1, period_type="year"
        ).values_list("period_start__year", flat=True)
    )


def crawl(client: Client, year: int) -> dict[str, dict[str, dict]]:
    """indicator -> region code -> published cell, every level from the nation down."""
    first = client.get("/api/v1/impact/public/values", {"year": year}).json()
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for ind in first["indicators"]:
        code = ind["code"]
        out[code][""] = ind["cell"]
        todo = [""]
        while todo:
            region = todo.pop()
            r = client.get(
                "/api/v1/impact/public/values",
                {"region": region, "year": year, "indicator": code},
            )
            assert r.status_code == 200, r.content[:300]
            for child in r.json()["children"]:
                out[code][child["region_code"]] = child
                todo.append(child["region_code"])
    return out


def _parent(code: str) -> str:
    return {2: "", 4: code[:2], 6: code[:4], 9: code[:6], 12: code[:9]}[len(code)]


def infer(cells: dict[str, dict], *, part: str, counts: bool) -> dict[str, tuple[float, float]]:
    """The attacker's bounds on each cell's ``part`` (numerator or denominator)."""
    inf = float("inf")
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for code, c in cells.items():
        if not c["suppressed"]:
            lo[code] = hi[code] = float(c[part] or 0)
        elif counts and c["reason"] == "small" and part == "numerator":
            lo[code], hi[code] = 1.0, 4.0
        else:
            lo[code], hi[code] = 0.0, inf
    kids: dict[str, list[str]] = defaultdict(list)
    for code in cells:
        if code:
            kids[_parent(code)].append(code)
    for _round in range(100):
        before = (dict(lo), dict(hi))
        for p, ks in kids.items():
            if p not in lo:
                continue
            lo[p] = max(lo[p], sum(lo[k] for k in ks))
            hi[p] = min(hi[p], sum(hi[k] for k in ks))
            for k in ks:
                others_hi = sum(hi[j] for j in ks if j != k)
                others_lo = sum(lo[j] for j in ks if j != k)
                lo[k] = max(lo[k], lo[p] - others_hi)
                hi[k] = min(hi[k], hi[p] - others_lo)
        if (lo, hi) == before:
            break
    return {c: (lo[c], hi[c]) for c in cells}


def truth(year: int) -> dict[tuple[str, str], IndicatorValue]:
    return {
        (v.indicator.code, v.region_code): v
        for v in IndicatorValue.objects.filter(
            period_type="year", period_start=dt.date(year, 1, 1)
        ).select_related("indicator")
    }


def test_the_attacker_recovers_no_small_cell(world):
    published = crawl(Client(), world)
    real = truth(world)
    assert "households_registered_poor" in published  # the world is really crawled
    assert published["households_registered_poor"][V1]["suppressed"]
    recovered = []
    for ind, cells in published.items():
        for part in ("numerator", "denominator"):
            bounds = infer(cells, part=part, counts=ind in COUNTS)
            for code, (lo, hi) in bounds.items():
                v = real.get((ind, code))
                if v is None or not (v.households is None or 0 < v.households < 5):
                    continue
                if getattr(v, part) is None:  # no denominator: not a ratio
                    continue
                if lo == hi:
                    recovered.append((ind, code, part, lo, getattr(v, part)))
    assert not recovered, f"small cells recovered by subtraction: {recovered}"
    # and the bounds the attacker found are true (it reasons soundly)
    for ind, cells in published.items():
        for code, (lo, hi) in infer(cells, part="numerator", counts=ind in COUNTS).items():
            v = real.get((ind, code))
            n = v.numerator if v else 0
            assert lo <= n <= hi, (ind, code, lo, hi, n)


def test_a_cell_is_hidden_alike_on_its_own_page_and_its_parents(world):
    """Suppression is computed over the whole tree: a cell shown on one page and hidden
    on another would be given away."""
    c = Client()
    seen: dict[str, set[bool]] = defaultdict(set)
    for region in ("", "52", "5202", "520204", TOWNSHIP, *EXTRA, V1, V2):
        body = c.get(
            "/api/v1/impact/public/values",
            {"region": region, "year": world, "indicator": "households_registered_poor"},
        ).json()
        own = next(i for i in body["indicators"] if i["code"] == "households_registered_poor")
        seen[region].add(own["cell"]["suppressed"])
        for child in body["children"]:
            seen[child["region_code"]].add(child["suppressed"])
    assert all(len(v) == 1 for v in seen.values()), dict(seen)
    assert seen[V1] == {True}
