"""The /v3 endpoint table: canonical SMTP2GO paths, the seed's aliases, and what each one takes.

Permissions name canonical paths; an alias is allowed exactly when its canonical path is.
"""

from __future__ import annotations

from postroom.features.api_keys.permissions import Catalog
from postroom.features.endpoints import Endpoint, Handler

# Canonical paths of areas that later issues build; they answer 404 with the envelope until then.
PLANNED = {
    "/sms/send": (),
    "/sms/view-received": ("/sms/received",),
    "/sms/view-sent": ("/sms/sent",),
    "/sms/summary": (),
    "/archive/search": (),
    "/archive/email": ("/archive/view",),
}


class Registry:
    """Resolves a request path (canonical or alias) to its endpoint."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self._lookup: dict[str, Endpoint] = {}
        self._catalog: Catalog | None = None

    def add(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.path] = endpoint
        for path in (endpoint.path, *endpoint.aliases):
            self._lookup[path] = endpoint
        self._catalog = None

    def resolve(self, path: str) -> Endpoint | None:
        return self._lookup.get(path.rstrip("/") or "/")

    def catalog(self) -> Catalog:
        """What a key's `endpoints` may name: every canonical path, served or planned; aliases are not.

        Built once per table (again after an `add`): every /v3 call carries it."""
        if self._catalog is not None:
            return self._catalog
        aliases = {a: e.path for e in self.endpoints.values() for a in e.aliases}
        aliases.update({a: path for path, planned in PLANNED.items() for a in planned})
        served = frozenset(self.endpoints)
        self._catalog = Catalog(paths=served | frozenset(PLANNED), served=served, aliases=aliases)
        return self._catalog

    @staticmethod
    def planned(path: str) -> bool:
        path = path.rstrip("/")
        return path in PLANNED or any(path in aliases for aliases in PLANNED.values())


__all__ = ["PLANNED", "Endpoint", "Handler", "Registry"]
