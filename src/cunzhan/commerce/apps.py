from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "cunzhan.commerce"
    label = "commerce"
    verbose_name = "commerce"

    def ready(self) -> None:
        # the home-page panel of the station operator and the county manager
        from cunzhan.commerce import (
            assisted_simulation,  # noqa: F401  (代购 simulator)
            checks,  # noqa: F401  (payment settings; the sandbox is off in production)
            simulation,  # noqa: F401  (lots and orders simulator)
            views,  # noqa: F401
            views_assisted,  # noqa: F401  (代购 home panel)
        )
