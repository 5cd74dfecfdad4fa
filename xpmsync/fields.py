"""The one table of what the portal keeps from XPM: each element and the field it fills.

The parser reads these elements into records (whose attributes have the fields' names),
``values`` turns a record into the model fields of the same names, which the mirror writes and
compares to find what changed, and the sandbox writes the same elements. Adding an XPM field is
a row here, an attribute on the record, a model field with its migration, and a sandbox value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Read(Enum):
    TEXT = "text"  # the element's text, stripped
    MULTILINE = "multiline"  # each line stripped, blank lines dropped (addresses)
    FLAG = "flag"  # "Yes" is true, anything else false
    NAME_OF = "name_of"  # the text of the element's own <Name> (AccountManager, Type, …)


@dataclass(frozen=True)
class XpmField:
    element: str
    name: str
    read: Read = Read.TEXT


# A client's elements stored on Client, under the same names.
CLIENT = (
    XpmField("Name", "name"),
    XpmField("Email", "email"),
    XpmField("Phone", "phone"),
    XpmField("Website", "website"),
    XpmField("Address", "address", Read.MULTILINE),
    XpmField("City", "city"),
    XpmField("Region", "region"),
    XpmField("PostCode", "postcode"),
    XpmField("Country", "country"),
    XpmField("PostalAddress", "postal_address", Read.MULTILINE),
    XpmField("PostalCity", "postal_city"),
    XpmField("PostalRegion", "postal_region"),
    XpmField("PostalPostCode", "postal_postcode"),
    XpmField("PostalCountry", "postal_country"),
    XpmField("IsProspect", "is_prospect", Read.FLAG),
    XpmField("BusinessStructure", "business_structure"),
    XpmField("Type", "client_type", Read.NAME_OF),
    XpmField("AccountManager", "account_manager", Read.NAME_OF),
    XpmField("JobManager", "job_manager", Read.NAME_OF),
    XpmField("CompanyNumber", "company_number"),
    XpmField("BusinessNumber", "business_number"),
    XpmField("ReferralSource", "referral_source"),
)
# Read into the record but not stored as such: they decide the kind and the archived state.
CLIENT_STATE = (
    XpmField("FirstName", "first_name"),
    XpmField("LastName", "last_name"),
    XpmField("IsArchived", "is_archived", Read.FLAG),
    XpmField("IsDeleted", "is_deleted", Read.FLAG),
)
# A contact's elements stored on Contact (first and last name are derived from Name).
CONTACT = (
    XpmField("Name", "name"),
    XpmField("Salutation", "salutation"),
    XpmField("Addressee", "addressee"),
    XpmField("Email", "email"),
    XpmField("Phone", "phone"),
    XpmField("Mobile", "mobile"),
)
# The contact's role at one client, stored on the link (ClientContact), and its deleted flag.
CONTACT_LINK = (
    XpmField("Position", "position"),
    XpmField("IsPrimary", "is_primary", Read.FLAG),
)
CONTACT_STATE = (XpmField("IsDeleted", "is_deleted", Read.FLAG),)

# The model fields a sync writes, in the order the mirror compares them.
CLIENT_FIELDS = [f.name for f in CLIENT] + ["kind"]
CONTACT_FIELDS = [f.name for f in CONTACT] + ["first_name", "last_name"]
