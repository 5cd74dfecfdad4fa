from django.urls import path

from . import views

app_name = "clients"

urlpatterns = [
    path("", views.client_list, name="client-list"),
    path("<int:pk>/", views.client_detail, name="client-detail"),
    path("manage/", views.manage_clients, name="manage-clients"),
]
