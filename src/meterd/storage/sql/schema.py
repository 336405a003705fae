"""Every table of the state store, gathered on one ``MetaData``.

Each bounded context defines its tables in its own ``tables_<context>.py`` on
the shared ``metadata`` and is imported here, so migrations and schema checks
always see the whole schema.
"""

from __future__ import annotations

import meterd.storage.sql.billing_credits
import meterd.storage.sql.billing_tables
import meterd.storage.sql.subscriptions_tables
import meterd.storage.sql.tables_catalog
import meterd.storage.sql.tables_compat
import meterd.storage.sql.tables_entitlements
import meterd.storage.sql.tables_idempotency
import meterd.storage.sql.tables_notifications
import meterd.storage.sql.tables_portal  # noqa: F401  (registers its tables)
from meterd.storage.sql.tables import metadata

__all__ = ["metadata"]
