"""Scrub the ID number's pieces from the audit log's person snapshots (issue 12, §3): the
last four characters leave every snapshot, and a mask written before 0003 is narrowed
like the stored one (two characters at each end). Nothing else in a snapshot changes."""

from django.db import migrations

HEAD, TAIL = 2, 2


def narrow(mask: str) -> str:
    if len(mask) <= HEAD + TAIL:
        return mask
    return mask[:HEAD] + "*" * (len(mask) - HEAD - TAIL) + mask[-TAIL:]


def scrub_snapshot(snap):
    """The snapshot without ``id_last4`` and with a narrow ``id_masked`` (None if
    nothing changes)."""
    if not isinstance(snap, dict):
        return None
    out = dict(snap)
    out.pop("id_last4", None)
    if isinstance(out.get("id_masked"), str):
        out["id_masked"] = narrow(out["id_masked"])
    return out if out != snap else None


def scrub(apps, schema_editor):
    AuditEvent = apps.get_model("core", "AuditEvent")
    rows = AuditEvent.objects.filter(object_type="registry.Person").only("pk", "before", "after")
    batch = []
    for event in rows.iterator():
        before, after = scrub_snapshot(event.before), scrub_snapshot(event.after)
        if before is None and after is None:
            continue
        if before is not None:
            event.before = before
        if after is not None:
            event.after = after
        batch.append(event)
        if len(batch) >= 1000:
            AuditEvent.objects.bulk_update(batch, ["before", "after"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["before", "after"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_remask_id_numbers"),
        ("core", "0001_initial"),
    ]

    operations = [
        # what was scrubbed cannot be put back: going back leaves the log as it is
        migrations.RunPython(scrub, migrations.RunPython.noop),
    ]
