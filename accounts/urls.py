from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from .views import audit, auth, mfa_rollout, passkeys, sessions, settings, sudo, users

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
    path("settings/mfa/passkeys/<int:pk>/", passkeys.passkey_name, name="passkey-name"),
    path("settings/mfa/passkeys/<int:pk>/remove/", passkeys.passkey_remove, name="passkey-remove"),
    # django-otp-webauthn's ceremonies (JSON, POST only) and the strings its script shows.
    path(
        "passkeys/registration/begin/",
        require_POST(login_required(passkeys.RegistrationBegin.as_view())),
        name="passkey-register-begin",
    ),
    path(
        "passkeys/registration/complete/",
        require_POST(login_required(passkeys.RegistrationComplete.as_view())),
        name="passkey-register-complete",
    ),
    path(
        "passkeys/authentication/begin/",
        require_POST(login_required(passkeys.AuthenticationBegin.as_view())),
        name="passkey-auth-begin",
    ),
    path(
        "passkeys/authentication/complete/",
        require_POST(login_required(passkeys.AuthenticationComplete.as_view())),
        name="passkey-auth-complete",
    ),
    path(
        "passkeys/strings.js",
        login_required(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])),
        name="passkey-strings",
    ),
    path("settings/sessions/", sessions.session_list, name="session-list"),
    path("settings/sessions/<int:pk>/end/", sessions.session_end, name="session-end"),
    path("settings/sessions/end-others/", sessions.session_end_others, name="session-end-others"),
    path("users/", users.user_list, name="user-list"),
    path("users/add/", users.user_add, name="user-add"),
    path("users/<int:pk>/", users.user_edit, name="user-edit"),
    path("users/<int:pk>/delete/", users.user_delete, name="user-delete"),
    path("users/<int:pk>/reset-mfa/", users.user_reset_mfa, name="user-reset-mfa"),
    path("users/<int:pk>/end-sessions/", sessions.user_sessions_end, name="user-sessions-end"),
    path(
        "users/<int:pk>/resend-invitation/",
        users.user_resend_invitation,
        name="user-resend-invitation",
    ),
    path("users/mfa-policy/", users.mfa_policy, name="mfa-policy"),
    path("users/mfa-reminders/", mfa_rollout.mfa_reminders_send, name="mfa-reminders-send"),
    path("users/time-zone/", users.firm_time_zone, name="firm-time-zone"),
    path("audit-log/", audit.audit_log, name="audit-log"),
    path("audit-log/export.csv", audit.audit_log_csv, name="audit-log-csv"),
]
