from django.urls import path

from . import views

app_name = "xpmsync"

urlpatterns = [
    path("", views.panel, name="panel"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("callback/problem/", views.callback_problem, name="callback-problem"),
    path("choose/", views.choose, name="choose"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("sync/", views.sync_now, name="sync-now"),
    path("quick-syncs/", views.quick_syncs, name="quick-syncs"),
    path("held/apply/", views.apply_held, name="held-apply"),
    path("held/keep/", views.keep_held, name="held-keep"),
    path("history/", views.history, name="history"),
    path("history/<int:pk>/", views.run_detail, name="run-detail"),
    path("status/", views.status, name="status"),
]
