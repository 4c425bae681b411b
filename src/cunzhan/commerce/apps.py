from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "cunzhan.commerce"
    label = "commerce"
    verbose_name = "commerce"
