from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from . import audit, throttle
from .models import AuditEvent, User


class LoginForm(AuthenticationForm):
    """Email and password, with failed attempts throttled per account and per address."""

    username = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an active account.",
        "throttled": (
            "Too many failed login attempts. Wait 15 minutes and try again, or reset your password."
        ),
    }

    def __init__(self, request: HttpRequest | None = None, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        ip = throttle.client_ip(self.request) if self.request else ""
        if throttle.is_locked_out(email, ip):
            audit_failed_login(email, "refused while throttled", self.request)
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        self.user_cache = authenticate(self.request, username=email, password=password)
        if self.user_cache is None:
            throttle.record_failure(email, ip)
            audit_failed_login(email, "wrong password", self.request)
            raise self.get_invalid_login_error()
        throttle.clear_account(email, ip)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


def audit_failed_login(email: str, detail: str, request: HttpRequest | None) -> None:
    """Log a failed login in the firm of the account it named, if there is one."""
    user = (
        User.objects.filter(email__iexact=email, firm__isnull=False).select_related("firm").first()
    )
    if user is not None:
        audit.record(
            user.firm, AuditEvent.Action.LOGIN_FAILED, actor=user, detail=detail, request=request
        )


class UserSearchForm(forms.Form):
    q = forms.CharField(label="Search users", required=False, max_length=100)


class UserForm(forms.ModelForm):
    """What a firm admin sets on a user of their firm."""

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "role", "is_active"]
        labels = {"is_active": "Active (can log in)"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_name"].required = True
        self.fields["last_name"].required = True
        if self.instance.pk is None:
            del self.fields["is_active"]

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        # Addresses are unique across the whole platform, not only within the firm.
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "greeting", "sign_off", "email_signature"]
        widgets = {"email_signature": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_name"].required = True


class PasswordCheckMixin:
    """Adds a current-password field, checked against ``self.user``."""

    user: User

    def add_password_field(self) -> None:
        self.fields["password"] = forms.CharField(
            label="Your current password",
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        )

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.")
        return password


class EmailChangeForm(PasswordCheckMixin, forms.Form):
    email = forms.EmailField(label="New email address")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.add_password_field()

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.user.pk).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class CodeForm(forms.Form):
    """The second step of login: a 6-digit code, or a backup code."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "autocapitalize": "off"}
        ),
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
    )


class EnrolForm(PasswordCheckMixin, forms.Form):
    code = forms.CharField(
        label="6-digit code from your app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args, user: User, ask_password: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if ask_password:
            self.add_password_field()


class PasswordAndCodeForm(PasswordCheckMixin, forms.Form):
    """For disabling MFA and new backup codes: the password and a current code."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off"}),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.add_password_field()
        self.order_fields(["password", "code"])


class MfaPolicyForm(forms.Form):
    required = forms.BooleanField(label="Require MFA for everyone", required=False)
