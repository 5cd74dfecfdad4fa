from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from accounts.views.auth import help_page

urlpatterns = [
    path("", lambda request: redirect("clients:client-list"), name="home"),
    path("help/", help_page, name="help"),
    # Resolved per request: the static manifest may not exist when URLs are imported.
    path("favicon.ico", lambda request: redirect(static("img/favicon.svg"), permanent=True)),
    path("accounts/", include("accounts.urls")),
    path("clients/", include("clients.urls")),
    path("xpm/", include("xpmsync.urls")),
    path("platform-admin/", admin.site.urls),
]
if settings.XPM_SANDBOX:
    urlpatterns.append(path("xero-sandbox/", include("xpmsync.sandbox.urls")))
