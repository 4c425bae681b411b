from django.apps import AppConfig


class LogisticsConfig(AppConfig):
    name = "cunzhan.logistics"
    label = "logistics"
    verbose_name = "logistics"
