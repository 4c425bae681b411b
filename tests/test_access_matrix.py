"""The access matrix: EVERY API operation and EVERY page, called by a user of each role
(assigned to 水城区 520204) on objects of another county (六枝特区 520203, a sibling, and
五华区 530102 in another province). Nothing may leak, for reads and for writes.

The routes are not listed by hand: the API operations come from the live OpenAPI schema
and the pages from Django's URL resolver. A route whose parameter this file cannot
fill, or a write that has no hint here, FAILS with a message saying what to add. So a
new endpoint cannot reach CI without being walked by this matrix.

A leak is detected by markers (tests/factories/world.py): strings that only OUT
objects carry and that are never sent in a request. The network admin (national
scope) is the control: it must see those markers and its writes must change the OUT
rows, which proves that every probe here targets a real object with a request that
would succeed if scoping were missing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cunzhan.accounts.roles import Role
from cunzhan.devtools.openapi import openapi_schema
from cunzhan.network.services import TRANSITIONS
from cunzhan.registry.idcard import make_id_number
from cunzhan.registry.importers import COLUMNS
from tests.factories.world import World, make_world, out_snapshot, world_day

API_PREFIX = "/api/v1"
SCHEMA = openapi_schema()
ROLES = [r for r in Role.values if r != Role.NETWORK_ADMIN]
CONTROL = Role.NETWORK_ADMIN
DENIED = {400, 401, 403, 404, 422}
WRITE_METHODS = {"post", "put", "patch", "delete"}
PROBE = "ACCESS-PROBE"  # names given to what a write would create


# --- the world, once per module ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once, inside a transaction rolled back at the end of the module; every test
    runs in its own savepoint (pytest-django's ``db``), so writes never carry over."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield make_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def w(world, db) -> World:
    return world


# --- API: identifiers, query probes and write hints -------------------------------------------

# path parameter name -> the OUT identifiers to try (every one must be denied)
API_PATH_PARAMS: dict[str, Callable[[World], list[Any]]] = {
    "code": lambda w: [w.out.code, w.out.township, w.out.village, w.far.code, "53", "5301"],
    "station_id": lambda w: [s.pk for c in (w.out, w.far) for s in c.stations.values()],
    "household_id": lambda w: [w.out.household.uuid, w.far.household.uuid],  # type: ignore[union-attr]
    "person_id": lambda w: [w.out.person.uuid, w.far.person.uuid],  # type: ignore[union-attr]
    "batch_id": lambda w: [w.out.batch.uuid, w.far.batch.uuid],  # type: ignore[union-attr]
    "consent_id": lambda w: [w.out.consent.pk, w.far.consent.pk],  # type: ignore[union-attr]
    "helper_id": lambda w: [w.out.helper.pk, w.far.helper.pk],  # type: ignore[union-attr]
    "user_id": lambda w: [u.pk for c in (w.out, w.far) for u in c.users],
    "token_id": lambda w: out_token_ids(w),
    "parcel_id": lambda w: [w.out.parcel.uuid, w.far.parcel.uuid],  # type: ignore[union-attr]
    "shipment_id": lambda w: [s.uuid for c in (w.out, w.far) for s in c.shipments.values()],
    "county_code": lambda w: [w.out.code, w.far.code],
    "exception_id": lambda w: [w.out.exception.pk, w.far.exception.pk],  # type: ignore[union-attr]
    "vehicle_id": lambda w: [c.plan["vehicle"].pk for c in (w.out, w.far)],
    "plan_id": lambda w: [c.plan["plan"].pk for c in (w.out, w.far)],
    "route_id": lambda w: [c.plan["route"].pk for c in (w.out, w.far)],
    "run_id": lambda w: [c.plan["run"].pk for c in (w.out, w.far)],
    "stop_id": lambda w: [c.plan["stop"].pk for c in (w.out, w.far)],
    "producer_id": lambda w: [
        c.commerce[k].uuid for c in (w.out, w.far) for k in ("person", "coop")
    ],
    "lot_id": lambda w: [lot.uuid for c in (w.out, w.far) for lot in c.commerce["lots"].values()],
    # public: the trace code is the capability (API_PUBLIC_READS, PUBLIC_PAGES)
    "trace_code": lambda w: [c.commerce["lots"]["packed"].code for c in (w.out, w.far)],
    "account_id": lambda w: [a.uuid for c in (w.out, w.far) for a in ledger_accounts(c)],
    "payout_id": lambda w: [c.ledger["batch"].uuid for c in (w.out, w.far)],
    "details_id": lambda w: [c.ledger["bank_pending"].uuid for c in (w.out, w.far)],
    "purchase_id": lambda w: [
        c.assisted[k].uuid for c in (w.out, w.far) for k in ("recorded", "ordered")
    ],
    "order_id": lambda w: [
        c.orders[k].uuid for c in (w.out, w.far) for k in ("pending", "paid", "delivered")
    ],
    # the payment webhook: signed, no token (API_SIGNED_WEBHOOKS)
    "provider": lambda w: ["sandbox"],
    "buyer_id": lambda w: [c.orders["buyer"].uuid for c in (w.out, w.far)],
    # a marketplace's orders: by a county manager's token, or signed (API_SIGNED_WEBHOOKS)
    "marketplace_code": lambda w: ["pdd"],
    "owner_key": lambda w: [c.ledger["producer"].owner_key for c in (w.out, w.far)],
    # impact: indicators are national definitions; the region ``code`` carries the scope
    "indicator_code": lambda w: ["parcels_down", "pickup_rate", "jobs"],
    # relapse risk (ADR 0019): each OUT county's case (assigned, visited)
    "case_id": lambda w: [c.risk["case"].uuid for c in (w.out, w.far)],
}

# read operations without path parameters: query strings that aim at the OUT regions
API_QUERY_PROBES: dict[str, Callable[[World], list[dict[str, Any]]]] = {
    "GET /impact/public/values": lambda w: [
        {"region": w.out.code},
        {"region": w.out.village, "indicator": "households_registered_poor"},
        {"region": w.far.code, "indicator": "poor_income_fen"},
        {"region": "5202", "indicator": "poor_income_fen"},
    ],
    "GET /network/regions": lambda w: [
        {"parent": w.out.code},
        {"parent": w.out.township},
        {"parent": "53"},
        {"parent": "5301"},
        {"parent": "5202"},
    ],
    "GET /network/stations": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"region": "5202"},
        {"status": "proposed"},
        {"page_size": 500},
    ],
    "GET /registry/households": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"region": "5202"},
        {"poor_only": "true"},
        {"q": "1组"},
        {"page_size": 500},
    ],
    "GET /accounts/users": lambda w: [
        {"page_size": 500},
        {"region": w.out.code},
        {"region": "53"},
        {"role": "county_manager"},
        {"active": "false"},
        {"q": "cm-"},
    ],
    "GET /logistics/vehicles": lambda w: [{"county": w.out.code}, {"county": "53"}],
    "GET /logistics/plans": lambda w: [{"county": w.out.code}, {"date": w.on(1)}],
    "GET /logistics/parcels": lambda w: [
        {"village": w.out.village},
        {"village": "53"},
        {"village": "5202"},
        {"state": "at_station"},
        {"carrier": "ZTO"},
        {"station_id": w.out.stations["village"].pk},
        {"page_size": 500},
    ],
    "GET /logistics/exceptions": lambda w: [
        {"county": w.out.code},
        {"county": w.far.code},
        {"county": "53"},
        {"status": ""},
        {"problem": "illegal_transition"},
        {"q": "W52020"},
        {"page_size": 500},
    ],
    "GET /logistics/shipments": lambda w: [
        {"station_id": w.out.stations["village"].pk},
        {"state": "booked"},
        {"page_size": 500},
    ],
    "GET /logistics/fees": lambda w: [
        {"station_id": w.out.stations["village"].pk},
        {"month": w.month},
    ],
    "GET /commerce/producers": lambda w: [
        {"station_id": w.out.stations["village"].pk},
        {"kind": "person"},
        {"page_size": 500},
    ],
    "GET /commerce/lots": lambda w: [
        {"station_id": w.out.stations["village"].pk},
        {"status": "harvested"},
        {"product": "kiwifruit-red"},
        {"page_size": 500},
    ],
    "GET /commerce/prices": lambda w: [
        {"county": w.out.code},
        {"county": w.far.code},
        {"product": "kiwifruit-red"},
    ],
    "GET /ledger/accounts": lambda w: [
        {"county": w.out.code},
        {"county": w.far.code},
        {"kind": "producer"},
        {"q": f"producer:{w.out.code}"},
        {"page_size": 500},
    ],
    "GET /ledger/transactions": lambda w: [
        {"county": w.out.code},
        {"kind": "sale"},
        {"page_size": 500},
    ],
    "GET /ledger/payouts": lambda w: [{"county": w.out.code}, {"county": w.far.code}],
    "GET /commerce/assisted": lambda w: [
        {"station_id": w.out.stations["village"].pk},
        {"status": "recorded"},
        {"page_size": 500},
    ],
    "GET /commerce/buyers": lambda w: [{"page_size": 500}],
    "GET /commerce/sales/report": lambda w: [{"month": w.month}],
    "GET /commerce/orders": lambda w: [
        {"state": "paid"},
        {"channel": "storefront"},
        {"page_size": 500},
    ],
    # impact: the county-by-month rollup (from the database here: no columnar snapshot)
    "GET /impact/rollup": lambda w: [
        {"region": w.out.code},
        {"region": w.out.village},
        {"region": "53"},
        {"region": "5202"},
        {"source": "database"},
        {"first": f"{w.day.year}-01", "last": f"{w.day.year}-12"},
    ],
    "GET /logistics/epcis": lambda w: [
        {"parcel": w.out.parcel.uuid},  # type: ignore[union-attr]
        {"parcel": w.far.parcel.uuid},  # type: ignore[union-attr]
        {"village": w.out.village},
        {"village": "53"},
        {"village": "5202"},
        {"limit": 10_000},
    ],
}

# list reads in which the control (network admin) must find OUT markers
API_CONTROL_LISTS = {
    "GET /network/regions",
    "GET /network/stations",
    "GET /registry/households",
    "GET /accounts/users",
    "GET /logistics/parcels",
    "GET /logistics/shipments",
    "GET /logistics/fees",
    "GET /logistics/exceptions",
    "GET /logistics/vehicles",
    "GET /logistics/plans",
    "GET /logistics/epcis",
    "GET /commerce/producers",
    "GET /commerce/lots",
    "GET /commerce/prices",
    "GET /ledger/accounts",
    "GET /ledger/transactions",
    "GET /ledger/payouts",
    "GET /commerce/orders",
    "GET /commerce/buyers",
    "GET /commerce/sales/report",
}
API_CONTROL_LISTS |= {"GET /commerce/assisted", "GET /commerce/assisted/reviews"}
# the village directory (names only, issue 12): station operators' view of the register
API_QUERY_PROBES["GET /registry/residents"] = lambda w: [{"q": "1"}, {"page_size": 500}]
API_CONTROL_LISTS |= {"GET /registry/residents"}
# relapse risk: the cases and the per-township counts
API_QUERY_PROBES["GET /impact/risk/cases"] = lambda w: [
    {"region": w.out.code},
    {"region": w.out.township},
    {"region": "53"},
    {"status": "visited"},
    {"page_size": 500},
]
API_QUERY_PROBES["GET /impact/risk/townships"] = lambda w: [
    {"region": w.out.code},
    {"region": "53"},
]
API_CONTROL_LISTS |= {"GET /impact/risk/cases", "GET /impact/risk/townships"}

# public reads (no token; a lot's trace code is the capability): every caller gets the
# object, and none may see personal data (World.personal_markers)
API_PUBLIC_READS = {"GET /commerce/trace/{trace_code}", "GET /commerce/trace/{trace_code}/epcis"}
# the marketplaces' product feed: public, lists every county's listings (no personal data)
API_PUBLIC_READS |= {"GET /commerce/feed", "GET /commerce/feed.csv"}
# the public transparency data: yearly aggregates of any region, small cells suppressed
API_PUBLIC_READS |= {"GET /impact/public/values"}

# webhooks (no token; an HMAC signature is the credential): every caller's unsigned or
# badly signed event for an OUT payment is refused (401) and changes nothing; the
# control sends it correctly signed and the OUT order is paid (_signed_webhook)
API_SIGNED_WEBHOOKS = {
    "POST /commerce/payments/{provider}/webhook",
    "POST /commerce/marketplaces/{marketplace_code}/webhook",
}

# routes any caller may use (no token): checked for 401 on bad credentials instead
API_PUBLIC = {"POST /accounts/token"}

FROM_SCHEMA = object()  # a hint body built from the request schema's required fields


@dataclass
class WriteHint:
    """How to aim a write at an OUT object so that it WOULD succeed without scoping.

    ``path``: path parameters (a station in the state the action starts from);
    ``body``: JSON body, or FROM_SCHEMA; ``files``: multipart upload instead;
    ``collection``: a write on a collection (the caller may get 2xx for its own rows,
    e.g. an import whose OUT rows are reported as errors), checked by the snapshot.
    """

    body: Callable[[World], Any] = lambda w: FROM_SCHEMA
    path: Callable[[World], dict[str, Any]] = lambda w: {}
    files: Callable[[World], dict[str, Any]] | None = None
    collection: bool = False


def fresh_id_number(region: str, seq: int = 7) -> str:
    import datetime as dt

    return make_id_number(region=region, birth_date=dt.date(1985, 6, 1), sequence=2 * seq)


def import_csv(w: World) -> bytes:
    """Two rows aimed outside: one updates the OUT household, one adds a person to the
    far county. Without scoping both would be written."""

    def row(**values: str) -> str:
        base = {c.key: "" for c in COLUMNS}
        base.update(values)
        return ",".join(base[c.key] for c in COLUMNS)

    lines = [
        ",".join(c.label for c in COLUMNS),
        row(
            village_code=w.out.village,
            household_number=w.out.household.number,  # type: ignore[union-attr]
            address=f"{PROBE} 改地址",
            name=f"{PROBE}甲",
            sex="女",
            relation="配偶",
            birth_year="1985",
            id_number=fresh_id_number(w.out.code, 11),
        ),
        row(
            village_code=w.far.village,
            household_number="PROBE1",
            name=f"{PROBE}乙",
            sex="女",
            relation="户主",
            birth_year="1985",
            id_number=fresh_id_number(w.far.code, 12),
        ),
    ]
    return ("\n".join(lines) + "\n").encode()


def station_apply_body(w: World) -> dict[str, Any]:
    return {
        "region_code": w.out.free_village,
        "kind": "village_station",
        "name": f"{PROBE} 站",
        "address": "村委会旁",
        "applicant_name": "王小二",
        "applicant_phone": "13800000000",
        "premises_m2": 40,
        "committee_recommendation": True,
        "deposit_fen": 100_000,
    }


def out_token_ids(w: World) -> list[int]:
    from cunzhan.accounts.models import ApiToken

    users = [u.pk for c in (w.out, w.far) for u in c.users]
    return list(ApiToken.objects.filter(user_id__in=users).values_list("pk", flat=True))


def out_user(w: World, index: int = 0) -> int:
    """An OUT user: 0 the county manager, 1 the registry officer, 2 a deactivated driver."""
    return w.out.users[index].pk


def manifest_body(w: World) -> dict[str, Any]:
    """A manifest whose rows announce parcels for the OUT villages."""
    return {
        "carrier": "ZTO",
        "rows": [
            {
                "tracking_number": f"PROBE{i}",
                "recipient_name": f"{PROBE}收件人",
                "phone": "13800000000",
                "village_code": village,
                "weight_g": 500,
            }
            for i, village in enumerate((w.out.village, w.far.village))
        ],
    }


def manifest_csv_file(w: World) -> SimpleUploadedFile:
    """A CSV manifest (GB18030, Chinese headers) for the OUT villages."""
    lines = ["运单号,收件人,电话,村代码,重量(kg)"] + [
        f"PROBECSV{i},{PROBE}收件人,13800000000,{village},0.5"
        for i, village in enumerate((w.out.village, w.far.village))
    ]
    return SimpleUploadedFile("probe.csv", ("\n".join(lines) + "\n").encode("gb18030"))


def events_body(w: World) -> list[dict[str, Any]]:
    """A refusal scanned for each OUT parcel (legal: they wait at their stations)."""
    return [
        {
            "event_id": f"probe-{i}",
            "carrier": "ZTO",
            "tracking_number": p.tracking_number,  # type: ignore[union-attr]
            "type": "refused",
            "occurred_at": f"{w.on(1)}T08:00:00+08:00",
        }
        for i, p in enumerate((w.out.parcel, w.far.parcel))
    ]


API_WRITE_HINTS: dict[str, WriteHint] = {
    "POST /accounts/users": WriteHint(
        body=lambda w: {
            "username": "probe-user",
            "role": "driver",
            "display_name": PROBE,
            "region_codes": [w.out.code],
        }
    ),
    "PATCH /accounts/users/{user_id}": WriteHint(
        path=lambda w: {"user_id": out_user(w)}, body=lambda w: {"display_name": PROBE}
    ),
    "POST /accounts/users/{user_id}/deactivate": WriteHint(
        path=lambda w: {"user_id": out_user(w)}, body=lambda w: {}
    ),
    "POST /accounts/users/{user_id}/reactivate": WriteHint(
        path=lambda w: {"user_id": out_user(w, 2)}, body=lambda w: {}
    ),
    "POST /accounts/users/{user_id}/reset-password": WriteHint(
        path=lambda w: {"user_id": out_user(w, 1)}, body=lambda w: {}
    ),
    "DELETE /accounts/tokens/{token_id}": WriteHint(
        path=lambda w: {"token_id": out_token_ids(w)[0]}, body=lambda w: {}
    ),
    "POST /accounts/token": WriteHint(
        body=lambda w: {"username": w.out.users[0].username, "password": "not-the-password"}
    ),
    "POST /network/stations/applications": WriteHint(body=station_apply_body),
    "PATCH /network/stations/{station_id}": WriteHint(
        path=lambda w: {"station_id": w.out.stations["village"].pk},
        body=lambda w: {"address": f"{PROBE} 新址", "opens_at": "07:00"},
    ),
    "POST /network/stations/{station_id}/submit": WriteHint(
        path=lambda w: {"station_id": w.out.stations["proposed"].pk}
    ),
    "POST /network/stations/{station_id}/review": WriteHint(
        path=lambda w: {"station_id": w.out.stations["under_review"].pk},
        body=lambda w: {"approve": False, "note": "probe"},
    ),
    "POST /network/stations/{station_id}/activate": WriteHint(
        path=lambda w: {"station_id": w.far.stations["approved"].pk},
        body=lambda w: {"operator_username": "probe-operator"},
    ),
    "POST /network/stations/{station_id}/suspend": WriteHint(
        path=lambda w: {"station_id": w.out.stations["centre"].pk},
        body=lambda w: {"note": "probe"},
    ),
    "POST /network/stations/{station_id}/reinstate": WriteHint(
        path=lambda w: {"station_id": w.out.stations["suspended"].pk},
        body=lambda w: {"note": "probe"},
    ),
    "POST /network/stations/{station_id}/close": WriteHint(
        path=lambda w: {"station_id": w.far.stations["village"].pk},
        body=lambda w: {"note": "probe"},
    ),
    # helpers (淘帮手): the OUT village station is active, its helper still works there
    "POST /network/stations/{station_id}/helpers": WriteHint(
        path=lambda w: {"station_id": w.out.stations["village"].pk},
        body=lambda w: {"name": PROBE, "phone": "", "started_on": _yesterday()},
    ),
    "POST /network/stations/{station_id}/helpers/{helper_id}/end": WriteHint(
        path=lambda w: {
            "station_id": w.out.stations["village"].pk,
            "helper_id": w.out.helper.pk,  # type: ignore[union-attr]
        },
        body=lambda w: {"ended_on": _yesterday()},
    ),
    "POST /registry/households": WriteHint(
        body=lambda w: {"village_code": w.out.village, "address": f"{PROBE} 地址"}
    ),
    "POST /registry/persons": WriteHint(
        body=lambda w: {
            "household": str(w.out.household.uuid),  # type: ignore[union-attr]
            "name": f"{PROBE}丙",
            "sex": "female",
            "relation": "spouse",
            "birth_year": 1985,
            "id_number": fresh_id_number(w.out.code, 13),
        }
    ),
    "PATCH /registry/persons/{person_id}": WriteHint(body=lambda w: {"name": f"{PROBE}戊"}),
    "POST /registry/persons/{person_id}/consents": WriteHint(
        body=lambda w: {"purpose": "sms", "method": "paper"}
    ),
    "POST /registry/consents/{consent_id}/withdraw": WriteHint(body=lambda w: {}),
    "POST /logistics/manifests": WriteHint(body=manifest_body),
    "POST /logistics/events": WriteHint(body=events_body),
    "POST /logistics/parcels/{parcel_id}/resend-code": WriteHint(
        path=lambda w: {"parcel_id": w.out.parcel.uuid},  # type: ignore[union-attr]
        body=lambda w: {},
    ),
    "POST /logistics/exceptions/{exception_id}/resolve": WriteHint(
        path=lambda w: {"exception_id": w.out.exception.pk},  # type: ignore[union-attr]
        body=lambda w: {"note": "probe"},
    ),
    "POST /logistics/stations/{station_id}/pickup": WriteHint(
        path=lambda w: {"station_id": w.out.stations["village"].pk},
        body=lambda w: {"code": w.out.parcel.pickup_code},  # type: ignore[union-attr]
    ),
    "POST /logistics/vehicles": WriteHint(
        body=lambda w: {
            "county_code": w.out.code,
            "name": PROBE,
            "capacity_kg": 900,
            "capacity_pieces": 120,
        }
    ),
    "PATCH /logistics/vehicles/{vehicle_id}": WriteHint(body=lambda w: {"capacity_kg": 777}),
    "POST /logistics/plans": WriteHint(
        body=lambda w: {"county_code": w.out.code, "date": w.on(7), "time_limit": 0.3}
    ),
    "POST /logistics/routes/{route_id}/start": WriteHint(body=lambda w: {}),
    "POST /logistics/runs/{run_id}/load": WriteHint(body=lambda w: {}),
    "POST /logistics/runs/{run_id}/stops/{stop_id}/arrive": WriteHint(body=lambda w: {}),
    "POST /logistics/runs/{run_id}/stops/{stop_id}/drop": WriteHint(body=lambda w: {}),
    "POST /logistics/runs/{run_id}/stops/{stop_id}/pickup": WriteHint(body=lambda w: {}),
    "POST /logistics/runs/{run_id}/finish": WriteHint(body=lambda w: {"odometer_km": 10}),
    "POST /registry/imports": WriteHint(
        files=lambda w: {"file": SimpleUploadedFile("probe.csv", import_csv(w), "text/csv")},
        collection=True,
    ),
    "POST /logistics/manifests/csv": WriteHint(
        files=lambda w: {"carrier": "ZTO", "file": manifest_csv_file(w)}
    ),
    "POST /logistics/shipments": WriteHint(
        body=lambda w: {
            "station_id": w.out.stations["village"].pk,
            "producer_name": f"{PROBE}农户",
            "contents": "猕猴桃",
            "pieces": 2,
            "weight_g": 10_000,
            "destination": "广州",
        }
    ),
    "POST /logistics/shipments/{shipment_id}/cancel": WriteHint(
        path=lambda w: {"shipment_id": w.out.shipments["booked"].uuid}, body=lambda w: {}
    ),
    "POST /logistics/shipments/{shipment_id}/collect": WriteHint(
        path=lambda w: {"shipment_id": w.out.shipments["booked"].uuid}, body=lambda w: {}
    ),
    "POST /logistics/shipments/{shipment_id}/scan-in": WriteHint(
        path=lambda w: {"shipment_id": w.out.shipments["collected"].uuid}, body=lambda w: {}
    ),
    "POST /logistics/shipments/{shipment_id}/hand-over": WriteHint(
        path=lambda w: {"shipment_id": w.out.shipments["at_county"].uuid},
        body=lambda w: {"carrier": "SF", "tracking_number": "PROBE1234"},
    ),
    "POST /logistics/aging/{county_code}/run": WriteHint(
        path=lambda w: {"county_code": w.out.code}, body=lambda w: {}
    ),
    "PUT /logistics/settings/{county_code}": WriteHint(
        path=lambda w: {"county_code": w.out.code},
        body=lambda w: {"reminder_days": 2, "return_days": 5},
    ),
    "POST /commerce/producers": WriteHint(
        body=lambda w: {
            "station_id": w.out.stations["village"].pk,
            "kind": "person",
            "name": f"{PROBE}农户",
        }
    ),
    "POST /commerce/producers/{producer_id}/members": WriteHint(
        path=lambda w: {"producer_id": w.out.commerce["coop"].uuid},
        body=lambda w: {"name": f"{PROBE}社员"},
    ),
    "POST /commerce/lots": WriteHint(
        body=lambda w: {
            "producer": str(w.out.commerce["person"].uuid),
            "product": "kiwifruit-red",
            "harvest_date": commerce_harvest_date(),
            "quantity": 10,
        }
    ),
    "POST /commerce/lots/{lot_id}/grade": WriteHint(
        path=lambda w: {"lot_id": w.out.commerce["lots"]["harvested"].uuid},
        body=lambda w: {"samples": commerce_samples()},
    ),
    "POST /commerce/lots/{lot_id}/pack": WriteHint(
        path=lambda w: {"lot_id": w.out.commerce["lots"]["graded"].uuid}, body=lambda w: {}
    ),
    "POST /commerce/lots/{lot_id}/ship": WriteHint(
        path=lambda w: {"lot_id": w.out.commerce["lots"]["packed"].uuid},
        body=lambda w: {"destination": "广州", "pieces": 2, "weight_g": 10_000},
    ),
    "POST /commerce/standards": WriteHint(
        body=lambda w: {
            "product": "kiwifruit-red",
            "name": f"{PROBE} 标准",
            "valid_from": f"{w.month}-01",
            "grades": [
                {"code": "one", "name": "一级", "criteria": [{"quantity": "brix", "min": 14}]}
            ],
        }
    ),
    "POST /commerce/prices": WriteHint(
        body=lambda w: {
            "grade_id": w.out.commerce["grade"].pk,
            "county_code": w.out.code,
            "price_fen": 999,
        }
    ),
    "PUT /ledger/rules/{county_code}": WriteHint(
        path=lambda w: {"county_code": w.out.code},
        body=lambda w: {"platform_fee_bp": 700, "station_commission_bp": 200},
    ),
    "POST /ledger/fees/{county_code}/post": WriteHint(
        path=lambda w: {"county_code": w.out.code}, body=lambda w: {}
    ),
    "POST /ledger/payouts": WriteHint(body=lambda w: {"county_code": w.out.code}),
    "POST /ledger/accounts/{account_id}/bank-details": WriteHint(
        path=lambda w: {"account_id": w.out.ledger["producer"].uuid},
        body=lambda w: {
            "holder_name": PROBE,
            "bank_name": PROBE,
            "account_number": "6228480000000077",
        },
    ),
    "POST /ledger/bank-details/{details_id}/decide": WriteHint(
        path=lambda w: {"details_id": w.out.ledger["bank_pending"].uuid},
        body=lambda w: {"approve": True},
    ),
    "POST /ledger/payouts/{payout_id}/mark": WriteHint(
        path=lambda w: {"payout_id": w.out.ledger["batch"].uuid},
        body=lambda w: {"status": "paid"},
    ),
    "POST /commerce/orders": WriteHint(
        body=lambda w: {
            "channel": "wholesale",
            "county_code": w.out.code,
            "lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 1}],
            "buyer_name": f"{PROBE}买家",
            "buyer_phone": "13700009999",
            "address": f"{PROBE} 地址",
        }
    ),
    "POST /commerce/orders/{order_id}/cancel": WriteHint(
        path=lambda w: {"order_id": w.out.orders["paid"].uuid}, body=lambda w: {}
    ),
    "POST /commerce/orders/{order_id}/fulfil": WriteHint(
        path=lambda w: {"order_id": w.out.orders["paid"].uuid}, body=lambda w: {}
    ),
    "POST /commerce/orders/{order_id}/ship": WriteHint(
        path=lambda w: {"order_id": w.out.orders["handed"].uuid}, body=lambda w: {}
    ),
    "POST /commerce/orders/{order_id}/deliver": WriteHint(
        path=lambda w: {"order_id": w.out.orders["shipped"].uuid}, body=lambda w: {}
    ),
    "POST /commerce/orders/{order_id}/return": WriteHint(
        path=lambda w: {"order_id": w.out.orders["delivered"].uuid},
        body=lambda w: {"amount_fen": 100},
    ),
    "POST /commerce/buyers": WriteHint(
        body=lambda w: {
            "county_code": w.out.code,
            "organisation": f"{PROBE} 医院",
            "contact_name": f"{PROBE}人",
            "contact_phone": "13500001111",
            "address": f"{PROBE} 地址",
        }
    ),
    "POST /commerce/buyers/{buyer_id}/orders": WriteHint(
        path=lambda w: {"buyer_id": w.out.orders["buyer"].uuid},
        body=lambda w: {
            "lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 1}],
            "delivery_date": commerce_harvest_date_future(),
        },
    ),
    "POST /commerce/marketplaces/{marketplace_code}/orders": WriteHint(
        path=lambda w: {"marketplace_code": "pdd"},
        body=lambda w: marketplace_order_body(w),
    ),
    # API_SIGNED_WEBHOOKS: the body is built by _signed_webhook
    "POST /commerce/marketplaces/{marketplace_code}/webhook": WriteHint(
        path=lambda w: {"marketplace_code": "pdd"}, body=lambda w: {}
    ),
    "POST /commerce/payments/{provider}/webhook": WriteHint(
        path=lambda w: {"provider": "sandbox"}, body=lambda w: {}
    ),
    "POST /commerce/assisted": WriteHint(
        body=lambda w: {
            "station_id": w.out.stations["village"].pk,
            "villager_name": PROBE,
            "villager_phone": "13512345678",
            "item": PROBE,
            "price_yuan": "10",
            "shop": "jd",
        }
    ),
    # a sweep works in the caller's scope: 200 for its own rows, OUT rows untouched
    "POST /commerce/assisted/sweep": WriteHint(body=lambda w: {}, collection=True),
    "POST /commerce/assisted/{purchase_id}/ordered": WriteHint(
        path=lambda w: {"purchase_id": w.out.assisted["recorded"].uuid},
        body=lambda w: {"shop_order_no": "PROBE-1"},
    ),
    "POST /commerce/assisted/{purchase_id}/link": WriteHint(
        path=lambda w: {"purchase_id": w.out.assisted["recorded"].uuid},
        body=lambda w: {"parcel_id": str(w.out.assisted["parcel"].uuid)},
    ),
    "POST /commerce/assisted/{purchase_id}/review": WriteHint(
        path=lambda w: {"purchase_id": w.out.assisted["pending"].uuid},
        body=lambda w: {"approve": False, "note": PROBE},
    ),
    "PUT /commerce/assisted/limits/{county_code}": WriteHint(
        path=lambda w: {"county_code": w.out.code},
        body=lambda w: {"max_price_fen": 400_000},
    ),
    "POST /commerce/assisted/{purchase_id}/cancel": WriteHint(
        path=lambda w: {"purchase_id": w.out.assisted["recorded"].uuid}, body=lambda w: {}
    ),
}


def _yesterday() -> str:
    return str(world_day() + dt.timedelta(days=9))


# relapse risk: the OUT case is assigned to the OUT officer and visited, so every step
# would succeed on it; the scan of the OUT county's 2024 incomes re-flags its household
API_WRITE_HINTS.update(
    {
        "POST /impact/risk/cases/{case_id}/assign": WriteHint(
            body=lambda w: {"assignee_id": out_user(w, 1)}
        ),
        "POST /impact/risk/cases/{case_id}/visits": WriteHint(
            body=lambda w: {"day": _yesterday(), "findings": PROBE}
        ),
        "POST /impact/risk/cases/{case_id}/assistance": WriteHint(
            body=lambda w: {"kind": "other", "day": _yesterday(), "amount_fen": 100}
        ),
        "POST /impact/risk/cases/{case_id}/close": WriteHint(
            body=lambda w: {"outcome": "stabilised", "note": PROBE}
        ),
        "POST /impact/risk/scan/{county_code}": WriteHint(
            path=lambda w: {"county_code": w.out.code}, body=lambda w: {"year": 2024}
        ),
    }
)


def commerce_harvest_date() -> str:
    """Yesterday (the world's day is ten days before today)."""
    return str(world_day() + dt.timedelta(days=9))


def commerce_samples() -> list[dict[str, Any]]:
    from tests.factories.commerce import KIWI_SPECIAL

    return KIWI_SPECIAL


def commerce_grade_form() -> dict[str, str]:
    data = {"rows": str(len(commerce_samples()))}
    for i, sample in enumerate(commerce_samples(), start=1):
        for k, v in sample.items():
            data[f"s{i}_{k}"] = str(v)
    return data


def _public_api_read(op: Operation, w: World, client: Client) -> None:
    """A public read: the OUT object is served (200) and carries no personal data."""
    for params, query in _read_cases(op, w):
        r = client.generic(op.method.upper(), op.url(params, query))
        body = _text(r)
        assert r.status_code == 200, f"public {op.key} {params} -> {r.status_code}: {body[:300]}"
        personal = [m for m in w.personal_markers() if m in body]
        assert not personal, f"public {op.key} {params} shows personal data {personal}"


def commerce_harvest_date_future() -> str:
    """A week from today."""
    return str(world_day() + dt.timedelta(days=17))


def marketplace_order_body(w: World) -> dict[str, Any]:
    """A marketplace order of the OUT county's kiwifruit (priced by its tier)."""
    import time

    tier = w.out.commerce["tier"]
    return {
        "order_id": f"PROBE-{w.out.code}",
        "county_code": w.out.code,
        "lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 1}],
        "buyer_name": f"{PROBE}买家",
        "buyer_phone": "13700008888",
        "address": f"{PROBE} 地址",
        "amount_fen": tier.price_fen,
        "currency": "CNY",
        "timestamp": int(time.time()),
    }


def _signed_webhook(op: Operation, w: World, client: Client, *, control: bool) -> None:
    """A signed event aimed at the OUT county (paying its open payment; a marketplace
    order of its produce): unsigned and badly signed it is refused (401, nothing
    changes) for every caller; the control signs it correctly and the OUT rows change
    once (a replay changes nothing more)."""
    from django.conf import settings

    from cunzhan.commerce import payments

    if "marketplace_code" in op.path:
        url = op.url({"marketplace_code": "pdd"})
        body = json.dumps(marketplace_order_body(w)).encode()
        secret = settings.MARKETPLACE_SECRETS["pdd"].encode()
        replay_key = "created"
    else:
        url = op.url({"provider": "sandbox"})
        body = payments.SandboxProvider().event_body(w.out.orders["payment"])
        secret = payments.SandboxProvider().secret()
        replay_key = "replay"
    header = "HTTP_" + payments.SIGNATURE_HEADER.upper().replace("-", "_")
    for signature, code in (("", "unsigned"), ("sha256=" + "0" * 64, "bad_signature")):
        before = out_snapshot()
        extra = {header: signature} if signature else {}
        r = client.post(url, body, content_type="application/json", **extra)
        assert r.status_code == 401, f"{op.key} {code} -> {r.status_code}: {_text(r)[:300]}"
        assert r.json()["code"] == code
        assert out_snapshot() == before
    if control:
        good = payments.sign(secret, body)
        before = out_snapshot()
        r = client.post(url, body, content_type="application/json", **{header: good})
        assert r.status_code == 200, _text(r)[:300]
        after = out_snapshot()
        assert after != before
        r = client.post(url, body, content_type="application/json", **{header: good})
        assert r.status_code == 200
        assert r.json()[replay_key] is (replay_key == "replay")
        assert out_snapshot() == after


def ledger_accounts(c: Any) -> list[Any]:
    """A county's ledger accounts that carry its marker (producer and station)."""
    return [c.ledger["producer"], c.ledger["station"]]


# --- the operations, from the live schema -----------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # without /api/v1
    spec: dict = field(hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def required_query(self) -> list[str]:
        return [
            p["name"]
            for p in self.spec.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        ]

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def url(self, params: dict[str, Any], query: dict[str, Any] | None = None) -> str:
        path = self.path
        for name, value in params.items():
            path = path.replace("{" + name + "}", str(value))
        return API_PREFIX + path + ("?" + urlencode(query) if query else "")


def all_operations() -> list[Operation]:
    ops = []
    for path, methods in SCHEMA["paths"].items():
        assert path.startswith(API_PREFIX), path
        for method, spec in methods.items():
            ops.append(Operation(method=method, path=path[len(API_PREFIX) :], spec=spec))
    return ops


OPERATIONS = all_operations()
OP_IDS = [op.key for op in OPERATIONS]


def _resolve(ref_or_schema: dict) -> dict:
    while "$ref" in ref_or_schema:
        name = ref_or_schema["$ref"].rsplit("/", 1)[-1]
        ref_or_schema = SCHEMA["components"]["schemas"][name]
    return ref_or_schema


def minimal_body(op: Operation) -> dict[str, Any]:
    """The required fields of the JSON request schema, with plain values."""
    content = op.spec.get("requestBody", {}).get("content", {})
    schema = _resolve(content.get("application/json", {}).get("schema", {}))
    samples = {"string": "probe", "integer": 1, "number": 1, "boolean": True, "array": []}
    body = {}
    for name in schema.get("required", []):
        prop = _resolve(schema.get("properties", {}).get(name, {}))
        body[name] = prop.get("default", samples.get(prop.get("type", "string"), "probe"))
    return body


def _missing_params(op: Operation) -> list[str]:
    return [p for p in op.path_params if p not in API_PATH_PARAMS]


def _check_known(op: Operation) -> None:
    missing = _missing_params(op)
    assert not missing, (
        f"{op.key}: path parameter(s) {missing} are unknown to the access matrix. Add them to "
        f"API_PATH_PARAMS in tests/test_access_matrix.py (mapping to the identifiers of "
        f"OUT-of-scope objects in tests/factories/world.py), so the route is checked for leaks."
    )
    assert not op.required_query or op.key in API_QUERY_PROBES, (
        f"{op.key}: required query parameter(s) {op.required_query}: add the route to "
        f"API_QUERY_PROBES in tests/test_access_matrix.py."
    )
    if op.is_write:
        assert op.key in API_WRITE_HINTS, (
            f"{op.key}: a write without a hint. Add it to API_WRITE_HINTS in "
            f"tests/test_access_matrix.py: the path parameters and body that would change an "
            f"OUT-of-scope object if the route were not scoped."
        )


def _call(client: Client, op: Operation, w: World, params: dict[str, Any], query=None):
    url = op.url(params, query)
    if not op.is_write:
        return client.generic(op.method.upper(), url)
    hint = API_WRITE_HINTS[op.key]
    if hint.files is not None:
        return client.post(url, hint.files(w))
    body = hint.body(w)
    if body is FROM_SCHEMA:
        body = minimal_body(op)
    return client.generic(
        op.method.upper(), url, json.dumps(body, default=str), content_type="application/json"
    )


def _read_cases(op: Operation, w: World) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(path params, query) pairs to try for a read operation."""
    if op.path_params:
        names = op.path_params
        combos = itertools.product(*(API_PATH_PARAMS[n](w) for n in names))
        return [(dict(zip(names, combo, strict=True)), None) for combo in combos]
    probes = API_QUERY_PROBES.get(op.key, lambda w: [])(w)
    return [({}, None)] + [({}, q) for q in probes]


def _write_params(op: Operation, w: World) -> dict[str, Any]:
    params = API_WRITE_HINTS[op.key].path(w)
    for name in op.path_params:
        params.setdefault(name, API_PATH_PARAMS[name](w)[0])
    return params


def _text(response) -> str:
    """The body as text; JSON is re-serialised without \\u escapes so that Chinese
    markers are found."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode("utf-8", errors="replace")
    if "json" in response.get("Content-Type", ""):
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    return text


# --- API tests --------------------------------------------------------------------------------


def test_every_api_operation_is_known_to_the_matrix():
    """One place that lists every gap at once (the per-role tests fail on each too)."""
    problems = []
    for op in OPERATIONS:
        try:
            _check_known(op)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)
    assert len(OPERATIONS) >= 20  # the schema is really walked


@pytest.mark.parametrize("op", OPERATIONS, ids=OP_IDS)
@pytest.mark.parametrize("role", ROLES)
def test_api_out_of_scope(role, op, w, api_client):
    _check_known(op)
    client = api_client(w.users[role])
    where = f"[{role}] {op.key}"
    if op.key in API_SIGNED_WEBHOOKS:
        _signed_webhook(op, w, client, control=False)
        return
    if op.key in API_PUBLIC_READS:
        _public_api_read(op, w, client)
        return
    if not op.is_write:
        for params, query in _read_cases(op, w):
            r = client.generic(op.method.upper(), op.url(params, query))
            body = _text(r)
            label = f"{where} {params or ''} {query or ''}"
            assert r.status_code < 500, f"{label} -> {r.status_code}: {body[:300]}"
            if op.path_params:
                assert r.status_code in DENIED, f"{label}: OUT object served: {r.status_code}"
            else:
                assert r.status_code in DENIED | {200}, f"{label} -> {r.status_code}"
            assert not w.leaked(body), f"{label} leaked {w.leaked(body)}: {body[:500]}"
        return
    before = out_snapshot()
    r = _call(client, op, w, _write_params(op, w))
    body = _text(r)
    assert r.status_code < 500, f"{where} -> {r.status_code}: {body[:300]}"
    allowed = DENIED | ({200, 201} if API_WRITE_HINTS[op.key].collection else set())
    assert r.status_code in allowed, (
        f"{where}: write on an OUT object -> {r.status_code}: {body[:300]}"
    )
    assert not w.leaked(body), f"{where} leaked {w.leaked(body)}: {body[:500]}"
    after = out_snapshot()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"{where} changed OUT-of-scope rows: {changed}"


@pytest.mark.dates
@pytest.mark.parametrize("op", OPERATIONS, ids=OP_IDS)
def test_api_control_network_admin_reaches_the_out_objects(op, w, api_client):
    """The national role sees and changes the OUT objects with the very same requests:
    the probes target real objects, and the leak checks are able to fail."""
    _check_known(op)
    client = api_client(w.users[CONTROL])
    if op.key in API_SIGNED_WEBHOOKS:
        _signed_webhook(op, w, client, control=True)
        return
    if op.key in API_PUBLIC_READS:
        _public_api_read(op, w, client)
        return
    if op.key in API_PUBLIC:
        r = _call(client, op, w, {})
        assert r.status_code == 401, _text(r)[:300]
        return
    if not op.is_write:
        cases = _read_cases(op, w)
        seen = []
        for params, query in cases:
            r = client.generic(op.method.upper(), op.url(params, query))
            body = _text(r)
            assert r.status_code == 200, (
                f"{op.key} {params} {query} -> {r.status_code}: {body[:300]}"
            )
            if op.path_params:
                assert w.leaked(body), (
                    f"control: {op.key} {params} shows no OUT marker: {body[:300]}"
                )
            seen += w.leaked(body)
        if op.key in API_CONTROL_LISTS:
            assert seen, f"control: {op.key} lists no OUT object"
        return
    before = out_snapshot()
    r = _call(client, op, w, _write_params(op, w))
    assert r.status_code in (200, 201), f"control: {op.key} -> {r.status_code}: {_text(r)[:400]}"
    after = out_snapshot()
    assert before != after, f"control: {op.key} succeeded without changing any OUT row"


@pytest.mark.parametrize("op", OPERATIONS, ids=OP_IDS)
def test_api_without_token_is_401(op, w):
    _check_known(op)
    client = Client()
    if op.key in API_SIGNED_WEBHOOKS:
        _signed_webhook(op, w, client, control=False)
        return
    if op.key in API_PUBLIC_READS:
        _public_api_read(op, w, client)
        return
    params = _write_params(op, w) if op.is_write else _read_cases(op, w)[0][0]
    before = out_snapshot()
    r = _call(client, op, w, params)
    assert r.status_code == 401, f"{op.key} without a token -> {r.status_code}: {_text(r)[:300]}"
    assert r.json()["code"] in {"unauthorized", "bad_credentials"}
    assert not w.leaked(_text(r))
    assert out_snapshot() == before


# --- pages ------------------------------------------------------------------------------------

PAGE_NAMESPACES = {"accounts", "network", "registry", "core", "logistics"}
PAGE_NAMESPACES |= {"commerce", "trace"}
PAGE_NAMESPACES |= {"impact"}
# pages anyone may open without logging in (the public trace pages): every caller gets
# 200 for an OUT lot's code, and none shows personal data (World.personal_markers)
PUBLIC_PAGES = {"trace:home", "trace:lot", "trace:qr"}
PAGE_NAMESPACES |= {"ledger"}
# the storefront (public: browse, cart, checkout, order status by its secret link, the
# sandbox pay page) and the staff's order pages
PAGE_NAMESPACES |= {"store", "orders"}
PUBLIC_PAGES |= {
    "store:home",
    "store:listing",
    "store:cart",
    "store:checkout",
    "store:order",
    "store:pay",
}
# the public transparency pages (aggregates only, small cells suppressed)
PAGE_NAMESPACES |= {"open"}
PUBLIC_PAGES |= {"open:home", "open:region"}
SKIPPED_NAMESPACES = {"api", "admin"}  # the API is walked above; admin is not mounted

# URL kwarg name -> OUT values to try
PAGE_KWARGS: dict[str, Callable[[World], list[Any]]] = {
    "order_id": API_PATH_PARAMS["order_id"],
    "buyer_id": API_PATH_PARAMS["buyer_id"],
    # public capabilities: a listing (county + grade), the order's secret link, the
    # sandbox payment's reference — served to anyone, without personal data
    "listing": lambda w: [f"{c.code}-{c.commerce['grade'].pk}" for c in (w.out, w.far)],
    "order_link": lambda w: [c.orders["link"] for c in (w.out, w.far)],
    "payment_ref": lambda w: [c.orders["payment"].provider_ref for c in (w.out, w.far)],
    "code": lambda w: [w.out.code, w.out.village, w.far.code, "53"],
    "pk": lambda w: [
        w.out.stations["centre"].pk,
        w.out.stations["proposed"].pk,
        w.far.stations["village"].pk,
    ],
    "household_id": API_PATH_PARAMS["household_id"],
    "person_id": API_PATH_PARAMS["person_id"],
    "batch_id": API_PATH_PARAMS["batch_id"],
    "consent_id": API_PATH_PARAMS["consent_id"],
    "action": lambda w: list(TRANSITIONS),
    "user_id": API_PATH_PARAMS["user_id"],
    "token_id": API_PATH_PARAMS["token_id"],
    "shipment_id": API_PATH_PARAMS["shipment_id"],
    "county_code": API_PATH_PARAMS["county_code"],
    "parcel_id": API_PATH_PARAMS["parcel_id"],
    "exception_id": API_PATH_PARAMS["exception_id"],
    "vehicle_id": API_PATH_PARAMS["vehicle_id"],
    "plan_id": API_PATH_PARAMS["plan_id"],
    "route_id": API_PATH_PARAMS["route_id"],
    "run_id": API_PATH_PARAMS["run_id"],
    "stop_id": API_PATH_PARAMS["stop_id"],
    "step": lambda w: ["arrive", "drop", "pickup"],
    "producer_id": API_PATH_PARAMS["producer_id"],
    "lot_id": API_PATH_PARAMS["lot_id"],
    "trace_code": API_PATH_PARAMS["trace_code"],
    "account_id": API_PATH_PARAMS["account_id"],
    "payout_id": API_PATH_PARAMS["payout_id"],
    "details_id": API_PATH_PARAMS["details_id"],
    "purchase_id": API_PATH_PARAMS["purchase_id"],
    "station_id": API_PATH_PARAMS["station_id"],
    "helper_id": API_PATH_PARAMS["helper_id"],
    "owner_key": API_PATH_PARAMS["owner_key"],
    "case_id": API_PATH_PARAMS["case_id"],
}

# pages without kwargs: query strings aimed at the OUT regions
PAGE_QUERY_PROBES: dict[str, Callable[[World], list[dict[str, str]]]] = {
    "open:home": lambda w: [{"indicator": "poor_income_fen"}, {"indicator": "jobs"}],
    "network:regions": lambda w: [],
    "network:region_search": lambda w: [
        {"q": "5202"},
        {"q": "52020"},
        {"q": "53"},
        {"q": "平"},
        {"q": "华"},
        {"region_code": w.out.code},
    ],
    "network:stations": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"region": "5202"},
        {"status": "proposed"},
    ],
    "network:station_apply": lambda w: [{"region": w.out.free_village}],
    "network:map": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"region": "5202"},
        {"region": "六枝"},
        {"region": "华"},
    ],
    "registry:households": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"region": "5202"},
        {"q": "1组"},
        {"poor": "on"},
        {"region": "六枝"},
        {"region": "那玉"},
        {"region": "华"},
    ],
    "accounts:users": lambda w: [
        {"region": w.out.code},
        {"region": "53"},
        {"role": "county_manager"},
        {"active": "0"},
        {"q": "cm-"},
    ],
    "logistics:home": lambda w: [],
    "logistics:county": lambda w: [
        {"county": w.out.code},
        {"county": w.far.code},
        {"county": "53"},
        {"q": "W52020"},
    ],
    "logistics:inbound": lambda w: [{"county": w.out.code}, {"county": w.far.code}],
    "logistics:sorting": lambda w: [{"county": w.out.code}, {"county": w.far.code}],
    "logistics:returns": lambda w: [{"county": w.out.code}, {"county": w.far.code}],
    "logistics:exceptions": lambda w: [
        {"county": w.out.code},
        {"county": "53"},
        {"status": "all"},
        {"problem": "illegal_transition"},
        {"q": "W52020"},
    ],
    "logistics:shipments": lambda w: [
        {"station": str(w.out.stations["village"].pk)},
        {"state": "booked"},
    ],
    "logistics:fees": lambda w: [
        {"station": str(w.out.stations["village"].pk)},
        {"month": w.month},
    ],
    "commerce:producers": lambda w: [{"station": str(w.out.stations["village"].pk)}],
    "commerce:lots": lambda w: [
        {"station": str(w.out.stations["village"].pk)},
        {"status": "harvested"},
        {"product": "kiwifruit-red"},
    ],
    "commerce:prices": lambda w: [{"county": w.out.code}, {"county": w.far.code}],
    "ledger:home": lambda w: [],
    "commerce:assisted": lambda w: [
        {"station": str(w.out.stations["village"].pk)},
        {"status": "recorded"},
    ],
    "commerce:earnings": lambda w: [{"station": str(w.out.stations["village"].pk)}],
    "commerce:assisted-oversight": lambda w: [{"month": "2026-11"}, {"month": "bad"}],
    "commerce:assisted-review": lambda w: [],
    "core:audit": lambda w: [
        {"object_type": "tests.Probe"},
        {"personal_data": "1"},
        {"action": "update"},
        {"object_type": "registry.Person"},
    ],
}

