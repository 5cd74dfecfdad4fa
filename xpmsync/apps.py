from django.apps import AppConfig


class XpmsyncConfig(AppConfig):
    name = "xpmsync"
    verbose_name = "Xero Practice Manager sync"
