"""The /v3 route table, assembled in the API room from what each feature package declares.

Features expose `register(table)` in their routes.py and never import this wiring; the order below
is the order of the OpenAPI document.
"""

from __future__ import annotations

from postroom.api.registry import Registry
from postroom.features.activity import routes as activity_routes
from postroom.features.allowed_lists import routes as allowed_list_routes
from postroom.features.api_keys import routes as api_key_routes
from postroom.features.dedicated_ips import routes as dedicated_ip_routes
from postroom.features.domains import routes as domain_routes
from postroom.features.email import routes as email_routes
from postroom.features.ip_access import routes as ip_access_routes
from postroom.features.single_senders import routes as single_sender_routes
from postroom.features.smtp_users import routes as smtp_user_routes
from postroom.features.stats import routes as stats_routes
from postroom.features.subaccounts import routes as subaccount_routes
from postroom.features.suppressions import routes as suppression_routes
from postroom.features.templates import routes as template_routes
from postroom.features.webhooks import routes as webhook_routes

FEATURES = (
    email_routes,
    api_key_routes,
    domain_routes,
    allowed_list_routes,
    activity_routes,
    smtp_user_routes,
    ip_access_routes,
    subaccount_routes,
    single_sender_routes,
    dedicated_ip_routes,
    webhook_routes,
    stats_routes,
    suppression_routes,
    template_routes,
)


def build_registry() -> Registry:
    """Every feature's endpoints in one registry: what /v3 serves and what keys may name."""
    registry = Registry()
    for feature in FEATURES:
        feature.register(registry)
    return registry