# pages in which the control must find OUT markers (some probe, or the plain page)
PAGE_CONTROL_LISTS = {
    "network:regions",
    "network:stations",
    "network:map",
    "logistics:plans",
    "logistics:vehicles",
    "registry:households",
    "registry:residents",
    "registry:import",
    "logistics:shipments",
    "logistics:fees",
    "core:audit",
    "accounts:users",
    "logistics:county",
    "logistics:inbound",
    "logistics:sorting",
    "logistics:returns",
    "logistics:exceptions",
    "commerce:producers",
    "commerce:lots",
    "commerce:prices",
    "orders:list",
    "orders:buyers",
    "orders:report",
    "impact:home",
}
PAGE_CONTROL_LISTS |= {"commerce:assisted", "commerce:assisted-oversight"}
# relapse risk: the queue (cases and per-township counts)
PAGE_QUERY_PROBES["impact:risk"] = lambda w: [
    {"region": w.out.code},
    {"region": w.out.township},
    {"region": "53"},
    {"status": "visited"},
    {"status": ""},
]
PAGE_CONTROL_LISTS |= {"impact:risk"}


@dataclass
class PagePost:
    kwargs: dict[str, Any]
    data: dict[str, Any]
    effective: bool = False  # the control's POST changes OUT rows


def _station_for(w: World, action: str) -> int:
    start = {
        "submit": "proposed",
        "approve": "under_review",
        "reject": "far:under_review",  # approve and reject each need a pending application
        "activate": "approved",
        "suspend": "centre",
        "reinstate": "suspended",
        "close": "village",
    }
    county, _, key = start[action].rpartition(":")
    return (w.far if county == "far" else w.out).stations[key].pk


