from django.apps import AppConfig


class ImpactConfig(AppConfig):
    name = "cunzhan.impact"
    label = "impact"
    verbose_name = "impact"

    def ready(self) -> None:
        # the built-in data sources register themselves into the registry on import
        # relapse-risk monitoring: its signals and its data source (ADR 0019)
        from cunzhan.impact import (  # noqa: F401
            risk,
            risk_selectors,
            sources,
            sources_commerce,
        )
