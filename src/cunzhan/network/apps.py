from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "cunzhan.network"
    label = "network"
    verbose_name = "network"