def _action_data(action: str) -> dict[str, str]:
    if action == "activate":
        return {"operator_username": "probe-operator", "operator_display_name": PROBE}
    return {"note": "probe"}


# page route -> the POSTs to try (every page is POSTed to, forms or not)
PAGE_POSTS: dict[str, Callable[[World], list[PagePost]]] = {
    # impact pages are reads (GET only: a POST is 405)
    "impact:home": lambda w: [PagePost({}, {})],
    "impact:region": lambda w: [PagePost({"code": w.out.code}, {})],
    "impact:rows": lambda w: [PagePost({"code": w.out.code}, {})],
    "impact:export": lambda w: [PagePost({"code": w.out.code}, {})],
    "impact:events": lambda w: [PagePost({"code": w.out.code}, {})],
    "open:home": lambda w: [PagePost({}, {})],
    "open:region": lambda w: [PagePost({"code": w.out.code}, {})],
    "accounts:home": lambda w: [PagePost({}, {})],
    "accounts:login": lambda w: [
        PagePost({}, {"username": w.out.users[0].username, "password": "wrong-password"})
    ],
    "accounts:logout": lambda w: [PagePost({}, {})],
    "accounts:account": lambda w: [PagePost({}, {})],
    "accounts:token_create": lambda w: [PagePost({}, {"name": PROBE})],
    "accounts:token_revoke": lambda w: [
        PagePost({"token_id": out_token_ids(w)[0]}, {}, effective=True)
    ],
    "accounts:password_change": lambda w: [
        PagePost(
            {},
            {"old_password": "wrong", "new_password1": "Probe-pw-42x", "new_password2": "x"},
        )
    ],
    "accounts:users": lambda w: [PagePost({}, {"region": w.out.code})],
    "accounts:user_create": lambda w: [
        PagePost(
            {},
            {
                "username": "probe-user",
                "role": "driver",
                "display_name": PROBE,
                "region_codes": w.out.code,
            },
            effective=True,
        )
    ],
    "accounts:user": lambda w: [PagePost({"user_id": out_user(w)}, {})],
    "accounts:user_edit": lambda w: [
        PagePost(
            {"user_id": out_user(w)},
            {"display_name": PROBE, "role": "county_manager", "region_codes": w.out.code},
            effective=True,
        )
    ],
    "accounts:user_deactivate": lambda w: [PagePost({"user_id": out_user(w)}, {}, effective=True)],
    "accounts:user_reactivate": lambda w: [
        PagePost({"user_id": out_user(w, 2)}, {}, effective=True)
    ],
    "accounts:user_password_reset": lambda w: [
        PagePost({"user_id": out_user(w, 1)}, {}, effective=True)
    ],
    "network:regions": lambda w: [PagePost({}, {})],
    "network:region_search": lambda w: [PagePost({}, {"q": "5202"})],
    "network:region": lambda w: [PagePost({"code": c}, {}) for c in PAGE_KWARGS["code"](w)],
    "network:stations": lambda w: [PagePost({}, {"region": w.out.code})],
    "network:station_apply": lambda w: [
        PagePost(
            {},
            {
                "region_code": w.out.free_village,
                "kind": "village_station",
                "name": f"{PROBE} 站",
                "applicant_name": "王小二",
                "applicant_phone": "13800000000",
                "premises_m2": "40",
                "committee_recommendation": "on",
                "deposit_yuan": "1000",
                "capabilities": ["parcels"],
                "opens_at": "08:00",
                "closes_at": "20:00",
                "open_days": ["1", "2", "3", "4", "5"],
            },
            effective=True,
        )
    ],
    "network:station": lambda w: [PagePost({"pk": w.out.stations["centre"].pk}, {})],
    "network:station_edit": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {
                "name": f"{PROBE} 站",
                "address": f"{PROBE} 新址",
                "capabilities": ["parcels"],
                "opens_at": "07:00",
                "closes_at": "19:00",
                "open_days": ["1", "2", "3"],
            },
            effective=True,
        )
    ],
    "network:station_helper_add": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {"name": PROBE, "phone": "", "started_on": _yesterday()},
            effective=True,
        )
    ],
    "network:station_helper_end": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk, "helper_id": w.out.helper.pk},  # type: ignore[union-attr]
            {"ended_on": _yesterday()},
            effective=True,
        )
    ],
    "network:station_action": lambda w: [
        PagePost({"pk": _station_for(w, a), "action": a}, _action_data(a), effective=True)
        for a in TRANSITIONS
    ],
    "network:map": lambda w: [PagePost({}, {"region": w.out.code})],
    "registry:households": lambda w: [PagePost({}, {"region": w.out.code})],
    "registry:residents": lambda w: [PagePost({}, {"q": "1"})],
    "registry:household_create": lambda w: [
        PagePost({}, {"village_code": w.out.village, "address": PROBE}, effective=True)
    ],
    "registry:household": lambda w: [
        PagePost({"household_id": w.out.household.uuid}, {})  # type: ignore[union-attr]
    ],
    "registry:person_create": lambda w: [
        PagePost(
            {"household_id": w.out.household.uuid},  # type: ignore[union-attr]
            {
                "name": f"{PROBE}丁",
                "sex": "female",
                "relation": "spouse",
                "birth_year": "1985",
                "id_number": fresh_id_number(w.out.code, 14),
            },
            effective=True,
        )
    ],
    "registry:person_edit": lambda w: [
        PagePost(
            {"person_id": w.out.person.uuid},  # type: ignore[union-attr]
            {"name": f"{PROBE}戊", "sex": "male", "relation": "head", "birth_year": "1972"},
            effective=True,
        )
    ],
    "registry:household_edit": lambda w: [
        PagePost(
            {"household_id": w.out.household.uuid},  # type: ignore[union-attr]
            {"address": f"{PROBE} 新地址"},
            effective=True,
        )
    ],
    "registry:poverty_register": lambda w: [
        PagePost(
            {"household_id": w.out.household.uuid},  # type: ignore[union-attr]
            {"year_registered": "2015", "main_cause": "water"},
            effective=True,
        )
    ],
    "registry:poverty_exit": lambda w: [
        PagePost(
            {"household_id": w.out.household.uuid},  # type: ignore[union-attr]
            {"year_exited": "2020"},
            effective=True,
        )
    ],
    "registry:consent_grant": lambda w: [
        PagePost(
            {"person_id": p},
            {"purpose": "sms", "method": "paper"},
            effective=True,
        )
        for p in PAGE_KWARGS["person_id"](w)
    ],
    "registry:consent_withdraw": lambda w: [
        PagePost({"consent_id": c}, {}, effective=True) for c in PAGE_KWARGS["consent_id"](w)
    ],
    "registry:id_number": lambda w: [
        PagePost({"person_id": p}, {}) for p in PAGE_KWARGS["person_id"](w)
    ],
    "registry:import": lambda w: [
        PagePost(
            {},
            {"file": SimpleUploadedFile("probe.csv", import_csv(w), "text/csv")},
            effective=True,
        )
    ],
    "registry:import_template": lambda w: [PagePost({}, {})],
    "registry:import_batch": lambda w: [PagePost({"batch_id": w.out.batch.uuid}, {})],  # type: ignore[union-attr]
    "registry:import_report": lambda w: [PagePost({"batch_id": w.out.batch.uuid}, {})],  # type: ignore[union-attr]
    "core:audit": lambda w: [PagePost({}, {"object_type": "tests.Probe"})],
    "logistics:shipments": lambda w: [PagePost({}, {"state": "booked"})],
    "logistics:shipment-scan-in": lambda w: [
        PagePost({"shipment_id": w.out.shipments["collected"].uuid}, {}, effective=True)
    ],
    "logistics:shipment-cancel": lambda w: [
        PagePost({"shipment_id": w.out.shipments["booked"].uuid}, {}, effective=True)
    ],
    "logistics:shipment-hand-over": lambda w: [
        PagePost(
            {"shipment_id": w.out.shipments["at_county"].uuid},
            {"carrier": "SF", "tracking_number": "PROBE5678"},
            effective=True,
        )
    ],
    "logistics:shipment-book": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {
                "producer_name": f"{PROBE}农户",
                "contents": "茶叶",
                "pieces": "2",
                "weight_kg": "4.5",
                "destination": "上海",
            },
            effective=True,
        )
    ],
    "logistics:manifest-upload": lambda w: [
        PagePost({}, {"carrier": "ZTO", "file": manifest_csv_file(w)}, effective=True)
    ],
    "logistics:fees": lambda w: [PagePost({}, {})],
    "logistics:county-settings": lambda w: [
        PagePost(
            {"county_code": w.out.code},
            {
                "cutoff": "06:30",
                "reminder_days": "2",
                "return_days": "6",
                "fee_down_yuan": "0.80",
                "fee_up_yuan": "1.50",
                "circuity_pct": "150",
                "speed_kmh": "30",
            },
            effective=True,
        )
    ],
    "logistics:aging-run": lambda w: [PagePost({"county_code": w.out.code}, {}, effective=True)],
    "logistics:home": lambda w: [PagePost({}, {})],
    "logistics:county": lambda w: [PagePost({}, {"county": w.out.code})],
    "logistics:inbound": lambda w: [
        PagePost({}, _desk_scan_data(w, w.out.code, w.out.parcel), effective=True)  # type: ignore[arg-type]
    ],
    "logistics:sorting": lambda w: [
        PagePost({}, _desk_scan_data(w, w.far.code, w.far.parcel), effective=True)  # type: ignore[arg-type]
    ],
    "logistics:returns": lambda w: [
        PagePost({}, _desk_scan_data(w, w.out.code, w.out.parcel), effective=True)  # type: ignore[arg-type]
    ],
    "logistics:exceptions": lambda w: [PagePost({}, {"county": w.out.code})],
    "logistics:exception-resolve": lambda w: [
        PagePost(
            {"exception_id": w.out.exception.pk},  # type: ignore[union-attr]
            {"note": PROBE},
            effective=True,
        )
    ],
    "logistics:parcel": lambda w: [
        PagePost({"parcel_id": w.out.parcel.uuid}, {"action": "resend"}, effective=True)  # type: ignore[union-attr]
    ],
    "logistics:station": lambda w: [PagePost({"pk": w.out.stations["village"].pk}, {})],
    "logistics:station-receive": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {"lines": w.out.loaded.tracking_number},  # type: ignore[union-attr]
            effective=True,
        )
    ],
    "logistics:station-shelves": lambda w: [PagePost({"pk": w.out.stations["village"].pk}, {})],
    "logistics:station-handout": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {"by": "code", "code": w.out.parcel.pickup_code},  # type: ignore[union-attr]
            effective=True,
        )
    ],
    "logistics:station-aging": lambda w: [
        PagePost(
            {"pk": w.out.stations["village"].pk},
            {"parcel": str(w.out.parcel.uuid), "action": "return"},  # type: ignore[union-attr]
            effective=True,
        )
    ],
    "logistics:plans": lambda w: [
        PagePost({}, {"county": w.out.code, "date": w.on(7)}, effective=True)
    ],
    "logistics:plan": lambda w: [PagePost({"plan_id": w.out.plan["plan"].pk}, {})],
    "logistics:plan-sheet": lambda w: [PagePost({"plan_id": w.out.plan["plan"].pk}, {})],
    "logistics:plan-map": lambda w: [PagePost({"plan_id": w.out.plan["plan"].pk}, {})],
    "logistics:vehicles": lambda w: [
        PagePost(
            {},
            {
                "county": w.out.code,
                "name": PROBE,
                "capacity_kg": "900",
                "capacity_pieces": "120",
                "shift_start": "07:30",
                "shift_end": "18:30",
                "active": "on",
            },
            effective=True,
        )
    ],
    "logistics:vehicle": lambda w: [
        PagePost(
            {"vehicle_id": w.out.plan["vehicle"].pk},
            {
                "name": PROBE,
                "capacity_kg": "777",
                "capacity_pieces": "120",
                "shift_start": "07:30",
                "shift_end": "18:30",
                "active": "on",
            },
            effective=True,
        )
    ],
    "logistics:driver": lambda w: [PagePost({}, {})],
    "logistics:route-start": lambda w: [
        PagePost({"route_id": w.out.plan["route"].pk}, {}, effective=True)
    ],
    "logistics:run": lambda w: [PagePost({"run_id": w.out.plan["run"].pk}, {})],
    "logistics:run-load": lambda w: [
        PagePost({"run_id": w.out.plan["run"].pk}, {}, effective=True)
    ],
    "logistics:run-step": lambda w: [
        PagePost(
            {"run_id": w.out.plan["run"].pk, "stop_id": w.out.plan["stop"].pk, "step": step},
            {},
            effective=True,
        )
        for step in ("arrive", "drop", "pickup")
    ],
    "logistics:run-finish": lambda w: [
        PagePost({"run_id": w.out.plan["run"].pk}, {"odometer_km": "10"}, effective=True)
    ],
    "commerce:producers": lambda w: [PagePost({}, {})],
    "commerce:producer-create": lambda w: [
        PagePost(
            {},
            {"station": str(w.out.stations["village"].pk), "kind": "person", "name": PROBE},
            effective=True,
        )
    ],
    "commerce:producer": lambda w: [
        PagePost({"producer_id": w.out.commerce["coop"].uuid}, {"name": PROBE}, effective=True)
    ],
    "commerce:lots": lambda w: [PagePost({}, {})],
    "commerce:lot-create": lambda w: [
        PagePost(
            {},
            {
                "producer": str(w.out.commerce["person"].uuid),
                "product": "kiwifruit-red",
                "harvest_date": commerce_harvest_date(),
                "quantity": "10",
            },
            effective=True,
        )
    ],
    "commerce:lot": lambda w: [PagePost({"lot_id": w.out.commerce["lots"]["harvested"].uuid}, {})],
    "commerce:lot-grade": lambda w: [
        PagePost(
            {"lot_id": w.out.commerce["lots"]["harvested"].uuid},
            commerce_grade_form(),
            effective=True,
        )
    ],
    "commerce:lot-pack": lambda w: [
        PagePost({"lot_id": w.out.commerce["lots"]["graded"].uuid}, {}, effective=True)
    ],
    "commerce:lot-ship": lambda w: [
        PagePost(
            {"lot_id": w.out.commerce["lots"]["packed"].uuid},
            {"destination": "广州", "pieces": "2", "weight_kg": "10"},
            effective=True,
        )
    ],
    "commerce:products": lambda w: [PagePost({}, {})],
    "commerce:prices": lambda w: [
        PagePost(
            {},
            {"county": w.out.code, "grade": str(w.out.commerce["grade"].pk), "price_yuan": "9.9"},
            effective=True,
        )
    ],
    "trace:home": lambda w: [PagePost({}, {})],
    # public storefront pages: their POSTs (cart in the session, checkout placing a new
    # order, paying a payment by its reference) are the public's own actions and are
    # tested in tests/commerce/test_store_pages.py; the GETs are checked here
    "store:home": lambda w: [],
    "store:listing": lambda w: [],
    "store:cart": lambda w: [],
    "store:checkout": lambda w: [],
    "store:order": lambda w: [],
    "store:pay": lambda w: [],
    "orders:list": lambda w: [PagePost({}, {})],
    "orders:report": lambda w: [PagePost({}, {})],
    "orders:buyers": lambda w: [
        PagePost(
            {},
            {
                "county_code": w.out.code,
                "kind": "school",
                "organisation": f"{PROBE} 医院",
                "contact_name": f"{PROBE}人",
                "contact_phone": "13500001111",
                "address": f"{PROBE} 地址",
            },
            effective=True,
        )
    ],
    "orders:buyer": lambda w: [
        PagePost(
            {"buyer_id": w.out.orders["buyer"].uuid},
            {
                "product": "kiwifruit-red",
                "grade": "special",
                "quantity": "1",
                "delivery_date": commerce_harvest_date_future(),
            },
            effective=True,
        )
    ],
    "orders:detail": lambda w: [PagePost({"order_id": w.out.orders["paid"].uuid}, {})],
    "orders:action": lambda w: [
        PagePost(
            {"order_id": w.out.orders["shipped"].uuid, "action": "deliver"}, {}, effective=True
        ),
        PagePost(
            {"order_id": w.out.orders["pending"].uuid, "action": "cancel"}, {}, effective=True
        ),
        PagePost(
            {"order_id": w.out.orders["delivered"].uuid, "action": "return"},
            {"amount": "1.00"},
            effective=True,
        ),
    ],
    "trace:lot": lambda w: [PagePost({"trace_code": c}, {}) for c in PAGE_KWARGS["trace_code"](w)],
    "trace:qr": lambda w: [PagePost({"trace_code": c}, {}) for c in PAGE_KWARGS["trace_code"](w)],
    "ledger:home": lambda w: [PagePost({}, {})],
    "ledger:county": lambda w: [PagePost({"county_code": w.out.code}, {})],
    "ledger:rules": lambda w: [
        PagePost(
            {"county_code": w.out.code},
            {"platform_fee_bp": "700", "station_commission_bp": "200"},
            effective=True,
        )
    ],
    "ledger:fees-post": lambda w: [PagePost({"county_code": w.out.code}, {}, effective=True)],
    "ledger:payout-create": lambda w: [
        PagePost({"county_code": w.out.code}, {"note": PROBE}, effective=True)
    ],
    "ledger:account": lambda w: [PagePost({"account_id": w.out.ledger["producer"].uuid}, {})],
    "ledger:producer": lambda w: [PagePost({"owner_key": w.out.ledger["producer"].owner_key}, {})],
    "ledger:station": lambda w: [PagePost({"station_id": w.out.stations["village"].pk}, {})],
    "ledger:payout": lambda w: [PagePost({"payout_id": w.out.ledger["batch"].uuid}, {})],
    "ledger:payout-csv": lambda w: [PagePost({"payout_id": w.out.ledger["batch"].uuid}, {})],
    "ledger:payout-file": lambda w: [PagePost({"payout_id": w.out.ledger["batch"].uuid}, {})],
    "ledger:bank-submit": lambda w: [
        PagePost(
            {"account_id": w.out.ledger["producer"].uuid},
            {"holder_name": PROBE, "bank_name": PROBE, "account_number": "6228480000000077"},
            effective=True,
        )
    ],
    "ledger:bank-decide": lambda w: [
        PagePost(
            {"details_id": w.out.ledger["bank_pending"].uuid},
            {"decision": "confirm"},
            effective=True,
        )
    ],
    "ledger:payout-mark": lambda w: [
        PagePost({"payout_id": w.out.ledger["batch"].uuid}, {"status": "paid"}, effective=True)
    ],
    # the sweep button: the caller's scope only (the control's links the OUT parcel)
    "commerce:assisted": lambda w: [PagePost({}, {}, effective=True)],
    "commerce:assisted-create": lambda w: [
        PagePost(
            {},
            {
                "station": str(w.out.stations["village"].pk),
                "villager_name": PROBE,
                "villager_phone": "13512345678",
                "item": PROBE,
                "price_yuan": "10",
                "shop": "jd",
            },
            effective=True,
        )
    ],
    "commerce:assisted-detail": lambda w: [
        PagePost({"purchase_id": w.out.assisted["recorded"].uuid}, {})
    ],
    "commerce:assisted-ordered": lambda w: [
        PagePost(
            {"purchase_id": w.out.assisted["recorded"].uuid},
            {"shop_order_no": "PROBE-1"},
            effective=True,
        )
    ],
    "commerce:assisted-link": lambda w: [
        PagePost(
            {"purchase_id": w.out.assisted["recorded"].uuid},
            {"parcel": str(w.out.assisted["parcel"].uuid)},
            effective=True,
        )
    ],
    "commerce:assisted-oversight": lambda w: [PagePost({}, {})],
    "commerce:assisted-review": lambda w: [
        PagePost(
            {"purchase_id": w.out.assisted["pending"].uuid},
            {"decision": "reject", "note": PROBE},
            effective=True,
        )
    ],
    "commerce:assisted-cancel": lambda w: [
        PagePost({"purchase_id": w.out.assisted["recorded"].uuid}, {}, effective=True)
    ],
    "commerce:earnings": lambda w: [PagePost({}, {})],
    # relapse risk: the queue and the case page are reads; the steps and the scan write
    "impact:risk": lambda w: [PagePost({}, {})],
    "impact:risk_case": lambda w: [PagePost({"case_id": w.out.risk["case"].uuid}, {})],
    "impact:risk_assign": lambda w: [
        PagePost(
            {"case_id": w.out.risk["case"].uuid},
            {"assignee": str(out_user(w, 1))},
            effective=True,
        )
    ],
    "impact:risk_visit": lambda w: [
        PagePost(
            {"case_id": w.out.risk["case"].uuid},
            {"day": _yesterday(), "findings": PROBE},
            effective=True,
        )
    ],
    "impact:risk_assistance": lambda w: [
        PagePost(
            {"case_id": c.risk["case"].uuid},
            {"kind": "health", "day": _yesterday(), "amount_yuan": "12.5"},
            effective=True,
        )
        for c in (w.out, w.far)
    ],
    "impact:risk_close": lambda w: [
        PagePost({"case_id": w.far.risk["case"].uuid}, {"outcome": "risk_removed"}, effective=True)
    ],
    "impact:risk_scan": lambda w: [
        PagePost({"county_code": w.out.code}, {"year": "2024"}, effective=True)
    ],
}


