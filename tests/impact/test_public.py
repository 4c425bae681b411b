"""The public transparency page and its API: no login, aggregates only, cells of fewer
than 5 households suppressed, parents that would give a suppressed cell away
suppressed too, no personal data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cunzhan.core.scope import RegionScope
from cunzhan.impact import public
from cunzhan.impact.models import Indicator
from cunzhan.impact.services import indicators_refresh
from tests.impact.conftest import OUT_V, TODAY, V1, V2

NATIONAL = RegionScope.national()
TOWNSHIP = "520204106"


def households(village: str, n: int, *, tag: str) -> list:
    """``n`` registered households of ``village``, each with a head (a name, a phone)
    and a 2025 farming income of ¥1,000.00."""
    from cunzhan.registry import services as reg
    from tests.factories.registry import make_person

    out = []
    for i in range(n):
        hh = reg.household_create(scope=NATIONAL, village_code=village, address=f"{tag}{i}组")
        reg.poverty_register(household=hh, year_registered=2014, main_cause="illness")
        reg.income_record_set(household=hh, year=2025, source="farming", amount_fen=100_000)
        make_person(household=hh, name=f"{tag}户主{i}", phone=f"1380000{len(out):04d}")
        out.append(hh)
    return out


HOUSEHOLD_INDICATORS = [
    "poor_income_fen",
    "poor_income_ecommerce_share",
    "households_registered_poor",
    "households_exited",
]


def refresh() -> None:
    """The household-based indicators only (yearly or monthly: a quick refresh)."""
    for county in ("520204", "520203"):
        indicators_refresh(
            county_code=county,
            today=TODAY,
            since=dt.date(2025, 1, 1),
            indicator_codes=HOUSEHOLD_INDICATORS,
        )


def page(path: str, **q) -> str:
    r = Client().get(path, q)
    assert r.status_code == 200, r.content[:300]
    return r.content.decode()


def children_values(html: str) -> dict[str, str]:
    import re

    part = html.split('id="pub-children"')[1].split("</section>")[0]
    return {
        name: value.strip()
        for name, value in re.findall(
            r'<td><a href="[^"]+">([^<]+)</a></td><td class="num">([^<]+)</td>', part
        )
    }


def card(html: str, code: str) -> str:
    part = html.split(f'data-indicator="{code}"')[1].split("</div>")[0]
    return part.split("<b")[1].split(">", 1)[1].split("</b")[0]


@pytest.mark.parametrize("n,shown", [(4, False), (5, True)])
def test_a_village_of_4_households_is_suppressed_and_of_5_shown(regions, n, shown):
    households(V1, n, tag="甲")
    households(V2, 6, tag="乙")
    refresh()
    html = page(f"/open/r/{TOWNSHIP}/", indicator="poor_income_fen", year="2025")
    values = children_values(html)
    if shown:
        assert values["玉舍村村民委员会"] == "¥6,000.00"
        assert values["海坪村村民委员会"] == "¥5,000.00"
        assert card(html, "poor_income_fen") == "¥11,000.00"  # the township
    else:
        assert values["海坪村村民委员会"] == "&lt;5"
        # the township is V1 + V2: with V2 shown it would give V1 away, so V2 (the
        # cheapest complement) is withheld too and the township's total stays
        assert values["玉舍村村民委员会"] == "隐去"
        assert card(html, "poor_income_fen") == "¥10,000.00"
    # the village's own page agrees with the table
    own = page(f"/open/r/{V1}/", indicator="poor_income_fen", year="2025")
    assert (card(own, "poor_income_fen") != "&lt;5") is shown


def test_two_small_siblings_leave_their_parent_shown(regions):
    """4 + 3 households: both villages suppressed, neither recoverable from the
    township's total of 7 households, which is shown."""
    households(V1, 4, tag="甲")
    households(V2, 3, tag="乙")
    refresh()
    html = page(f"/open/r/{TOWNSHIP}/", indicator="poor_income_fen", year="2025")
    assert set(children_values(html).values()) == {"&lt;5"}
    assert card(html, "poor_income_fen") == "¥7,000.00"


def test_complementary_suppression_hides_the_cheapest_sibling(regions):
    """V1 small, V2 shown -> the township minus V2 would give V1 away: V2, the cheapest
    published sibling, is hidden too (ADR 0030), and everything above stays shown."""
    households(V1, 2, tag="甲")
    households(V2, 6, tag="乙")
    households(OUT_V, 6, tag="丙")
    refresh()
    ind = Indicator.objects.get(code="poor_income_fen")
    hidden = public.suppressed_codes(ind, "", 2025)
    assert hidden == {V1: "small", V2: "complementary"}
    html = page("/open/r/5202/", indicator="poor_income_fen", year="2025")
    assert children_values(html) == {"水城区": "¥8,000.00", "六枝特区": "¥6,000.00"}


def test_complementary_suppression_goes_up_the_tree(regions):
    """Two villages of 1 registered-poor household each: the township and the county
    (2 each) are small themselves, and the county's sibling 六枝特区 (6) is withheld, or
    the prefecture minus it would give 水城区 away; a small cell is never published."""
    households(V1, 1, tag="甲")
    households(V2, 1, tag="乙")
    households(OUT_V, 6, tag="丙")
    refresh()
    ind = Indicator.objects.get(code="households_registered_poor")
    hidden = public.suppressed_codes(ind, "", TODAY.year)  # a stock: the year holding today
    assert hidden[V1] == hidden[V2] == hidden[TOWNSHIP] == hidden["520204"] == "small"
    assert hidden["520203"] == "complementary"


