"""Grant names, the subset rule and wildcard expansion, against the real registry's catalog."""

from __future__ import annotations

import pytest

from postroom.api.registry import PLANNED, Registry
from postroom.features.api_keys import routes as key_routes
from postroom.features.api_keys.permissions import Catalog, covers, expand, grant_problem
from postroom.features.email import routes as email_routes
from postroom.features.smtp_users import routes as smtp_user_routes


@pytest.fixture
def catalog() -> Catalog:
    registry = Registry()
    for routes in (email_routes, key_routes, smtp_user_routes):
        routes.register(registry)
    return registry.catalog()


def test_catalog_holds_served_and_planned_canonical_paths(catalog: Catalog) -> None:
    assert "/email/send" in catalog.served and "/api_keys/add" in catalog.served
    assert "/archive/search" in catalog.paths and "/archive/search" not in catalog.served
    assert set(PLANNED) <= catalog.paths
    assert catalog.aliases["/api_keys/patch"] == "/api_keys/edit"
    assert catalog.aliases["/smtp/add"] == "/users/smtp/add"
    assert catalog.aliases["/sms/received"] == "/sms/view-received"  # a planned alias
    assert not set(catalog.aliases) & catalog.paths


@pytest.mark.parametrize("grant", ["*", "/email/send", "/email/*", "/api_keys/*", "/sms/send", "/*/view"])
def test_valid_grants(catalog: Catalog, grant: str) -> None:
    assert grant_problem(grant, catalog) is None


@pytest.mark.parametrize(
    ("grant", "words"),
    [
        ("/api_keys/patch", "alias"),
        ("/smtp/add", "alias"),
        ("/nothing/here", "names no endpoint"),
        ("/email/send/", "names no endpoint"),
        ("/Email/Send", "not an endpoint path"),
        ("/email/send?x=1", "not an endpoint path"),
        ("api", "not an endpoint path"),
    ],
)
def test_invalid_grants(catalog: Catalog, grant: str, words: str) -> None:
    problem = grant_problem(grant, catalog)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    ("held", "grant", "allowed"),
    [
        (("*",), "*", True),
        (("*",), "/email/*", True),
        (("/email/*",), "/email/send", True),
        (("/email/*",), "/email/*", True),
        (("/email/*",), "/email/scheduled/*", True),
        (("/email/*",), "*", False),
        (("/email/*",), "/api_keys/add", False),
        (("/email/send",), "/email/send", True),
        (("/email/send",), "/email/mime", False),
        (("/email/send",), "/email/*", False),
        # every /email/ path held one by one is still not the wildcard: it would cover future paths
        (
            (
                "/email/send",
                "/email/mime",
                "/email/batch",
                "/email/search",
                "/email/scheduled/search",
                "/email/scheduled/remove",
            ),
            "/email/*",
            False,
        ),
        (("/email/*", "/api_keys/*"), "/*/view", False),  # matches /users/smtp/view etc.
        (("*",), "/*/view", True),
        (("/email*",), "/email/*", True),
        (("/em*",), "/email/*", True),
        (("/email/*",), "/em*", False),
    ],
)
def test_subset_rule(catalog: Catalog, held: tuple[str, ...], grant: str, allowed: bool) -> None:
    assert covers(held, grant, catalog.paths) is allowed


def test_expand_lists_the_served_paths_a_key_may_call(catalog: Catalog) -> None:
    assert expand(("/email/send",), catalog.served) == ["/email/send"]
    email = expand(("/email/*",), catalog.served)
    assert email == sorted(p for p in catalog.served if p.startswith("/email/")) and len(email) > 3
    assert expand(("*",), catalog.served) == sorted(catalog.served)
    assert expand(("/archive/search",), catalog.served) == []
