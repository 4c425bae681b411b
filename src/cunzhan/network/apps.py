from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "cunzhan.network"
    label = "network"
    verbose_name = "network"

    def ready(self) -> None:
        from cunzhan.network import home  # noqa: F401 - registers panels and the station counter
