from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cunzhan.core"
    label = "core"
    verbose_name = "core"
