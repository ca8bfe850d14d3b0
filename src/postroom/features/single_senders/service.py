"""Single sender emails: addresses an account may send from once their owner opened a verification link."""

from __future__ import annotations

from postroom.features.system_mail.links import LinkSigner
from postroom.features.system_mail.service import SystemMailer
from postroom.storage.database import Database


class SingleSenderService:
    def __init__(self, db: Database, mailer: SystemMailer, links: LinkSigner) -> None:
        self._db = db
        self._mailer = mailer
        self._links = links
