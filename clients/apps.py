from django.apps import AppConfig
from django.db import models
from django.db.backends.signals import connection_created


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        from gapportal.postgres import tune_session

        from .lookups import AnyOf

        # The client list and the sync are the portal's heavy readers; see gapportal/postgres.py.
        connection_created.connect(tune_session, dispatch_uid="gapportal.postgres.tune_session")
        models.BigAutoField.register_lookup(AnyOf)  # pk__any_of, for the client search
