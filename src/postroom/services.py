"""The process's services, built once from settings and shared by every door (HTTP, SMTP, web, CLI).

The composition root below the entry rooms: it builds feature services, storage and the delivery
worker; the /v3 route table is the API room's (api/table.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from postroom.delivery.retry import RetryPolicy
from postroom.delivery.sources import SourceAddresses
from postroom.delivery.transports.base import Transport
from postroom.delivery.transports.capture import CaptureTransport
from postroom.delivery.worker import DeliveryWorker
from postroom.dispatch.schedule import RetrySchedule
from postroom.dispatch.sender import HttpxSender
from postroom.dispatch.worker import Dispatcher
from postroom.features.activity.service import ActivityService
from postroom.features.allowed_lists.service import AllowedListPolicy, AllowedListService
from postroom.features.api_keys.service import KeyAuthenticator
from postroom.features.domains.sender_policy import VerifiedSenderPolicy
from postroom.features.domains.service import DkimKeyring, DomainService, build_domain_service
from postroom.features.email.policy import Policies
from postroom.features.email.service import EmailService
from postroom.features.feedback.service import FeedbackService
from postroom.features.ip_access.service import IpAccessService
from postroom.features.messages.service import MessageService
from postroom.features.single_senders.service import SingleSenderService
from postroom.features.smtp_users.service import SmtpUserService
from postroom.features.stats.service import StatsService
from postroom.features.subaccounts.service import SubaccountService
from postroom.features.system_mail.links import LinkSigner
from postroom.features.system_mail.service import SystemMailer
from postroom.features.templates.service import TemplateService
from postroom.features.webhooks.service import WebhookService
from postroom.settings import Settings
from postroom.storage.database import Database
from postroom.storage.shared_windows import RedisWindows
from postroom.storage.state import shared_secret

INSTALLATION_STATE = "installation_id"  # names this installation's keys in shared stores (Redis)


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: KeyAuthenticator
    email: EmailService
    activity: ActivityService
    messages: MessageService
    smtp_users: SmtpUserService
    ip_access: IpAccessService
    feedback: FeedbackService
    allowed_lists: AllowedListService
    domains: DomainService
    subaccounts: SubaccountService
    links: LinkSigner
    system_mail: SystemMailer
    single_senders: SingleSenderService
    worker: DeliveryWorker
    webhooks: WebhookService
    stats: StatsService
    dispatcher: Dispatcher
    templates: TemplateService


def build_services(settings: Settings, db: Database) -> Services:
    keyring = DkimKeyring(db)  # shared: a domain added through the API signs at once
    worker = build_worker(settings, db, keyring)
    lists = AllowedListService(db)
    pool_ids = frozenset(pool.id for pool in settings.pools)  # what `ip_pool` settings may name
    keys = KeyAuthenticator(db, pool_ids)
    if settings.redis_url:
        keys.limits.windows = shared_windows(settings.redis_url, db)
    templates = TemplateService(db)
    email = build_email(settings, db, lists, worker, templates)
    links = LinkSigner(db)
    system_mail = SystemMailer(settings, email)
    subaccounts = SubaccountService(
        db, on_change=keys.forget, mailer=system_mail, links=links, pool_ids=pool_ids
    )
    return Services(
        settings=settings,
        db=db,
        keys=keys,
        email=email,
        activity=ActivityService(db),
        messages=MessageService(db, reveal_system_mail=settings.delivery_mode == "capture"),
        smtp_users=SmtpUserService(db, pool_ids),
        ip_access=IpAccessService(db, pool_ids),
        feedback=FeedbackService(db, settings.effective_return_path_domain),
        allowed_lists=lists,
        domains=build_domain_service(settings, db, keyring),
        subaccounts=subaccounts,
        links=links,
        system_mail=system_mail,
        single_senders=SingleSenderService(db, system_mail, links),
        worker=worker,
        webhooks=WebhookService(
            db,
            settings.webhook_private_allowed,
            settings.max_webhooks,
            sender=HttpxSender(settings.webhook_private_allowed, timeout=float(settings.webhook_timeout)),
        ),
        dispatcher=build_dispatcher(settings, db),
        stats=StatsService(db, subaccounts),
        templates=templates,
    )


def build_dispatcher(settings: Settings, db: Database) -> Dispatcher:
    """The webhook dispatcher: posts the outbox with the SSRF policy of the settings."""
    sender = HttpxSender(settings.webhook_private_allowed, timeout=float(settings.webhook_timeout))
    schedule = RetrySchedule.parse(settings.webhook_retry_schedule)
    return Dispatcher(db, sender, schedule, lease=timedelta(seconds=settings.lease_seconds))


def shared_windows(url: str, db: Database) -> RedisWindows:
    """Rate-limit windows in Redis, named for this installation (every process sharing the database)."""
    namespace = db.write_sync(lambda conn: shared_secret(conn, INSTALLATION_STATE)).hex()[:16]
    return RedisWindows(url, namespace)


def build_policies(settings: Settings, db: Database, lists: AllowedListService) -> Policies:
    """Every feature's send policy, asked in this order on the API and SMTP paths."""
    policies = Policies([AllowedListPolicy(lists)])
    if settings.verified_sender_required:
        policies.add(VerifiedSenderPolicy(db, lists))
    return policies


def build_email(
    settings: Settings,
    db: Database,
    lists: AllowedListService,
    worker: DeliveryWorker,
    templates: TemplateService | None = None,
) -> EmailService:
    """The send path with its policies; with the verified-sender rule off, it warns where it would refuse."""
    email = EmailService(
        db,
        settings.max_email_body,
        on_accepted=worker.wake,
        policy=build_policies(settings, db, lists),
        templates=templates or TemplateService(db),
    )
    if not settings.verified_sender_required:
        email.advisor = VerifiedSenderPolicy(db, lists)
    return email


def build_transport(settings: Settings) -> Transport:
    """The transport of the configured delivery mode (simulator recipients are answered in any mode)."""
    if settings.delivery_mode == "capture":
        return CaptureTransport()
    from postroom.delivery.transports.factory import build_transport as build_network_transport

    return build_network_transport(settings)


def build_worker(settings: Settings, db: Database, keyring: DkimKeyring | None = None) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        build_transport(settings),
        policy=RetryPolicy.from_settings(settings),
        return_path_domain=settings.effective_return_path_domain,
        signer=keyring or DkimKeyring(db),
        lease=timedelta(seconds=settings.lease_seconds),
        sources=SourceAddresses(settings.pools),
    )
