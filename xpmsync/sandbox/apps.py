from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "xpmsync.sandbox"
    label = "xpm_sandbox"
    verbose_name = "XPM sandbox (development only)"
