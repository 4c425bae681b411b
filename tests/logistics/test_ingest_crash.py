"""Crash: kill -9 the real server while a bulk batch is in flight, restart, send
everything again. Every event acknowledged before the kill is stored exactly once,
nothing is applied twice, and every parcel's state equals a clean derivation.

The server is ``cunzhan runserver --noreload`` in a subprocess, on a SQLite file or on
the PostgreSQL test database (whichever the suite runs on); setup and checks run in
subprocesses against the same database.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

# transaction=True: the PostgreSQL test database is shared with the subprocesses (what
# they commit is flushed afterwards); on SQLite the test uses its own file database
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
PARCELS = 600
STEPS = ["received_at_county", "sorted", "loaded", "at_station"]
BATCH = 400
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)

SETUP = """
import json, django
django.setup()
from cunzhan.accounts.roles import Role
from cunzhan.accounts.services import api_token_create, user_create
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.network.models import StationStatus
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row
make_region_tree()
st = make_station(VILLAGE, StationStatus.ACTIVE)
services.manifest_intake(scope=RegionScope.national(), carrier_code="ZTO",
                         rows=[row(i) for i in range(%d)])
user, _pw = user_create(username="crash-admin", password="pw-secret-1", role=Role.NETWORK_ADMIN,
                   display_name="crash")
print(json.dumps({"station": st.code, "token": api_token_create(user=user)[1]}))
"""

CHECK = """
import json, django
django.setup()
from django.db.models import Count
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ParcelException, ScanEvent, SmsMessage
events = {}
rows = ScanEvent.objects.values_list("parcel_id", "occurred_at", "event_id", "type")
for pid, at, eid, t in rows:
    events.setdefault(pid, []).append(sm.Event(at, eid, t))
mismatch = [p.tracking_number for p in Parcel.objects.all()
            if p.state != sm.derive_state(events.get(p.pk, [])).state]
sms = SmsMessage.objects.values("parcel_id").annotate(n=Count("id"))
sms = list(sms.values_list("n", flat=True))
print(json.dumps({
    "event_ids": list(ScanEvent.objects.values_list("event_id", flat=True)),
    "mismatch": mismatch,
    "states": sorted(set(Parcel.objects.values_list("state", flat=True))),
    "sms_per_parcel": sorted(set(sms)),
    "sms": len(sms),
    "exceptions": ParcelException.objects.filter(status="open").count(),
    "codes_missing": Parcel.objects.filter(state="at_station", pickup_code="").count(),
}))
"""


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "CUNZHAN_TESTING")}
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="cunzhan.config.settings",
        SECRET_KEY="crash-test-secret-key-0123456789-not-for-production",
        CUNZHAN_FIELD_KEYS="ZGV2LW9ubHktZmllbGQta2V5LWN1bnpoYW4tMDAwMDA=",
        CUNZHAN_PAYMENT_SANDBOX_SECRET="crash-test-sandbox-secret",
        CUNZHAN_HTTPS="0",  # plain HTTP on the loopback: no redirect to HTTPS (ADR 0023)
        PYTHONPATH=str(ROOT),
    )
    return env


def _py(db_url: str, code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(db_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db_url: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "cunzhan"), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=_env(db_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def _post(port: int, token: str, events: list[dict]) -> dict | None:
    """The answer, or None when the connection died (the server was killed)."""
    body = "".join(json.dumps(e) + "\n" for e in events).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/logistics/events",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:  # noqa: S310
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{exc.code}: {exc.read()[:500]!r}") from exc
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        return None


def _batches(station: str) -> list[list[dict]]:
    events = []
    for k, step in enumerate(STEPS):
        for n in range(PARCELS):
            tn = f"ZT{n:010d}"
            events.append(
                {
                    "event_id": f"crash-{tn}-{k}",
                    "carrier": "ZTO",
                    "tracking_number": tn,
                    "type": step,
                    "occurred_at": (T0 + dt.timedelta(minutes=k)).isoformat(),
                    "station_code": station if step == "at_station" else "",
                }
            )
    return [events[i : i + BATCH] for i in range(0, len(events), BATCH)]


@pytest.fixture
def db_url(tmp_path):
    if connection.vendor == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        out = subprocess.run(
            [str(BIN / "cunzhan"), "migrate", "--no-input", "-v0"],
            env=_env(url),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return url
    # PostgreSQL: the test database itself, flushed afterwards
    s = connection.settings_dict
    connection.close()
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_kill_9_during_bulk_ingest_loses_nothing_acknowledged_and_applies_nothing_twice(db_url):
    setup = _py(db_url, SETUP % PARCELS)
    token, batches = setup["token"], _batches(setup["station"])
    acked: set[str] = set()
    port = _port()
    proc = _serve(db_url, port)
    kills = 0
    try:
        for b, batch in enumerate(batches):
            if b in (1, 3, 5):  # kill -9 while this batch is in flight
                answer: list[dict | None] = []
                t = threading.Thread(
                    target=lambda a=answer, p=port, x=batch: a.append(_post(p, token, x))
                )
                t.start()
                time.sleep(0.05 + 0.1 * (b % 3))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                kills += 1
                t.join(timeout=120)
                if answer and answer[0] is not None:  # answered before it died
                    acked |= {e["event_id"] for e in answer[0]["events"]}
                port = _port()
                proc = _serve(db_url, port)
                continue
            out = _post(port, token, batch)
            assert out is not None
            acked |= {e["event_id"] for e in out["events"]}
        assert kills == 3
        # state after the crashes: what was acknowledged is there, exactly once
        mid = _py(db_url, CHECK)
        stored = mid["event_ids"]
        assert len(stored) == len(set(stored))
        assert acked <= set(stored)
        assert mid["mismatch"] == []
        # send everything again: all lands, nothing twice
        statuses: dict[str, str] = {}
        for batch in batches:
            out = _post(port, token, batch)
            assert out is not None
            statuses.update({e["event_id"]: e["status"] for e in out["events"]})
        assert all(statuses[eid] == "duplicate" for eid in acked)
        assert set(statuses.values()) <= {"duplicate", "applied"}
    finally:
        proc.kill()
        proc.wait(timeout=30)
    final = _py(db_url, CHECK)
    every = {e["event_id"] for batch in batches for e in batch}
    assert sorted(final["event_ids"]) == sorted(
        every | {f"manifest:ZTO:ZT{n:010d}" for n in range(PARCELS)}
    )
    assert final["mismatch"] == [] and final["states"] == ["at_station"]
    assert final["sms"] == PARCELS and final["sms_per_parcel"] == [1]  # one arrival SMS each
    # out-of-order arrivals opened exceptions that resolved themselves; none stays open
    assert final["exceptions"] == 0 and final["codes_missing"] == 0
