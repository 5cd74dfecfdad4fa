from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Benchmarks and the load run: installed in development only, never in production."""

    name = "devtools"
    verbose_name = "Development tools"
