from django.apps import AppConfig


class LogisticsConfig(AppConfig):
    name = "cunzhan.logistics"
    label = "logistics"
    verbose_name = "logistics"

    def ready(self) -> None:
        from cunzhan.logistics import simulation  # noqa: F401 - registrations
