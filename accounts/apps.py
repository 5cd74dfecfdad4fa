from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Firms and users"

    def ready(self) -> None:
        # Connects the receivers that record each signed-in session.
        from . import sessions  # noqa: F401
