from django.apps import AppConfig


class LogisticsConfig(AppConfig):
    name = "cunzhan.logistics"
    label = "logistics"
    verbose_name = "logistics"

    def ready(self) -> None:
        # the home-page panels of the county centre and the station operator
        from cunzhan.logistics import simulation  # noqa: F401 - registrations
        from cunzhan.logistics.views import county, station  # noqa: F401
