from django.db import migrations

CARRIERS = [
    ("ZTO", "中通快递"),
    ("YTO", "圆通速递"),
    ("STO", "申通快递"),
    ("YUNDA", "韵达速递"),
    ("JT", "极兔速递"),
    ("EMS", "中国邮政EMS"),
    ("JD", "京东物流"),
    ("SF", "顺丰速运"),
]


def add_carriers(apps, schema_editor):
    Carrier = apps.get_model("logistics", "Carrier")
    for code, name in CARRIERS:
        Carrier.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("logistics", "0001_initial")]

    operations = [migrations.RunPython(add_carriers, migrations.RunPython.noop)]
