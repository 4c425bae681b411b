"""GET /api/v1/network/regions and /regions/{code} on the real data of province 52."""

from __future__ import annotations

import pytest

from cunzhan.network.models import Kind, Level, Region


@pytest.fixture
def kunming(guizhou):
    """A unit in another province (53 is not imported here)."""
    Region.objects.create(code="53", name="云南省", level=Level.PROVINCE, kind=Kind.PROVINCE)
    Region.objects.create(
        code="5301", name="昆明市", level=Level.PREFECTURE, kind=Kind.PREFECTURE, parent_id="53"
    )
    return Region.objects.create(
        code="530102", name="五华区", level=Level.COUNTY, kind=Kind.DISTRICT, parent_id="5301"
    )


pytestmark = pytest.mark.django_db

URL = "/api/v1/network/regions"


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [r["code"] for r in items]


def test_admin_lists_provinces_and_drills_down(guizhou, kunming, make_user, api_client):
    client = api_client(make_user("network_admin"))
    assert codes(client.get(URL)) == ["52", "53"]
    assert len(codes(client.get(URL, {"parent": "52"}))) == 9
    assert codes(client.get(URL, {"parent": "5202"})) == ["520201", "520203", "520204", "520281"]
    assert len(codes(client.get(URL, {"parent": "520204"}))) == 30


def test_detail_has_counts_aliases_and_poverty(guizhou, make_user, api_client):
    client = api_client(make_user("network_admin"))
    body = client.get(f"{URL}/520204").json()
    assert body["descendant_counts"] == {"township": 30, "village": 189}
    assert body["is_poverty_county"] is True and body["poverty_exit_year"] == 2019
    assert [a["code"] for a in body["aliases"]] == ["520221"]
    alias = client.get(f"{URL}/520221").json()
    assert (alias["code"], alias["display_name"], alias["resolved_from"]) == (
        "520204",
        "水城区（原水城县）",
        "520221",
    )


def test_county_manager_sees_own_subtree_and_the_ancestors_only(
    guizhou, kunming, make_user, api_client
):
    client = api_client(make_user("county_manager", regions=["520204"]))
    # ancestors to drill down from the top
    assert codes(client.get(URL)) == ["52"]
    assert codes(client.get(URL, {"parent": "52"})) == ["5202"]
    assert codes(client.get(URL, {"parent": "5202"})) == ["520204"]
    assert len(codes(client.get(URL, {"parent": "520204"}))) == 30
    assert client.get(f"{URL}/52").status_code == 200
    assert client.get(f"{URL}/5202").status_code == 200
    assert client.get(f"{URL}/520204106200").status_code == 200
    # the former code of its own county resolves into scope
    assert client.get(f"{URL}/520221").json()["code"] == "520204"
    # outside: another province, a sibling county, their children
    for code in ("530102", "53", "520201", "520201001"):
        response = client.get(f"{URL}/{code}")
        assert response.status_code == 404, code
        assert response.json()["code"] == "unknown_region"
    assert client.get(URL, {"parent": "530102"}).status_code == 404
    assert client.get(URL, {"parent": "520201"}).status_code == 404


def test_outside_answers_look_the_same_as_unknown_codes(guizhou, kunming, make_user, api_client):
    client = api_client(make_user("county_manager", regions=["520204"]))
    outside = client.get(f"{URL}/530102").json()
    unknown = client.get(f"{URL}/530199").json()
    assert outside["code"] == unknown["code"] == "unknown_region"
    assert set(outside) == {"code", "message", "details"}


def test_bad_codes_and_no_token(guizhou, make_user, api_client, client):
    api = api_client(make_user("network_admin"))
    response = api.get(f"{URL}/52x")
    assert response.status_code == 404
    assert "not a region code" in response.json()["message"]
    assert client.get(URL).status_code == 401
