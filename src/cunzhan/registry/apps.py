from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "cunzhan.registry"
    label = "registry"
    verbose_name = "registry"

    def ready(self) -> None:
        from cunzhan.registry import hooks, simulation  # noqa: F401 - registrations