def _public_page(page: Page, w: World, client: Client) -> None:
    """A public page: 200 for every caller on the OUT lots, no personal data; a POST
    is refused (405) and changes nothing."""
    for url in _page_gets(page, w):
        r = client.get(url)
        body = _text(r)
        assert r.status_code == 200, f"public GET {url} -> {r.status_code}"
        personal = [m for m in w.personal_markers() if m in body]
        assert not personal, f"public GET {url} shows personal data {personal}"
    for post in PAGE_POSTS[page.name](w):
        before = out_snapshot()
        r = client.post(reverse(page.name, kwargs=post.kwargs), post.data)
        assert r.status_code == 405, f"public POST {page.name} -> {r.status_code}"
        assert out_snapshot() == before


def _desk_scan_data(w: World, county: str, parcel: Any) -> dict[str, str]:
    """A scan of an OUT parcel at the OUT county's desk (stored as an illegal event when
    the scoping is missing: the parcel already waits at its station)."""
    return {"county": county, "carrier": "ZTO", "lines": parcel.tracking_number}


@dataclass(frozen=True)
class Page:
    name: str  # namespace:name
    kwargs: tuple[str, ...]


def _pattern_kwargs(p: URLPattern) -> tuple[str, ...]:
    converters = getattr(p.pattern, "converters", None)
    if converters:
        return tuple(converters)
    return tuple(p.pattern.regex.groupindex)


