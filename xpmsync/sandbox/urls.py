from django.urls import path

from . import identity, views

app_name = "xpm_sandbox"

urlpatterns = [
    path("", views.control, name="control"),
    path("identity/connect/authorize", identity.authorize, name="authorize"),
    path("identity/connect/token", identity.token, name="token"),
    path("identity/connect/revocation", identity.revocation, name="revocation"),
    path("api/connections", views.connections, name="connections"),
    path("api/connections/<str:connection_id>", views.connection, name="connection"),
    path("api/practicemanager/3.1/client.api/list", views.client_list, name="client-list"),
]
