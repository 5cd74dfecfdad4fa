from django.urls import path

from . import views

app_name = "xpmsync"

urlpatterns = [
    path("", views.panel, name="panel"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("choose/", views.choose, name="choose"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("sync/", views.sync_now, name="sync-now"),
    path("history/", views.history, name="history"),
    path("status/", views.status, name="status"),
]