def all_pages() -> tuple[list[Page], list[str]]:
    """Every named page in the project's namespaces, and namespaces nobody classified."""
    pages: list[Page] = []
    unknown: list[str] = []

    def walk(patterns: list, ns: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = p.namespace or ns
                if p.namespace and p.namespace not in PAGE_NAMESPACES | SKIPPED_NAMESPACES:
                    unknown.append(p.namespace)
                    continue
                if inner in SKIPPED_NAMESPACES:
                    continue
                walk(p.url_patterns, inner)
            elif isinstance(p, URLPattern) and ns in PAGE_NAMESPACES:
                assert p.name, f"unnamed page pattern {p.pattern} in {ns}"
                pages.append(Page(f"{ns}:{p.name}", _pattern_kwargs(p)))

    walk(get_resolver().url_patterns, None)
    return pages, unknown


PAGES, UNKNOWN_NAMESPACES = all_pages()
PAGE_IDS = [p.name for p in PAGES]
LOGIN_PATH = "/login/"


def _check_page_known(page: Page) -> None:
    missing = [k for k in page.kwargs if k not in PAGE_KWARGS]
    assert not missing, (
        f"{page.name}: URL kwarg(s) {missing} are unknown to the access matrix. Add them to "
        f"PAGE_KWARGS in tests/test_access_matrix.py (OUT-of-scope identifiers from "
        f"tests/factories/world.py)."
    )
    assert page.name in PAGE_POSTS, (
        f"{page.name}: no POST probe. Add it to PAGE_POSTS in tests/test_access_matrix.py "
        f"(form data that would change an OUT-of-scope object, or {{}} for a read-only page)."
    )


def _page_gets(page: Page, w: World) -> list[str]:
    if page.kwargs:
        combos = itertools.product(*(PAGE_KWARGS[k](w) for k in page.kwargs))
        return [reverse(page.name, kwargs=dict(zip(page.kwargs, c, strict=True))) for c in combos]
    url = reverse(page.name)
    probes = PAGE_QUERY_PROBES.get(page.name, lambda w: [])(w)
    return [url] + [f"{url}?{urlencode(q)}" for q in probes]


def test_every_page_is_known_to_the_matrix():
    assert not UNKNOWN_NAMESPACES, (
        f"URL namespaces {UNKNOWN_NAMESPACES} are not walked by the access matrix: add them "
        f"to PAGE_NAMESPACES (or SKIPPED_NAMESPACES with a reason) in tests/test_access_matrix.py"
    )
    problems = []
    for page in PAGES:
        try:
            _check_page_known(page)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)
    assert {p.name.split(":")[0] for p in PAGES} == PAGE_NAMESPACES
    assert len(PAGES) >= 15


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
@pytest.mark.parametrize("role", ROLES)
def test_page_get_out_of_scope(role, page, w):
    _check_page_known(page)
    client = _login(w.users[role])
    if page.name in PUBLIC_PAGES:
        _public_page(page, w, client)
        return
    for url in _page_gets(page, w):
        r = client.get(url)
        body = _text(r)
        label = f"[{role}] GET {url} ({page.name})"
        assert r.status_code < 500, f"{label} -> {r.status_code}"
        if page.kwargs:
            ok = r.status_code in {403, 404, 405} or (
                r.status_code == 302 and r["Location"].startswith(LOGIN_PATH)
            )
            assert ok, f"{label}: OUT object served -> {r.status_code}"
        else:
            # a query aimed at an OUT region may also be answered with a 404
            allowed = {200, 302, 403, 405} | ({404} if "?" in url else set())
            assert r.status_code in allowed, f"{label} -> {r.status_code}"
        assert not w.leaked(body), f"{label} leaked {w.leaked(body)}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
