"""The bootstrap key after /api_keys/remove took it away: a reset makes a new one instead of a dead one."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import TEST_KEY
from postroom.features.api_keys import repo, service
from postroom.features.api_keys.service import KeyAuthenticator, key_id_of


def test_a_reset_after_the_bootstrap_key_was_removed_makes_a_working_key(db: Any) -> None:
    db.write_sync(lambda c: repo.delete_key(c, key_id_of(TEST_KEY)))
    assert db.write_sync(lambda c: service.bootstrap(c)).shown_key is None  # removed on purpose: left so
    boot = db.write_sync(lambda c: service.bootstrap(c, reset=True))
    assert boot.shown_key is not None and boot.key_id == key_id_of(boot.shown_key)
    assert db.read_sync(lambda c: repo.get_state(c, service.BOOTSTRAP_STATE)) == boot.key_id
    principal = asyncio.run(KeyAuthenticator(db).authenticate(boot.shown_key))
    assert principal.endpoints == ("*",)
    again = db.write_sync(lambda c: service.bootstrap(c, reset=True))  # the usual reset: a new secret
    assert again.key_id == boot.key_id and again.shown_key not in (None, boot.shown_key)
