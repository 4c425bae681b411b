"""Unpaid orders placed before expiry existed hold their stock until created_at plus the
configured time (settings.ORDER_UNPAID_TTL_MINUTES; wholesale: the hours setting), so
the sweep releases them too."""

import datetime as dt

from django.conf import settings
from django.db import migrations


def backfill(apps, schema_editor):
    Order = apps.get_model("commerce", "Order")
    minutes = dt.timedelta(minutes=settings.ORDER_UNPAID_TTL_MINUTES)
    hours = dt.timedelta(hours=settings.ORDER_WHOLESALE_UNPAID_TTL_HOURS)
    pending = Order.objects.filter(state="pending_payment", expires_at__isnull=True)
    for order in pending.only("id", "channel", "created_at").iterator():
        ttl = hours if order.channel == "wholesale" else minutes
        Order.objects.filter(pk=order.pk).update(expires_at=order.created_at + ttl)


class Migration(migrations.Migration):
    dependencies = [("commerce", "0007_order_expiry")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