@pytest.mark.parametrize("role", ROLES)
def test_page_post_out_of_scope(role, page, w):
    _check_page_known(page)
    if page.name in PUBLIC_PAGES:
        return  # covered by test_page_get_out_of_scope (_public_page)
    for post in PAGE_POSTS[page.name](w):
        client = _login(w.users[role])
        url = reverse(page.name, kwargs=post.kwargs)
        label = f"[{role}] POST {url} ({page.name}) {sorted(post.data)}"
        before = out_snapshot()
        r = client.post(url, post.data)
        body = _text(r)
        assert r.status_code < 500, f"{label} -> {r.status_code}"
        if page.kwargs:
            assert r.status_code in {400, 403, 404, 405}, f"{label}: OUT object -> {r.status_code}"
        else:
            assert r.status_code in {200, 302, 400, 403, 405}, f"{label} -> {r.status_code}"
        assert not w.leaked(body), f"{label} leaked {w.leaked(body)}"
        after = out_snapshot()
        changed = [k for k in before if before[k] != after[k]]
        assert not changed, f"{label} changed OUT-of-scope rows: {changed}"


@pytest.mark.dates
@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_control_network_admin_reaches_the_out_objects(page, w):
    _check_page_known(page)
    client = _login(w.users[CONTROL])
    if page.name in PUBLIC_PAGES:
        _public_page(page, w, client)
        return
    seen: list[str] = []
    statuses = set()
    for url in _page_gets(page, w):
        r = client.get(url)
        statuses.add(r.status_code)
        assert r.status_code < 500, f"control: GET {url} -> {r.status_code}"
        body = _text(r)
        if page.kwargs and r.status_code == 200:
            assert w.leaked(body), f"control: GET {url} shows no OUT marker"
        seen += w.leaked(body)
    if page.kwargs:
        # a detail page shows the OUT object; an action URL is POST-only (405)
        assert statuses in ({200}, {405}), f"control: {page.name} -> {statuses}"
    if page.name in PAGE_CONTROL_LISTS:
        assert seen, f"control: {page.name} shows no OUT object"
    for post in PAGE_POSTS[page.name](w):
        if not post.effective:
            continue
        client = _login(w.users[CONTROL])
        before = out_snapshot()
        url = reverse(page.name, kwargs=post.kwargs)
        r = client.post(url, post.data)
        assert r.status_code in {200, 302}, f"control: POST {url} -> {r.status_code}: " + (
            _text(r)[:3000] if r.status_code == 400 else ""
        )
        assert out_snapshot() != before, f"control: POST {url} changed no OUT row"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_page_anonymous_is_sent_to_login(page, w):
    _check_page_known(page)
    client = Client()
    if page.name in PUBLIC_PAGES:
        _public_page(page, w, client)
        return
    for url in _page_gets(page, w)[:1]:
        r = client.get(url)
        if page.name == "accounts:login":
            assert r.status_code == 200
        elif page.name == "accounts:logout":
            assert r.status_code == 405  # POST only; nothing to show
        else:
            assert r.status_code == 302, f"anonymous GET {url} -> {r.status_code}"
            assert r["Location"].startswith(LOGIN_PATH), r["Location"]
        assert not w.leaked(_text(r))
    for post in PAGE_POSTS[page.name](w)[:1]:
        before = out_snapshot()
        r = client.post(reverse(page.name, kwargs=post.kwargs), post.data)
        assert r.status_code in {200, 302}, f"anonymous POST {page.name} -> {r.status_code}"
        if page.name not in {"accounts:login", "accounts:logout"}:
            assert r["Location"].startswith(LOGIN_PATH)
        assert out_snapshot() == before