def test_sales_and_household_shares_are_not_published(regions):
    """A share over households counts the union of its numerator's and denominator's
    households (6 with income, 1 with e-commerce income would pass), and the online
    sales have no per-seller suppression: neither is on the public page or API."""
    households(V1, 6, tag="甲")
    refresh()
    r = Client().get("/api/v1/impact/public/values", {"region": TOWNSHIP, "year": 2025})
    codes = {i["code"] for i in r.json()["indicators"]}
    assert "poor_income_fen" in codes and "households_registered_poor" in codes
    hidden = {
        "poor_income_ecommerce_share",
        "online_sales_fen",
        "online_sales_poverty_counties_fen",
        "online_sales_registered_poor_fen",
    }
    assert not codes & hidden
    assert set(Indicator.objects.values_list("code", flat=True)) >= hidden
    for code in hidden:
        r = Client().get(
            "/api/v1/impact/public/values", {"region": TOWNSHIP, "year": 2025, "indicator": code}
        )
        assert r.status_code == 404
        html = page(f"/open/r/{TOWNSHIP}/", indicator=code, year="2025")
        assert f'data-indicator="{code}"' not in html


def test_indicators_not_over_households_are_not_suppressed(small):
    for county in ("520204", "520203"):
        indicators_refresh(
            county_code=county,
            today=TODAY,
            since=dt.date(2026, 10, 1),
            indicator_codes=["parcels_down"],
        )
    html = page(f"/open/r/{TOWNSHIP}/", indicator="parcels_down", year="2026")
    assert children_values(html) == {"海坪村村民委员会": "4", "玉舍村村民委员会": "3"}
    assert card(html, "parcels_down") == "7"


def test_no_personal_data_and_no_drilldown(regions):
    hhs = households(V1, 4, tag="甲") + households(V2, 6, tag="乙")
    refresh()
    pages = [
        page("/open/", year="2025"),
        page("/open/r/5202/", year="2025"),
        page(f"/open/r/{TOWNSHIP}/", indicator="poor_income_fen", year="2025"),
        page(f"/open/r/{V1}/", indicator="households_registered_poor"),
        Client().get("/api/v1/impact/public/values", {"region": V1, "year": 2025}).content.decode(),
        Client()
        .get("/api/v1/impact/public/values", {"region": TOWNSHIP, "year": 2025})
        .content.decode(),
    ]
    for html in pages:
        assert "/rows/" not in html and "/impact/r/" not in html
        for hh in hhs:
            assert hh.number not in html and str(hh.uuid) not in html
        assert "户主" not in html and "1380000" not in html


def test_public_api_suppresses_like_the_page(regions):
    households(V1, 4, tag="甲")
    households(V2, 5, tag="乙")
    refresh()
    r = Client().get(
        "/api/v1/impact/public/values",
        {"region": TOWNSHIP, "year": 2025, "indicator": "poor_income_fen"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["min_households"] == 5 and body["indicator"] == "poor_income_fen"
    kids = {c["region_code"]: c for c in body["children"]}
    assert kids[V1]["suppressed"] and kids[V1]["value"] is None and kids[V1]["numerator"] is None
    assert kids[V1]["reason"] == "small"
    assert kids[V2]["suppressed"] and kids[V2]["reason"] == "complementary"
    mine = next(i for i in body["indicators"] if i["code"] == "poor_income_fen")["cell"]
    assert not mine["suppressed"] and mine["numerator"] == 900_000


def test_bad_input_is_a_clear_error(regions):
    c = Client()
    r = c.get("/api/v1/impact/public/values", {"region": "52x"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = c.get("/api/v1/impact/public/values", {"year": 1990})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = c.get("/api/v1/impact/public/values", {"year": dt.date.today().year + 1})
    assert r.status_code == 422 and r.json()["code"] == "period_out_of_range"
    r = c.get("/api/v1/impact/public/values", {"region": "529999"})
    assert r.status_code == 404
    r = c.get("/api/v1/impact/public/values", {"indicator": "nope"})
    assert r.status_code == 404
    assert c.get("/open/r/529999/").status_code == 404
    assert c.get("/open/", {"year": "20x5"}).status_code == 400


def test_households_at_risk_are_suppressed_under_5(regions):
    """The relapse-risk source rests on households: a village with 3 open cases shows
    "<5"; its sibling with 6 is withheld (the township's 9 minus it would give the small
    one away), and the township's 9, which pins neither, is shown."""
    from cunzhan.impact.risk import risk_scan

    households(V1, 3, tag="甲")
    households(V2, 6, tag="乙")
    assert risk_scan(county_code="520204", year=2025).flagged == 9  # ¥1,000 a head
    indicators_refresh(county_code="520204", today=TODAY, indicator_codes=["households_at_risk"])
    html = page(f"/open/r/{TOWNSHIP}/", indicator="households_at_risk", year="2026")
    values = children_values(html)
    assert values["海坪村村民委员会"] == "&lt;5" and values["玉舍村村民委员会"] == "隐去"
    assert card(html, "households_at_risk") == "9"
