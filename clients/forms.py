import unicodedata

from django import forms
from django.db.models import QuerySet
from django.db.models.functions import Lower

from . import csv_import
from .models import Client


class ClientSearchForm(forms.Form):
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
    _ORDERING = {
        "name": [Lower("name"), "id"],
        "-name": [Lower("name").desc(), "-id"],
        "-created": ["-created_at", "-id"],
        "created": ["created_at", "id"],
    }

    q = forms.CharField(label="Search clients", required=False, max_length=100)
    show = forms.ChoiceField(label="Show", choices=SHOW_CHOICES, required=False)
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    # A search matching up to this many clients is resolved to their ids first; see _matching.
    MATERIALISE_UP_TO = 10_000
    # How many clients the search matched, when it resolved them to ids (else None).
    matched: int | None = None

    def filter(self, clients: QuerySet[Client]) -> QuerySet[Client]:
        """Narrow ``clients`` by the filter and the search text, and order them."""
        self.is_valid()  # keep the valid fields even when another one is not
        data = self.cleaned_data
        match data.get("show") or "clients":
            case "clients":
                clients = clients.filter(is_archived=False, is_prospect=False)
            case "prospects":
                clients = clients.filter(is_archived=False, is_prospect=True)
            case "archived":
                clients = clients.filter(is_archived=True)
            case "all":
                pass
        if q := data.get("q"):
            matching = self._matching(clients, q)
            if isinstance(matching, list):
                clients = clients.filter(pk__any_of=matching)
            else:
                clients = clients.filter(pk__in=matching)
        return clients.order_by(*self._ORDERING[data.get("sort") or "name"])

    def _matching(self, clients: QuerySet[Client], q: str) -> list[int] | QuerySet:
        """The ids of ``clients`` whose name or email, or a contact's name, contains ``q``.

        One set from three index-friendly parts (each served by a trigram index on PostgreSQL),
        rather than an OR the planner can only check row by row. The set is fetched once and
        handed to the page's rows as plain ids, with their number as the page's count (see
        ``matched``), so the search runs once, not twice; a very broad search stays a subquery
        rather than a list of tens of thousands of ids.
        """
        matches = (
            clients.order_by()
            .filter(name__icontains=q)
            .values_list("pk", flat=True)
            .union(
                clients.order_by().filter(email__icontains=q).values_list("pk", flat=True),
                clients.order_by()
                .filter(links__contact__name__icontains=q)
                .values_list("pk", flat=True),
            )
            .order_by()
        )
        ids = list(matches[: self.MATERIALISE_UP_TO + 1])
        if len(ids) > self.MATERIALISE_UP_TO:
            return matches
        self.matched = len(ids)
        return ids


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

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > csv_import.MAX_BYTES:
            raise forms.ValidationError(csv_import.TOO_LARGE)
        # Read at most one byte past the limit, whatever the upload claimed its size was.
        data = upload.read(csv_import.MAX_BYTES + 1)
        try:
            self.csv_file = csv_import.read_file(data)
        except csv_import.ImportRefused as refused:
            raise forms.ValidationError(str(refused)) from refused
        return upload
