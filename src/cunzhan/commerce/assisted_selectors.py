"""Reads of assisted purchase (代购) and a station's earnings by source and month
(docs/adr/0016-assisted-purchase.md). Every selector takes the caller's scope."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce.assisted_models import AssistedPurchase, AssistedStatus, ReviewState
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import AccountKind, Line, TransactionKind
from cunzhan.logistics import county_settings
from cunzhan.logistics import fees as logistics_fees
from cunzhan.logistics import selectors as parcels
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Direction, Parcel, in_states
from cunzhan.network.models import Region, Station

CHINA = ZoneInfo("Asia/Shanghai")
MAX_MONTHS = 36
SALES_KINDS = (TransactionKind.SALE, TransactionKind.REFUND)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def assisted_in_scope(*, scope: RegionScope) -> QuerySet[AssistedPurchase]:
    qs = AssistedPurchase.objects.filter(scope.q("village_id"))
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(station_id__in=list(scope.station_ids))
    return qs


def assisted_list(
    *, scope: RegionScope, station_id: int | None = None, status: str = "", q: str = ""
) -> QuerySet[AssistedPurchase]:
    """Filters: ``station_id``, ``status``, ``q`` (villager name, phone's last 4 digits,
    tracking or shop order number)."""
    qs = assisted_in_scope(scope=scope).select_related("station", "parcel")
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    if status:
        if status not in AssistedStatus.values:
            raise ApplicationError(f"unknown status {status!r}", code="invalid_filter")
        qs = qs.filter(status=status)
    q = (q or "").strip()[:60]
    if q:
        qs = qs.filter(
            Q(villager_name=q)
            | Q(phone_last4=q)
            | Q(tracking_number=q.upper())
            | Q(shop_order_no=q)
        )
    return qs.order_by("-created_at", "-id")


def assisted_review_queue(*, scope: RegionScope) -> QuerySet[AssistedPurchase]:
    """Purchases above their county's threshold waiting for the county's review, oldest
    first (the commission of each is held until then)."""
    return (
        assisted_in_scope(scope=scope)
        .filter(review_state=ReviewState.PENDING)
        .exclude(status=AssistedStatus.CANCELLED)
        .select_related("station", "parcel", "recorded_by")
        .order_by("created_at", "id")
    )


def assisted_get(*, scope: RegionScope, purchase_id: Any) -> AssistedPurchase:
    pk = _uuid(purchase_id)
    p = (
        assisted_in_scope(scope=scope).select_related("station", "parcel__carrier").filter(uuid=pk)
        if pk
        else None
    )
    found = p.first() if p is not None else None
    if found is None:
        raise NotFound()
    return found


def assisted_parcel_candidates(*, scope: RegionScope, purchase: AssistedPurchase) -> list[Parcel]:
    """Parcels waiting at the purchase's station that no purchase claims and that could
    be its delivery: for the villager's phone, announced after the purchase was recorded
    (what the operator picks from when the match is ambiguous; nothing else would link)."""
    linked = AssistedPurchase.objects.filter(
        station_id=purchase.station_id, parcel__isnull=False
    ).values("parcel_id")
    qs = (
        parcels.parcels_in_scope(scope=scope)
        .filter(
            in_states(sm.AT_STATION),
            station_id=purchase.station_id,
            direction=Direction.DOWN,
            recipient_phone=purchase.villager_phone,
            created_at__gt=purchase.created_at,
        )
        .exclude(pk__in=linked)
        .select_related("carrier")
        .order_by("-state_at", "-id")[:200]
    )
    return list(qs)


def assisted_figures(*, scope: RegionScope) -> dict[str, int]:
    by = dict(
        assisted_in_scope(scope=scope).values_list("status").annotate(n=Count("id")).order_by()
    )
    return {s: int(by.get(s, 0)) for s in AssistedStatus.values}


# --- earnings -----------------------------------------------------------------------------------


def station_get(*, scope: RegionScope, station_id: int) -> Station:
    st = Station.objects.filter(pk=station_id).first()
    if st is None or not scope.contains_code(st.region_id):
        raise NotFound()
    if not scope.everything and scope.station_ids is not None and st.pk not in scope.station_ids:
        raise NotFound()
    return st


def _months(end: dt.date, n: int) -> list[str]:
    y, m = end.year, end.month
    out = []
    for _i in range(n):
        out.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return out


def station_earnings(
    *, scope: RegionScope, station: Station, months: int = 12, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """What ``station`` earned per month (newest first, the last ``months``), by source:
    logistics fees down and up (the station fees logistics records; of them pending,
    not yet posted to the ledger, and posted by the daily sweep), assisted-purchase
    commission and sales commission (net of refunds) from the ledger's postings to the
    station's account. Amounts in fen."""
    if not 1 <= months <= MAX_MONTHS:
        raise ApplicationError(f"months: 1 to {MAX_MONTHS}", code="invalid_filter")
    if not scope.contains_code(station.region_id):
        raise NotFound()
    now = now or timezone.now()
    keys = _months(now.astimezone(CHINA).date(), months)
    rows: dict[str, dict[str, Any]] = {
        k: {
            "month": k,
            "down_count": 0,
            "down_fen": 0,
            "up_count": 0,
            "up_fen": 0,
            "fees_pending_fen": 0,
            "fees_posted_fen": 0,
            "assisted_count": 0,
            "assisted_fen": 0,
            "sales_fen": 0,
            "total_fen": 0,
        }
        for k in keys
    }
    for f in logistics_fees.fee_summary(scope=scope, station_id=station.pk):
        r = rows.get(f["month"])
        if r is not None:
            r.update(
                down_count=f["down_count"],
                down_fen=f["down_fen"],
                up_count=f["up_count"],
                up_fen=f["up_fen"],
                fees_pending_fen=f["owed_fen"],
                fees_posted_fen=f["posted_fen"],
            )
    first = dt.datetime.fromisoformat(keys[-1] + "-01").replace(tzinfo=CHINA)
    ledger_rows = (
        Line.objects.filter(
            account__kind=AccountKind.STATION,
            account__station=station,
            occurred_at__gte=first,
            transaction__kind__in=[TransactionKind.ASSISTED, *SALES_KINDS],
        )
        .annotate(m=TruncMonth("occurred_at", tzinfo=CHINA))
        .values("m", "transaction__kind")
        .annotate(s=Sum("amount_fen"), n=Count("id"))
        .order_by()
    )
    sums: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for lr in ledger_rows:
        key = (lr["m"].strftime("%Y-%m"), lr["transaction__kind"])
        s, n = sums[key]
        sums[key] = (s + int(lr["s"] or 0), n + int(lr["n"]))
    for (month, kind), (s, n) in sums.items():
        r = rows.get(month)
        if r is None:
            continue
        # the station's account is credited (negative) with what it earns
        if kind == TransactionKind.ASSISTED:
            r["assisted_fen"] += -s
            r["assisted_count"] += n
        else:
            r["sales_fen"] += -s
    for r in rows.values():
        r["total_fen"] = r["down_fen"] + r["up_fen"] + r["assisted_fen"] + r["sales_fen"]
    return [rows[k] for k in keys]


