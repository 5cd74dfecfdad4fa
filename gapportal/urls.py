from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path

from accounts.views.auth import help_page

urlpatterns = [
    path("", lambda request: redirect("clients:client-list"), name="home"),
    path("help/", help_page, name="help"),
    path("accounts/", include("accounts.urls")),
    path("clients/", include("clients.urls")),
    path("platform-admin/", admin.site.urls),
]
