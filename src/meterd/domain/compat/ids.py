"""Stable 24-hex aliases of local ids.

Some clients (the Vayu SDK) reject any id that is not 24 hexadecimal digits,
MongoDB ObjectId style. Local ids stay ULIDs; each object seen through such
an API gets one alias, minted on first sight and never changed, so the same
object always shows the same id and the alias leads back to it.
"""

from __future__ import annotations

import re
import secrets

from meterd.core.clock import Clock
from meterd.domain.compat.ports import ExternalIdStore

HEX24 = re.compile(r"^[0-9a-f]{24}$")


class ExternalIds:
    def __init__(self, store: ExternalIdStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def alias(self, namespace: str, kind: str, local_id: str) -> str:
        found = self._store.external_id(namespace, kind, local_id)
        if found is not None:
            return found
        now = self._clock.now()
        # ObjectId layout: 4 bytes of seconds, then 8 random bytes; sorts by creation.
        candidate = f"{int(now.timestamp()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"
        return self._store.claim_external_id(namespace, kind, local_id, candidate, now)

    def resolve(self, namespace: str, kind: str, alias: str) -> str | None:
        """The local id behind ``alias``; None when it is no alias of ours."""
        text = alias.lower()
        if not HEX24.match(text):
            return None
        return self._store.local_id(namespace, kind, text)
