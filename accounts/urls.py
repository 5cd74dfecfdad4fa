from django.contrib.auth import views as auth_views
from django.urls import path

from .views import auth, sessions, settings, sudo, users

app_name = "accounts"

urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("login/code/", auth.mfa_verify, name="mfa-verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
    path(
        "invitation/<uidb64>/<token>/",
        auth.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("confirm/", sudo.sudo_confirm, name="sudo-confirm"),
    path("settings/", settings.user_settings, name="settings"),
    path("settings/email/", settings.email_change, name="email-change"),
    path("settings/password/", settings.PasswordChangeView.as_view(), name="password-change"),
    path("settings/mfa/", settings.mfa_settings, name="mfa"),
    path("settings/mfa/backup-codes/", settings.mfa_backup_codes, name="mfa-backup-codes"),
    path("settings/mfa/disable/", settings.mfa_disable, name="mfa-disable"),
    path("settings/sessions/", sessions.session_list, name="session-list"),
    path("settings/sessions/<int:pk>/end/", sessions.session_end, name="session-end"),
    path("settings/sessions/end-others/", sessions.session_end_others, name="session-end-others"),
    path("users/", users.user_list, name="user-list"),
    path("users/add/", users.user_add, name="user-add"),
    path("users/<int:pk>/", users.user_edit, name="user-edit"),
    path("users/<int:pk>/delete/", users.user_delete, name="user-delete"),
    path("users/<int:pk>/reset-mfa/", users.user_reset_mfa, name="user-reset-mfa"),
    path("users/<int:pk>/end-sessions/", sessions.user_sessions_end, name="user-sessions-end"),
    path("users/mfa-policy/", users.mfa_policy, name="mfa-policy"),
    path("audit-log/", users.audit_log, name="audit-log"),
]
