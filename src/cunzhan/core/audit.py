"""Writing and reading the audit log."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet

from cunzhan.core import context
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Model):
        return str(value.pk)
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def snapshot(obj: Model, fields: list[str] | None = None, exclude: tuple[str, ...] = ()) -> dict:
    """The concrete field values of ``obj`` as JSON-ready data."""
    data: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if fields is not None and f.name not in fields:
            continue
        if f.name in exclude:
            continue
        data[f.attname] = _jsonable(getattr(obj, f.attname))
    return data


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: Any = "",
    object_repr: str = "",
    region_code: str = "",
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    personal_data: bool = False,
    actor: Any = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Record one event. The actor and client address default to the current request's
    (``core.context``); pass ``ip_address`` where the caller knows it better."""
    ctx = context.current()
    actor = actor if actor is not None else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if before is not None and after is not None:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        changed.discard("updated_at")
        before = {k: before.get(k) for k in changed}
        after = {k: after.get(k) for k in changed}
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=getattr(actor, "username", "") if actor is not None else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        object_repr=str(object_repr)[:200],
        region_code=region_code or "",
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        note=note[:300],
        personal_data=personal_data,
        ip_address=ip_address if ip_address is not None else ctx.ip_address,
    )


def audit_event_list(
    *,
    scope: RegionScope,
    actor_name: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    personal_data: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events visible in ``scope`` (events without a region: national scope only)."""
    qs = AuditEvent.objects.all()
    if not scope.everything:
        qs = qs.filter(scope.q("region_code")).exclude(region_code="")
    if actor_name:
        qs = qs.filter(actor_name=actor_name)
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if personal_data is not None:
        qs = qs.filter(personal_data=personal_data)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs
