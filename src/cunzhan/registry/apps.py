from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "cunzhan.registry"
    label = "registry"
    verbose_name = "registry"
