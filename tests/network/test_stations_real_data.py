"""Station points on the real region tree of 六盘水市 (imported from the shipped data)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from tests.factories.stations import make_station

from cunzhan.accounts.roles import Role
from cunzhan.network import geo, services
from cunzhan.network.models import Level, Region

pytestmark = pytest.mark.django_db


def test_every_village_of_liupanshui_gets_a_point_inside_its_county(guizhou):
    villages = list(
        Region.objects.filter(code__gte="5202", code__lt="5203", level=Level.VILLAGE)
        .exclude(withdrawn_in__gt="")
        .order_by("code")
    )
    assert len(villages) == 1152
    townships = {
        r.code: r
        for r in Region.objects.filter(code__gte="5202", code__lt="5203", level=Level.TOWNSHIP)
    }
    far = 0
    for v in villages:
        lon, lat, synthetic = services.station_coordinates(region=v)
        assert synthetic
        fences = geo.county_fences(settings.DATA_DIR, v.code[:6])
        assert geo.point_in_any(lon, lat, fences), (v.code, v.name, lon, lat)
        t = townships[v.code[:9]]
        if t.longitude is not None:
            d = geo.haversine_km((t.longitude, t.latitude), (lon, lat))
            assert d <= 8.0 * 1.01, (v.code, d)
            far += d >= 1.5 * 0.99
    # almost every village lands in the 1.5-8 km ring (the rest fell back nearer the seat)
    assert far >= 0.95 * sum(1 for v in villages if townships[v.code[:9]].longitude is not None)
    # deterministic: the same village, the same point
    v = villages[100]
    assert services.station_coordinates(region=v) == services.station_coordinates(region=v)


def test_the_prefecture_map_shows_real_and_synthetic_stations(guizhou, make_user):
    admin = make_user(Role.NETWORK_ADMIN)
    make_station("520204")  # 水城区 county centre: the county seat, real
    make_station("520204002")  # 双水街道: a real township point
    village = Region.objects.filter(code__startswith="520204002", level=5).first()
    make_station(village.code)
    c = Client()
    c.force_login(admin)
    r = c.get(reverse("network:map"), {"region": "5202"})
    assert r.status_code == 200
    svg = re.search(r"<svg class=\"map\".*?</svg>", r.text, re.S).group(0)
    assert svg.count("<path ") == 4
    assert "水城区（原水城县）" in svg and "盘州市（原盘县）" in svg
    assert svg.count("<circle") == 3
    assert svg.count('fill="#ffffff"><title>') == 1  # only the village is hollow
    assert len(svg) < 200_000  # light enough for a phone
