"""Importing a small client list from CSV: read, check, preview, then apply all or nothing.

The file is read into plain rows (any problem with the file itself raises ``ImportRefused``),
each row is checked and the valid ones grouped by client name (``Plan``), and only a plan
without a single row error, unchanged since its preview was shown, can be applied, in one
transaction.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts import audit
from accounts.models import AuditEvent, Firm, User
from gapportal.spreadsheets import neutralise

from . import health, history
from .contacts import refresh_primary_contacts
from .models import Change, Client, ClientContact, ClientImport, Contact

MAX_BYTES = 1024 * 1024
MAX_ROWS = 2000
MAX_COLUMNS = 30
MAX_CELL = 255
PREVIEW_LIFETIME = timedelta(hours=1)
# A preview not applied by then is deleted with its rows (clients.tasks, and each new upload).
ABANDONED_AFTER = timedelta(days=1)
TOO_LARGE = (
    f"The file is larger than {MAX_BYTES // 1024} KB. Split it into smaller files, or connect "
    "Xero Practice Manager to bring in a large client list."
)

# Header as written in the template -> the field it fills.
REQUIRED_COLUMNS = {
    "Client Name": "client_name",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Client Email": "client_email",
}
OPTIONAL_COLUMNS = {
    "Contact Email": "contact_email",
    "Phone": "phone",
    "Mobile": "mobile",
    "Salutation": "salutation",
    "Position": "position",
}
TEMPLATE_ROWS = [
    ["Harbourline Logistics Pty Ltd", "Robert", "Tennant", "accounts@harbourline.example.com",
     "rob@harbourline.example.com", "07 3555 0984", "", "Bob", "Financial Controller"],
    ["Harbourline Logistics Pty Ltd", "Amelia", "Chen", "accounts@harbourline.example.com",
     "", "", "0401 555 662", "", "Office Manager"],
    ["Daniel Whitcombe", "Daniel", "Whitcombe", "d.whitcombe@example.net",
     "", "", "0412 555 019", "Dan", ""],
]  # fmt: skip


class ImportRefused(Exception):
    """The file cannot be read as a client list; the message says why and what to do."""


# --- Reading the file ---------------------------------------------------------------------------


@dataclass
class CsvFile:
    rows: list[dict[str, str]]
    # Headers that match no column the portal imports, as written in the file.
    ignored_columns: list[str]


def read_file(data: bytes) -> CsvFile:
    """The file's data rows as dicts keyed by field name, each with its line number as ``row``.

    The line is the physical line of the file the row starts on, as a text editor or Excel's
    row numbers show it: a quoted cell with line breaks in it makes a row span several.
    """
    if len(data) > MAX_BYTES:
        raise ImportRefused(TOO_LARGE)
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ImportRefused("The file is empty. Download the template to see the columns.")
        columns = _columns(header)
        rows: list[dict[str, str]] = []
        lines_read = reader.line_num
        for cells in reader:
            line, lines_read = lines_read + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportRefused(
                    f"The file has more than {MAX_ROWS} rows. Split it into smaller files."
                )
            row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in columns}
            row["row"] = str(line)
            rows.append(row)
    except csv.Error as error:
        raise ImportRefused(
            f"The file could not be read as CSV near line {reader.line_num}: {error}."
        ) from error
    if not rows:
        raise ImportRefused("The file has a header row but no clients under it.")
    known = {index for index, _name in columns}
    ignored = [cell.strip() for i, cell in enumerate(header) if i not in known and cell.strip()]
    return CsvFile(rows=rows, ignored_columns=ignored)


def read_rows(data: bytes) -> list[dict[str, str]]:
    """The file's data rows (see ``read_file``)."""
    return read_file(data).rows


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ImportRefused(_NOT_TEXT) from error
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportRefused(
            "This looks like an Excel workbook, not a CSV file. In Excel, choose File > Save As > "
            "CSV UTF-8, then upload that file."
        )
    if b"\x00" in data:
        raise ImportRefused(_NOT_TEXT)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Windows saves "CSV (Comma delimited)" in Windows-1252.
        return data.decode("cp1252")
    except UnicodeDecodeError as error:
        raise ImportRefused(_NOT_TEXT) from error


_NOT_TEXT = (
    "This file is not a CSV text file the portal can read. Save it as “CSV UTF-8” and upload "
    "it again."
)


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _normalise_header(cell: str) -> str:
    return " ".join(cell.replace("_", " ").split()).casefold()


