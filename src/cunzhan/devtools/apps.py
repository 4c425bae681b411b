from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "cunzhan.devtools"
    label = "devtools"
    verbose_name = "devtools"
