from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cunzhan.logistics.planning.distances import (
    DistanceProviderError,
    HaversineProvider,
    OsrmProvider,
    haversine_m,
)

# 水城区 and 钟山区 seats, roughly (lon, lat).
SHUICHENG = (104.957, 26.547)
ZHONGSHAN = (104.843, 26.577)


def test_haversine_one_degree_of_latitude():
    assert haversine_m((104.0, 26.0), (104.0, 27.0)) == pytest.approx(111_195, rel=1e-3)


def test_circuity_and_speed_give_integer_metres_and_rounded_up_seconds():
    straight = haversine_m(SHUICHENG, ZHONGSHAN)
    m, s = HaversineProvider(circuity=1.4, speed_kmh=36).matrices([SHUICHENG, ZHONGSHAN])
    assert m[0][0] == s[1][1] == 0
    assert m[0][1] == m[1][0] == round(straight * 1.4)
    assert s[0][1] * 10 >= straight * 1.4 > (s[0][1] - 1) * 10  # 36 km/h = 10 m/s, ceil
    assert all(isinstance(v, int) for row in m + s for v in row)


@pytest.mark.parametrize(
    ("kwargs", "fragment"), [({"circuity": 0.9}, "circuity"), ({"speed_kmh": 0}, "speed")]
)
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        HaversineProvider(**kwargs)


def test_bad_point():
    with pytest.raises(ValueError, match="lon, lat"):
        HaversineProvider().matrices([(26.5, 204.9)])


class _FakeOsrm(BaseHTTPRequestHandler):
    answer: dict = {}

    def do_GET(self):
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def osrm():
    server = HTTPServer(("127.0.0.1", 0), _FakeOsrm)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_osrm_table_is_read_and_rounded(osrm):
    _FakeOsrm.answer = {
        "code": "Ok",
        "distances": [[0, 1234.4], [1250.6, 0]],
        "durations": [[0, 100.2], [99.0, 0]],
    }
    url = f"http://127.0.0.1:{osrm.server_port}"
    m, s = OsrmProvider(url).matrices([SHUICHENG, ZHONGSHAN])
    assert m == [[0, 1234], [1251, 0]]
    assert s == [[0, 101], [99, 0]]
    assert osrm.seen[0].startswith("/table/v1/driving/104.957000,26.547000;104.843000,26.577000")
    assert "annotations=distance,duration" in osrm.seen[0]


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ({"code": "InvalidQuery", "message": "bad"}, "InvalidQuery"),
        ({"code": "Ok", "distances": [[0, None], [1, 0]], "durations": [[0, 1], [1, 0]]}, "null"),
        ({"code": "Ok"}, "no usable"),
    ],
)
def test_osrm_errors_are_clear(osrm, answer, fragment):
    _FakeOsrm.answer = answer
    with pytest.raises(DistanceProviderError, match=fragment):
        OsrmProvider(f"http://127.0.0.1:{osrm.server_port}").matrices([SHUICHENG, ZHONGSHAN])


def test_osrm_unreachable_and_bad_url():
    with pytest.raises(DistanceProviderError, match="failed"):
        OsrmProvider("http://127.0.0.1:9", timeout=2).matrices([SHUICHENG, ZHONGSHAN])
    with pytest.raises(DistanceProviderError, match="http"):
        OsrmProvider("file:///etc/passwd").matrices([SHUICHENG])
