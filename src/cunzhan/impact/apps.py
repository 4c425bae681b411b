from django.apps import AppConfig


class ImpactConfig(AppConfig):
    name = "cunzhan.impact"
    label = "impact"
    verbose_name = "impact"

    def ready(self) -> None:
        # the built-in data sources register themselves into the registry on import
        from cunzhan.impact import sources, sources_commerce  # noqa: F401
