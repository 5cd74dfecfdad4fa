import unicodedata

from django import forms
from django.db.models import QuerySet

from . import csv_import
from .models import Client


class ClientSearchForm(forms.Form):
    """The Clients list's search box, filter and order; ``search.search_clients`` does the rest."""

    SHOW_CHOICES = [
        ("clients", "Clients"),
        ("prospects", "Prospects"),
        ("archived", "Archived"),
        ("all", "All"),
    ]
    SORT_CHOICES = [
        ("name", "Name (A–Z)"),
        ("-name", "Name (Z–A)"),
        ("-created", "Newest first"),
        ("created", "Oldest first"),
    ]

    q = forms.CharField(label="Search clients", required=False, max_length=100)
    show = forms.ChoiceField(label="Show", choices=SHOW_CHOICES, required=False)
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def criteria(self) -> dict[str, str]:
        """The valid fields, with defaults for the rest (one bad field spoils no other)."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "show": data.get("show") or "clients",
            "sort": data.get("sort") or "name",
        }


class ClientForm(forms.ModelForm):
    """A client added or edited by hand."""

    class Meta:
        model = Client
        fields = [
            "name",
            "kind",
            "email",
            "phone",
            "website",
            "is_prospect",
            "address",
            "city",
            "region",
            "postcode",
            "country",
            "postal_address",
            "postal_city",
            "postal_region",
            "postal_postcode",
            "postal_country",
        ]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 2}),
            "postal_address": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def find_duplicates(self, clients: QuerySet[Client]) -> list[Client]:
        """Clients of the firm with the same name (ignoring case), other than this one."""
        name = self.cleaned_data.get("name", "")
        return list(clients.filter(name__iexact=name).exclude(pk=self.instance.pk)[:5])


class EmailClientForm(forms.Form):
    subject = forms.CharField(max_length=200)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}))

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"]
        # A line break in a header would let the subject add headers of its own; the mail
        # library refuses it, so it is refused here with a message rather than a crash.
        if len(subject.splitlines()) > 1 or any(unicodedata.category(c) == "Cc" for c in subject):
            raise forms.ValidationError(
                "Write the subject on one line, without line breaks or control characters."
            )
        return subject


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Up to 1 MB and 2,000 rows. UTF-8 or Excel’s CSV; commas or semicolons.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def refuse_as_too_large(self) -> None:
        self.is_valid()
        self.errors.pop("file", None)
        self.add_error("file", csv_import.TOO_LARGE)

    def clean_file(self) -> tuple[str, csv_import.CsvFile]:
        """The upload's name and its rows, read and checked."""
        upload = self.cleaned_data["file"]
        if upload.size > csv_import.MAX_BYTES:
            raise forms.ValidationError(csv_import.TOO_LARGE)
        # Read at most one byte past the limit, whatever the upload claimed its size was.
        data = upload.read(csv_import.MAX_BYTES + 1)
        try:
            return upload.name, csv_import.read_file(data)
        except csv_import.ImportRefused as refused:
            raise forms.ValidationError(str(refused)) from refused
