"""Before usernames become unique without regard to case (0005): fail clearly, naming
them, when existing usernames differ only in case. Rename or merge those accounts (e.g.
``cunzhan shell``), then migrate again. Nothing to undo."""

from django.db import migrations
from django.db.models import Count
from django.db.models.functions import Lower


def check_no_case_duplicates(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    clashes = (
        User.objects.annotate(lowered=Lower("username"))
        .values("lowered")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("lowered", flat=True)
    )
    names = sorted(
        User.objects.annotate(lowered=Lower("username"))
        .filter(lowered__in=list(clashes))
        .values_list("username", flat=True)
    )
    if names:
        raise RuntimeError(
            "usernames must be unique without regard to case, but these differ only in case: "
            + ", ".join(names)
            + ". Rename or merge these accounts, then run the migration again."
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_user_one_time_password")]

    operations = [migrations.RunPython(check_no_case_duplicates, migrations.RunPython.noop)]
