from zoneinfo import available_timezones

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.http import HttpRequest

from . import credentials
from .models import AuditEvent, Firm, User


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
        try:
            self.user_cache = credentials.authenticate_login(self.request, email, password)
        except credentials.Throttled:
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled"
            ) from None
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AuditFilterForm(forms.Form):
    """The audit log's filters: event, who did it, and a date range in the firm's time zone."""

    action = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[("", "All events"), *sorted(AuditEvent.Action.choices, key=lambda c: c[1])],
    )
    actor = forms.ChoiceField(label="Who", required=False)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    SYSTEM = "system"

    def __init__(self, *args, firm: Firm, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        people = User.objects.for_firm(firm).order_by("first_name", "last_name", "email")
        self.fields["actor"].choices = [  # type: ignore[attr-defined]
            ("", "Anyone"),
            (self.SYSTEM, "The portal (no one signed in)"),
            *((str(person.pk), _person_label(person)) for person in people),
        ]

    def clean(self):
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


def _person_label(person: User) -> str:
    name = person.get_full_name()
    return f"{name} ({person.email})" if name else person.email


class FirmTimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Your firm's time zone",
        help_text="Every date and time in the portal is shown in this zone.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        zones = [(name, name.replace("_", " ")) for name in _zones()]
        self.fields["time_zone"].choices = zones  # type: ignore[attr-defined]


def _zones() -> list[str]:
    # The IANA zones, Australia's and New Zealand's first: most firms are there.
    zones = sorted(available_timezones() - {"Factory", "localtime"})
    first = [zone for zone in zones if zone.startswith(("Australia/", "Pacific/Auckland"))]
    return first + [zone for zone in zones if zone not in first]


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
        else:
            # static/js/dialogs.js asks first, naming the consequence, when these change.
            self.fields["role"].widget.attrs["data-consequence"] = "role-dialog"
            self.fields["is_active"].widget.attrs.update(
                {"data-consequence": "deactivate-dialog", "data-consequence-when": "unchecked"}
            )

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        # Addresses are unique across the whole platform, not only within the firm.
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class ProfileForm(forms.ModelForm):
    """A user's own details. Saves only its own columns: ``request.user`` was loaded when the
    request began, and writing the whole row back would undo an admin's deactivation, role
    change or MFA reset made meanwhile."""

    class Meta:
        model = User
        fields = ["first_name", "last_name", "greeting", "sign_off", "email_signature"]
        widgets = {"email_signature": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_name"].required = True

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if commit:
            user.save(update_fields=self._meta.fields)
        return user


class PasswordCheckMixin:
    """Adds a current-password field, checked against ``self.user`` through the throttle.

    ``ip`` is the client's address (``throttle.client_ip``); ``purpose`` names the action in
    the audit log.
    """

    user: User
    ip: str = ""
    purpose: str = "confirming an action"
    # Given by the form class this mixes into.
    fields: dict[str, forms.Field]
    cleaned_data: dict

    def add_password_field(self) -> None:
        self.fields["password"] = forms.CharField(
            label="Your current password",
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        )

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        try:
            correct = credentials.check_current_password(
                self.user, password, ip=self.ip, purpose=self.purpose
            )
        except credentials.Throttled:
            raise forms.ValidationError(REAUTH_THROTTLED_MESSAGE, code="throttled") from None
        if not correct:
            raise forms.ValidationError("That is not your current password.")
        return password


REAUTH_THROTTLED_MESSAGE = (
    "Too many wrong passwords. Wait 15 minutes and try again; your password was not checked."
)


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the old password checked through the throttle, and only
    the password column written (the user row was loaded before any admin's change)."""

    def __init__(self, user: User, *args, ip: str = "", **kwargs) -> None:
        super().__init__(user, *args, **kwargs)
        self.ip = ip

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            correct = credentials.check_current_password(
                self.user, old_password, ip=self.ip, purpose="password change"
            )
        except credentials.Throttled:
            raise forms.ValidationError(REAUTH_THROTTLED_MESSAGE, code="throttled") from None
        if not correct:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password

    def save(self, commit: bool = True) -> User:
        self.user.set_password(self.cleaned_data["new_password1"])
        if commit:
            self.user.save(update_fields=["password"])
        return self.user


class NewPasswordForm(SetPasswordForm):
    """The set-password links (reset, invitation): writes only the password column."""

    def save(self, commit: bool = True) -> User:
        self.user.set_password(self.cleaned_data["new_password1"])
        if commit:
            self.user.save(update_fields=["password"])
        return self.user


class EmailChangeForm(PasswordCheckMixin, forms.Form):
    email = forms.EmailField(label="New email address")
    purpose = "email change"

    def __init__(self, *args, user: User, ip: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.ip = ip
        self.add_password_field()

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.user.pk).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class ConfirmPasswordForm(PasswordCheckMixin, forms.Form):
    """ "Confirm it's you" before a dangerous admin action: the password, typed again."""

    purpose = "confirming an admin action"

    def __init__(self, *args, user: User, ip: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.ip = ip
        self.add_password_field()


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

    purpose = "MFA enrolment"

    def __init__(self, *args, user: User, ask_password: bool, ip: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.ip = ip
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

    def __init__(self, *args, user: User, ip: str = "", purpose: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.ip = ip
        self.purpose = purpose or self.purpose
        self.add_password_field()
        self.order_fields(["password", "code"])


class MfaPolicyForm(forms.Form):
    required = forms.BooleanField(label="Require MFA for everyone", required=False)


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="Something you will recognise, such as “Work laptop” or “Blue YubiKey”.",
    )


class UserMfaFilterForm(forms.Form):
    """Manage Users' filter: everyone, or only the users without MFA."""

    mfa = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "All users"), ("missing", "MFA not set up")],
    )