def _columns(header: list[str]) -> list[tuple[int, str]]:
    if len(header) > MAX_COLUMNS:
        raise ImportRefused(
            f"The file has {len(header)} columns; a client list has at most {MAX_COLUMNS}. "
            "Download the template to see the columns."
        )
    known = {
        _normalise_header(title): name
        for title, name in (REQUIRED_COLUMNS | OPTIONAL_COLUMNS).items()
    }
    _refuse_duplicate_headers(header)
    columns = [
        (i, known[_normalise_header(c)])
        for i, c in enumerate(header)
        if _normalise_header(c) in known
    ]
    found = {name for _, name in columns}
    missing = [title for title, name in REQUIRED_COLUMNS.items() if name not in found]
    if missing:
        raise ImportRefused(
            f"The file has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}. "
            "Download the template to see the columns the portal needs."
        )
    return columns


def _refuse_duplicate_headers(header: list[str]) -> None:
    """Two columns with one title would leave it to chance which of them is imported."""
    positions: dict[str, list[int]] = defaultdict(list)
    for number, cell in enumerate(header, start=1):
        if title := _normalise_header(cell):
            positions[title].append(number)
    twins = [(header[numbers[0] - 1].strip(), numbers) for numbers in positions.values()]
    twins = [(title, numbers) for title, numbers in twins if len(numbers) > 1]
    if twins:
        described = "; ".join(
            f"“{title}” (columns {', '.join(map(str, numbers))})" for title, numbers in twins
        )
        raise ImportRefused(
            f"The file has more than one column with the same title: {described}. Keep one "
            "column of each, then upload the file again."
        )


# --- Checking and planning ----------------------------------------------------------------------


@dataclass
class PlannedContact:
    row: int
    first_name: str
    last_name: str
    email: str
    phone: str
    mobile: str
    salutation: str
    position: str
    is_new: bool = True

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class PlannedClient:
    name: str
    email: str
    rows: list[int] = field(default_factory=list)
    contacts: list[PlannedContact] = field(default_factory=list)
    existing_id: int | None = None

    @property
    def new_contacts(self) -> list[PlannedContact]:
        return [contact for contact in self.contacts if contact.is_new]


@dataclass(frozen=True)
class ImportCounts:
    """What an import does, counted one way for the preview, the button and the summary."""

    clients_created: int
    clients_matched: int
    contacts_created: int
    # Contacts in the file that the matched clients already have: neither added nor counted.
    contacts_existing: int = 0

    @property
    def is_empty(self) -> bool:
        return self.clients_created == 0 and self.contacts_created == 0

    def as_summary(self) -> dict[str, int]:
        return {
            "clients_created": self.clients_created,
            "clients_matched": self.clients_matched,
            "contacts_created": self.contacts_created,
        }


