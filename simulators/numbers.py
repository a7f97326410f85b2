"""The numbers the simulated operators know cards by: MSISDNs (OneLink, Jasper) and CTCC
access numbers, each bound to one ICCID.

Registration (`PUT /_sim/cards/{iccid}`, `POST /_sim/cards`) binds them; OneLink's `msisdn`,
`msisdns` and CTCC's `access_number` are looked up here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

MSISDN_RE: Final = re.compile(r"[0-9]{11,15}")


def msisdn_problem(msisdn: object) -> str | None:
    """Why `msisdn` is not a number the operator could have issued, or None when it is."""
    if not isinstance(msisdn, str):
        return "must be a string"
    if not MSISDN_RE.fullmatch(msisdn):
        return "must be 11 to 15 digits"
    return None


@dataclass
class Numbers:
    """The index number → ICCID; each card has at most one number, each number one card."""

    owners: dict[str, str] = field(default_factory=dict)

    def owner(self, msisdn: str) -> str | None:
        """The ICCID `msisdn` is bound to, or None."""
        return self.owners.get(msisdn)

    def conflict(self, iccid: str, msisdn: str | None) -> str | None:
        """The other card that already holds `msisdn`, if binding it to `iccid` would steal it."""
        owner = self.owners.get(msisdn) if msisdn is not None else None
        return owner if owner is not None and owner != iccid else None

    def rebind(self, iccid: str, old: str | None, new: str | None) -> None:
        """Move `iccid` from number `old` to number `new` (either may be None)."""
        if old is not None and self.owners.get(old) == iccid:
            del self.owners[old]
        if new is not None:
            self.owners[new] = iccid