def county_get(*, scope: RegionScope, county_code: str) -> Region:
    """A county the caller's scope covers whole (county roles): else not found."""
    return county_settings.county_get(scope=scope, county_code=county_code)


# --- anomalies: operators whose commissions jump -------------------------------------------------

TRAILING_MONTHS = 3  # the operator's own history: the average of the 3 months before
JUMP_FACTOR = 2  # this month at least twice the trailing average …
PEER_FACTOR = 3  # … or at least three times the median of the county's other operators
MIN_JUMP_FEN = 50_00  # and at least ¥50 above what it is compared with (noise floor)


def _month_start(month: str) -> dt.datetime:
    try:
        first = dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ApplicationError(
            _("月份格式应为 YYYY-MM：%(m)s") % {"m": month[:10]},
            code="invalid_filter",
            details={"field": "month"},
        ) from None
    return first.replace(tzinfo=CHINA)


def _shift(first: dt.datetime, months: int) -> dt.datetime:
    m = first.year * 12 + first.month - 1 + months
    return first.replace(year=m // 12, month=m % 12 + 1)


def _median(values: list[int]) -> int:
    if not values:
        return 0
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) // 2


def assisted_commission_anomalies(
    *, scope: RegionScope, month: str = "", now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Operators whose assisted-purchase commission jumps in ``month`` (YYYY-MM, China
    time; default the current month). An operator's commission of a month is what the
    purchases they recorded that month would earn (price × the rate fixed on each,
    cancelled ones left out) — counted at recording, before any money moves, so a
    burst shows while it is still held. Flagged when this month's commission is

    - at least ``JUMP_FACTOR`` × their average over the ``TRAILING_MONTHS`` before
      (an operator with history), or
    - at least ``PEER_FACTOR`` × the median of the county's other operators this month,

    and in either case at least ``MIN_JUMP_FEN`` above what it is compared with. Rows
    are the flagged operators, the largest jump first. Amounts in fen."""
    now = now or timezone.now()
    first = _month_start(month) if month else _month_start(now.astimezone(CHINA).strftime("%Y-%m"))
    start, end = _shift(first, -TRAILING_MONTHS), _shift(first, 1)
    rows = (
        assisted_in_scope(scope=scope)
        .filter(created_at__gte=start, created_at__lt=end, recorded_by__isnull=False)
        .exclude(status=AssistedStatus.CANCELLED)
        .annotate(m=TruncMonth("created_at", tzinfo=CHINA))
        .values("recorded_by", "recorded_by__username", "m", "village_id")
        .annotate(s=Sum(F("price_fen") * F("commission_bp")), n=Count("id"))
        .order_by()
    )
    key_now = first.strftime("%Y-%m")
    per: dict[int, dict[str, Any]] = {}
    for r in rows:
        op = per.setdefault(
            r["recorded_by"],
            {
                "user_id": r["recorded_by"],
                "username": r["recorded_by__username"],
                "county_code": r["village_id"][:6],
                "villages": set(),
                "month_fen": 0,
                "month_count": 0,
                "trailing_fen": 0,
            },
        )
        fen = int(r["s"] or 0) // 10_000
        if r["m"].strftime("%Y-%m") == key_now:
            op["month_fen"] += fen
            op["month_count"] += int(r["n"])
            op["villages"].add(r["village_id"])
        else:
            op["trailing_fen"] += fen
    by_county: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in per.values():
        if op["month_count"]:
            by_county[op["county_code"]].append(op)
    out = []
    for op in per.values():
        if not op["month_count"]:
            continue
        avg = op["trailing_fen"] // TRAILING_MONTHS
        peers = [o["month_fen"] for o in by_county[op["county_code"]] if o is not op]
        median = _median(peers)
        reasons = []
        cur = op["month_fen"]
        if avg > 0 and cur >= JUMP_FACTOR * avg and cur - avg >= MIN_JUMP_FEN:
            reasons.append("trailing")
        if peers and cur >= PEER_FACTOR * median and cur - median >= MIN_JUMP_FEN:
            reasons.append("peers")
        if not reasons:
            continue
        base = avg if "trailing" in reasons else median
        out.append(
            {
                "user_id": op["user_id"],
                "username": op["username"],
                "county_code": op["county_code"],
                "villages": sorted(op["villages"]),
                "month": key_now,
                "month_fen": cur,
                "month_count": op["month_count"],
                "trailing_avg_fen": avg,
                "peer_median_fen": median,
                "peers": len(peers),
                "jump_fen": cur - base,
                "reasons": reasons,
            }
        )
    out.sort(key=lambda r: (-r["jump_fen"], r["username"]))
    return out
