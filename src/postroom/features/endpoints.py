"""What a feature's routes declare and receive: Endpoint, the Call a handler gets, and the table they join.

Feature packages describe their /v3 endpoints here and the API room (api/table.py) assembles them into
its registry, so a feature's routes.py never imports the wiring that calls it. A handler sees the
services through CallServices, the part of the process's services that routes may use: checked by
mypy against postroom.services.Services where api/v3.py builds the Call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from postroom.bodies import convert
from postroom.features.activity.service import ActivityService
from postroom.features.allowed_lists.service import AllowedListService
from postroom.features.api_keys.permissions import Catalog
from postroom.features.api_keys.service import KeyAuthenticator, Principal
from postroom.features.domains.service import DomainService
from postroom.features.email.service import EmailService
from postroom.features.ip_access.service import IpAccessService
from postroom.features.single_senders.service import SingleSenderService
from postroom.features.smtp_users.service import SmtpUserService
from postroom.features.stats.service import StatsService
from postroom.features.subaccounts.service import SubaccountService
from postroom.features.templates.service import TemplateService
from postroom.features.webhooks.service import WebhookService
from postroom.settings import Settings
from postroom.storage.database import Database

T = TypeVar("T")


class CallServices(Protocol):
    """The services a /v3 handler may call (the process's Services has these and more)."""

    settings: Settings
    db: Database
    keys: KeyAuthenticator
    email: EmailService
    activity: ActivityService
    smtp_users: SmtpUserService
    ip_access: IpAccessService
    allowed_lists: AllowedListService
    domains: DomainService
    subaccounts: SubaccountService
    single_senders: SingleSenderService
    webhooks: WebhookService
    stats: StatsService
    templates: TemplateService


@dataclass(frozen=True)
class Call:
    """What a /v3 handler receives: the caller, the decoded body, the services and the key catalog."""

    services: CallServices
    principal: Principal
    body: dict[str, Any]
    request_id: str
    client_ip: str
    catalog: Catalog  # what a key's `endpoints` may name (the API room's whole table)
    method: str = "POST"

    def parse(self, kind: type[T], synonyms: dict[str, str] | None = None) -> T:
        """The body validated as `kind`; raises InvalidInput naming the first bad field. `synonyms`
        maps a seed field name to SMTP2GO's (`{"template_id": "id"}`), used when SMTP2GO's is absent."""
        body = self.body
        if synonyms:
            body = dict(body)
            for seed, name in synonyms.items():
                if seed in body and body.get(name) in (None, ""):
                    body[name] = body.pop(seed)
        return convert(body, kind)


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    path: str
    handler: Handler
    request: type | None
    response: Any
    summary: str
    methods: tuple[str, ...] = ("POST",)
    aliases: tuple[str, ...] = field(default=())


class Table(Protocol):
    """Where a feature's `register` puts its endpoints (the API room's Registry)."""

    def add(self, endpoint: Endpoint) -> None: ...