@dataclass
class Plan:
    """What importing the file's valid rows would do; a row in error is in ``errors`` only."""

    clients: list[PlannedClient]
    errors: list[tuple[int, str]]
    # One sentence per client whose file the portal read in a way worth saying.
    notes: list[str] = field(default_factory=list)

    @property
    def to_create(self) -> list[PlannedClient]:
        return [client for client in self.clients if client.existing_id is None]

    @property
    def to_match(self) -> list[PlannedClient]:
        return [client for client in self.clients if client.existing_id is not None]

    @property
    def new_contact_count(self) -> int:
        return sum(len(client.new_contacts) for client in self.clients)

    @property
    def counts(self) -> ImportCounts:
        return ImportCounts(
            clients_created=len(self.to_create),
            clients_matched=len(self.to_match),
            contacts_created=self.new_contact_count,
            contacts_existing=sum(
                len(client.contacts) - len(client.new_contacts) for client in self.clients
            ),
        )

    @property
    def fingerprint(self) -> str:
        """A digest of everything applying the plan would write, and to which clients.

        The preview page carries it to the confirmation, which plans again and compares: a
        preview whose plan has changed since it was shown is refused, never applied as
        something else.
        """
        described = [
            [
                client.existing_id,
                client.name if client.existing_id is None else "",
                client.email if client.existing_id is None else "",
                [
                    [
                        c.first_name,
                        c.last_name,
                        c.email,
                        c.phone,
                        c.mobile,
                        c.salutation,
                        c.position,
                    ]
                    for c in client.new_contacts
                ],
            ]
            for client in self.clients
        ]
        encoded = json.dumps(described, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(encoded.encode()).hexdigest()


def plan_import(firm: Firm, rows: list[dict[str, str]]) -> Plan:
    """Check every row and work out what importing the valid ones into ``firm`` would do."""
    errors: list[tuple[int, str]] = []
    by_client: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        problems = _row_problems(row)
        if problems:
            errors.extend((int(row["row"]), problem) for problem in problems)
        else:
            by_client.setdefault(row["client_name"].casefold(), []).append(row)
    groups: dict[str, PlannedClient] = {}
    notes: list[str] = []
    for key, client_rows in by_client.items():
        planned, note = _plan_client(client_rows, errors)
        if note:
            notes.append(note)
        if planned.contacts:
            groups[key] = planned
    _match_existing(firm, groups, errors)
    return Plan(clients=list(groups.values()), errors=sorted(errors), notes=notes)


def _plan_client(
    client_rows: list[dict[str, str]], errors: list[tuple[int, str]]
) -> tuple[PlannedClient, str]:
    """One client from its valid rows; rows that contradict the first go to ``errors``."""
    first = client_rows[0]
    per_contact = _client_email_is_per_contact(client_rows)
    email = "" if per_contact else first["client_email"].lower()
    client = PlannedClient(name=first["client_name"], email=email)
    for row in client_rows:
        line = int(row["row"])
        if not per_contact and row["client_email"].lower() != client.email:
            errors.append((line, _differs(client, row)))
            continue
        contact = _planned_contact(line, row, email_from_client_column=per_contact)
        twin = next(
            (c for c in client.contacts if c.name.casefold() == contact.name.casefold()), None
        )
        if twin is not None:
            errors.append((line, f"{contact.name} is already on row {twin.row} for this client."))
            continue
        client.rows.append(line)
        client.contacts.append(contact)
    note = ""
    if per_contact and client.contacts:
        note = (
            f"{client.name} has a different Client Email on each row, so the portal takes each "
            "as that contact’s own email and leaves the client’s email empty (emails to the "
            "client go to its primary contact)."
        )
    return client, note


def _client_email_is_per_contact(client_rows: list[dict[str, str]]) -> bool:
    """Older templates put each contact's own address in Client Email on the client's rows.

    Read that way when the rows give more than one Client Email and no row has a different
    Contact Email of its own, which would make the file contradict itself.
    """
    emails = {row["client_email"].lower() for row in client_rows}
    return len(emails) > 1 and all(
        row.get("contact_email", "").lower() in ("", row["client_email"].lower())
        for row in client_rows
    )


def _differs(client: PlannedClient, row: dict[str, str]) -> str:
    return (
        f"Client Email differs from row {client.rows[0]} ({client.email}). Use one Client "
        "Email on every row of a client, and put each person’s own address in Contact Email."
    )


def _row_problems(row: dict[str, str]) -> list[str]:
    problems = [
        f"{title} is missing." for title, name in REQUIRED_COLUMNS.items() if not row.get(name)
    ]
    for title, name in (REQUIRED_COLUMNS | OPTIONAL_COLUMNS).items():
        if len(row.get(name, "")) > MAX_CELL:
            problems.append(f"{title} is longer than {MAX_CELL} characters.")
    for title, name in (("Client Email", "client_email"), ("Contact Email", "contact_email")):
        if row.get(name):
            try:
                validate_email(row[name])
            except ValidationError:
                problems.append(f"{title} “{row[name]}” is not a valid email address.")
    return problems


def _planned_contact(
    line: int, row: dict[str, str], *, email_from_client_column: bool = False
) -> PlannedContact:
    email = row["client_email"] if email_from_client_column else row.get("contact_email", "")
    return PlannedContact(
        row=line,
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=email.lower(),
        phone=row.get("phone", ""),
        mobile=row.get("mobile", ""),
        salutation=row.get("salutation", ""),
        position=row.get("position", ""),
    )


def _match_existing(
    firm: Firm, groups: dict[str, PlannedClient], errors: list[tuple[int, str]]
) -> None:
    """Point planned clients at existing clients of the same name, and drop known contacts.

    A client that cannot be matched (it comes from XPM, or has another email) leaves the plan:
    its rows are errors, never counted as new.
    """
    existing = {
        client.name_key: client
        for client in Client.objects.for_firm(firm)
        .annotate(name_key=Lower("name"))
        .filter(name_key__in=list(groups))
    }
    known_contacts: dict[int, set[str]] = defaultdict(set)
    for link in (
        ClientContact.objects.for_firm(firm)
        .filter(client__in=existing.values())
        .select_related("contact")
    ):
        known_contacts[link.client_id].add(link.contact.name.casefold())
    for key, planned in list(groups.items()):
        client = existing.get(key)
        if client is None:
            continue
        if client.is_from_xpm:
            problem = (
                f"{client.name} comes from Xero Practice Manager: remove this row and update "
                "its contacts in XPM."
            )
            errors.extend((line, problem) for line in planned.rows)
            del groups[key]
            continue
        if planned.email and client.email and client.email.lower() != planned.email:
            problem = f"{client.name} already exists with the email {client.email}."
            errors.extend((line, problem) for line in planned.rows)
            del groups[key]
            continue
        planned.existing_id = client.pk
        for contact in planned.contacts:
            contact.is_new = contact.name.casefold() not in known_contacts[client.pk]


# --- Storing the preview and applying it --------------------------------------------------------


def create_preview(
    firm: Firm,
    *,
    by: User,
    filename: str,
    rows: list[dict[str, str]],
    ignored_columns: list[str] | None = None,
) -> ClientImport:
    """Store the rows until the preview is applied; abandoned previews of any firm go now."""
    delete_abandoned_previews()
    return ClientImport.objects.create(
        firm=firm,
        created_by=by,
        filename=filename[:255],
        rows=rows,
        ignored_columns=ignored_columns or [],
    )


def delete_abandoned_previews() -> int:
    """Delete previews never applied within ABANDONED_AFTER, rows and all; returns how many.

    Client data from a file stays in the database no longer than that.
    """
    cutoff = timezone.now() - ABANDONED_AFTER
    deleted, _ = ClientImport.objects.filter(
        status=ClientImport.Status.PREVIEWED, created_at__lt=cutoff
    ).delete()
    return deleted


class ImportExpired(Exception):
    """The preview cannot be applied (any more); the message says why and what to do."""


class StalePreview(ImportExpired):
    """The plan changed since the preview was shown; the preview page shows the new one."""


STALE = (
    "Nothing was imported: your client list changed since this preview was shown (another "
    "import, or clients added or edited), so the import would no longer do what it showed. "
    "This is the preview as it stands now; check it and import again."
)


def apply_import(client_import: ClientImport, *, by: User, fingerprint: str) -> ImportCounts:
    """Create what the stored preview describes, all or nothing; returns what it did.

    The rows are planned again against the database as it is now: any row error, or a plan
    whose ``fingerprint`` differs from the one the preview showed, means nothing is imported.
    A preview can be applied once.
    """
    firm = client_import.firm
    with transaction.atomic():
        locked = ClientImport.objects.select_for_update().get(pk=client_import.pk, firm=firm)
        if locked.status != ClientImport.Status.PREVIEWED:
            raise ImportExpired("This import was already applied.")
        if timezone.now() - locked.created_at > PREVIEW_LIFETIME:
            raise ImportExpired("This preview is more than an hour old. Upload the file again.")
        plan = plan_import(firm, locked.rows)
        if plan.errors:
            raise ImportExpired(
                "Nothing was imported: some rows need fixing, or the client list changed since "
                "the preview. Upload the file again to see which rows."
            )
        if not constant_time_compare(plan.fingerprint, fingerprint):
            raise StalePreview(STALE)
        counts = plan.counts
        if counts.is_empty:
            raise ImportExpired("There is nothing to import: every client and contact is here.")
        _apply(firm, plan, by=by)
        locked.status = ClientImport.Status.APPLIED
        locked.applied_at = timezone.now()
        locked.summary = counts.as_summary()
        # The file's rows are in the clients now; the copy of them goes.
        locked.rows = []
        locked.ignored_columns = []
        locked.save(update_fields=["status", "applied_at", "summary", "rows", "ignored_columns"])
        audit.record(
            firm,
            AuditEvent.Action.CSV_IMPORTED,
            actor=by,
            detail=f"{locked.filename}: {counts.clients_created} clients created, "
            f"{counts.clients_matched} matched, {counts.contacts_created} contacts added",
        )
    health.after_change(firm)  # new clients may be XPM's under another name
    return counts


def _apply(firm: Firm, plan: Plan, *, by: User | None = None) -> None:
    now = timezone.now()
    to_create, to_match = plan.to_create, plan.to_match
    new_clients = Client.objects.bulk_create(
        Client(
            firm=firm,
            name=planned.name,
            email=planned.email,
            kind=Client.Kind.ORGANISATION,
            source=Client.Source.CSV,
            created_at=now,
            updated_at=now,
        )
        for planned in to_create
    )
    client_ids = [client.pk for client in new_clients]
    for planned, client in zip(to_create, new_clients, strict=True):
        planned.existing_id = client.pk
    pairs = [(planned, contact) for planned in plan.clients for contact in planned.new_contacts]
    contacts = Contact.objects.bulk_create(
        Contact(
            firm=firm,
            name=contact.name,
            first_name=contact.first_name,
            last_name=contact.last_name,
            salutation=contact.salutation,
            email=contact.email,
            phone=contact.phone,
            mobile=contact.mobile,
            created_at=now,
            updated_at=now,
        )
        for _planned, contact in pairs
    )
    ClientContact.objects.bulk_create(
        ClientContact(  # type: ignore[misc]  # existing_id is set for every planned client
            firm=firm,
            client_id=planned.existing_id,
            contact=contact,
            position=planned_contact.position,
        )
        for (planned, planned_contact), contact in zip(pairs, contacts, strict=True)
    )
    touched = set(client_ids) | {p.existing_id for p in to_match if p.existing_id is not None}
    refresh_primary_contacts(firm, touched)
    history.record_added(
        firm,
        client_ids=client_ids,
        contact_ids=[contact.pk for contact in contacts],
        source=Change.Source.CSV,
        by=by,
    )


# --- Writing CSV --------------------------------------------------------------------------------


def template_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
    for row in TEMPLATE_ROWS:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()
