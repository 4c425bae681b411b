"""Writing a county's logistics settings (cut-off, aging days, station fees, circuity
and speed for planning): the county's manager or a network admin; validated as a whole
with errors naming the field; audited (before/after)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import selectors
from cunzhan.logistics.models import CountyLogisticsSettings
from cunzhan.network.models import Level, Region

# field -> (low, high) for the integers
LIMITS: dict[str, tuple[int, int]] = {
    "reminder_days": (1, 60),
    "return_days": (2, 90),
    "fee_down_fen": (0, 100_000),
    "fee_up_fen": (0, 100_000),
    "circuity_pct": (100, 300),
    "speed_kmh": (5, 120),
}
FIELDS = ("cutoff", *LIMITS)


def county_get(*, scope: RegionScope, county_code: str) -> Region:
    county = Region.objects.filter(code=county_code, level=Level.COUNTY).first()
    if (
        county is None
        or not scope.contains_code(county.code)
        or (not scope.everything and scope.station_ids is not None)
    ):
        raise NotFound()
    return county


def _cutoff(value: Any) -> dt.time | None:
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip()).replace(second=0, microsecond=0)
        except ValueError:
            return None
    return None


def county_settings_update(
    *, scope: RegionScope, county_code: str, actor: Any = None, **values: Any
) -> CountyLogisticsSettings:
    """Set some or all of ``cutoff`` (HH:MM), ``reminder_days``, ``return_days``
    (> reminder days), ``fee_down_fen``, ``fee_up_fen``, ``circuity_pct`` and
    ``speed_kmh``. Unknown or invalid fields: an error listing each, nothing saved."""
    county = county_get(scope=scope, county_code=county_code)
    errors: list[dict[str, str]] = []
    unknown = sorted(set(values) - set(FIELDS))
    for name in unknown:
        errors.append({"field": name, "message": "unknown setting"})
    current = selectors.county_settings(county_code=county.code)
    new: dict[str, Any] = {}
    if "cutoff" in values:
        t = _cutoff(values["cutoff"])
        if t is None:
            errors.append({"field": "cutoff", "message": "a time of day, HH:MM"})
        new["cutoff"] = t
    for name, (low, high) in LIMITS.items():
        if name not in values:
            continue
        v = values[name]
        if isinstance(v, str) and is_ascii_digits(v.strip()):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            errors.append({"field": name, "message": f"an integer from {low} to {high}"})
            continue
        new[name] = v
    reminder = new.get("reminder_days", current.reminder_days)
    ret = new.get("return_days", current.return_days)
    if not any(e["field"] in {"reminder_days", "return_days"} for e in errors) and ret <= reminder:
        errors.append(
            {
                "field": "return_days",
                "message": f"must be more than the reminder days ({reminder})",
            }
        )
    if errors:
        first = errors[0]
        raise Unprocessable(
            f"the settings are not valid: {first['field']}: {first['message']}",
            code="invalid_settings",
            details={"field": first["field"], "errors": errors},
        )
    with transaction.atomic():
        row = CountyLogisticsSettings.objects.select_for_update().filter(
            county=county
        ).first() or CountyLogisticsSettings(county=county)
        before = snapshot(row) if row.pk and not row._state.adding else None
        for name, v in new.items():
            setattr(row, name, v)
        row.updated_by = actor if getattr(actor, "pk", None) else None
        row.save()
        audit_record(
            action="update" if before is not None else "create",
            object_type="logistics.CountyLogisticsSettings",
            object_id=county.code,
            object_repr=f"{county.name} logistics settings",
            region_code=county.code,
            before=before,
            after=snapshot(row),
            actor=actor,
        )
    return row
