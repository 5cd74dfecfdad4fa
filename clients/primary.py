"""The primary-contact rule (DESIGN.md section 3), as one pure function.

Every client with at least one contact has exactly one primary contact:
1. the contact flagged primary in XPM; else
2. the first by salutation, alphabetically and case-insensitively, among those that have one;
3. the first by first name (the first word of the name), alphabetically;
with ties broken by full name, then UUID, so the choice never depends on the order rows arrive in.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    XPM = "xpm"
    SALUTATION = "salutation"
    FIRST_NAME = "first_name"


@dataclass(frozen=True)
class Candidate:
    name: str
    salutation: str = ""
    uuid: str = ""
    is_xpm_primary: bool = False
    first_name: str = ""

    @property
    def effective_first_name(self) -> str:
        return self.first_name.strip() or first_word(self.name)


def first_word(name: str) -> str:
    words = name.split()
    return words[0] if words else ""


def sort_key(text: str) -> tuple[str, str]:
    """Alphabetical order a person expects: accents and case ignored first, then respected.

    "Élodie" sorts beside "Elodie", before "Emma", not after "Zoë" as code points would put it.
    """
    folded = text.strip().casefold()
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch)
    )
    return plain, folded


def choose_primary(candidates: Sequence[Candidate]) -> tuple[int, Reason] | None:
    """The index of the primary contact among ``candidates`` and why; None when there are none."""
    if not candidates:
        return None

    def tie_break(index: int) -> tuple:
        candidate = candidates[index]
        return (*sort_key(candidate.name), candidate.uuid.lower(), index)

    flagged = [i for i, c in enumerate(candidates) if c.is_xpm_primary]
    if flagged:
        return min(flagged, key=tie_break), Reason.XPM

    with_salutation = [i for i, c in enumerate(candidates) if c.salutation.strip()]
    if with_salutation:
        chosen = min(
            with_salutation, key=lambda i: (sort_key(candidates[i].salutation), tie_break(i))
        )
        return chosen, Reason.SALUTATION

    chosen = min(
        range(len(candidates)),
        key=lambda i: (sort_key(candidates[i].effective_first_name), tie_break(i)),
    )
    return chosen, Reason.FIRST_NAME
