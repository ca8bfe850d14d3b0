"""A sender domain as callers see it (never its private key), and the DNS records it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postroom.mail.dkim import dns_record_value, load_private_key, public_b64_of, record_name

DEFAULT_TRACKING = "link"
DEFAULT_RETURNPATH = "em"
NOT_VERIFIED = "not verified yet"


@dataclass(frozen=True)
class Check:
    """The outcome of checking one DNS record: `status` is "" when verified, else says what is wrong."""

    verified: bool
    status: str


UNCHECKED = Check(False, NOT_VERIFIED)


@dataclass(frozen=True)
class Targets:
    """Where a domain's CNAMEs must point: Postroom's return-path domain and its tracking host."""

    return_path: str
    tracking: str


@dataclass(frozen=True)
class DomainRecord:
    """A sender domain with its record names, checks and subaccount access."""

    domain: str
    account_id: str
    dkim_selector: str
    dkim_public_key: str  # base64 SubjectPublicKeyInfo, the p= tag
    return_path_domain: str
    created_at: datetime
    id: int = 0
    tracking_subdomain: str = DEFAULT_TRACKING
    returnpath_subdomain: str = DEFAULT_RETURNPATH
    dkim: Check = UNCHECKED
    rpath: Check = UNCHECKED
    tracking: Check = UNCHECKED
    verified_at: datetime | None = None
    subaccounts: tuple[str, ...] = ()
    future_subaccounts: bool = False

    @property
    def dkim_record_name(self) -> str:
        return record_name(self.dkim_selector, self.domain)

    @property
    def dkim_record_value(self) -> str:
        return dns_record_value(self.dkim_public_key)

    @property
    def rpath_name(self) -> str:
        return f"{self.returnpath_subdomain}.{self.domain}"

    @property
    def tracking_name(self) -> str:
        return f"{self.tracking_subdomain}.{self.domain}"

    @property
    def verified(self) -> bool:
        return self.dkim.verified and self.rpath.verified and self.tracking.verified


def record_of(row: dict[str, Any]) -> DomainRecord:
    """A stored row as a DomainRecord (the public key is derived from the stored private key)."""
    access = row.get("subaccount_access") or {}
    return DomainRecord(
        domain=row["domain"],
        account_id=row["account_id"],
        dkim_selector=row["dkim_selector"],
        dkim_public_key=public_b64_of(load_private_key(row["dkim_private_key"])),
        return_path_domain=row["return_path_domain"],
        created_at=row["created_at"],
        id=row.get("id") or 0,
        tracking_subdomain=row.get("tracking_subdomain") or DEFAULT_TRACKING,
        returnpath_subdomain=row.get("returnpath_subdomain") or DEFAULT_RETURNPATH,
        dkim=Check(bool(row.get("dkim_verified")), row.get("dkim_status") or ""),
        rpath=Check(bool(row.get("rpath_verified")), row.get("rpath_status") or ""),
        tracking=Check(bool(row.get("tracking_verified")), row.get("tracking_status") or ""),
        verified_at=row.get("verified_at"),
        subaccounts=tuple(str(s) for s in access.get("subaccounts", ())),
        future_subaccounts=bool(access.get("future_subaccounts", False)),
    )


def check_columns(dkim: Check, rpath: Check, tracking: Check) -> dict[str, Any]:
    """The columns that hold the three checks."""
    return {
        "dkim_verified": dkim.verified,
        "dkim_status": dkim.status,
        "rpath_verified": rpath.verified,
        "rpath_status": rpath.status,
        "tracking_verified": tracking.verified,
        "tracking_status": tracking.status,
    }
