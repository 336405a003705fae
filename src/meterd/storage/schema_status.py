"""Whether a shared (PostgreSQL) state store still needs ``meterd migrate``.

The embedded SQLite store migrates itself on open: one process owns it.
A PostgreSQL database is shared by many processes, some of them older or
newer releases, so schema changes there are an explicit operator step and
servers refuse to start until it has been taken.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from meterd.core.errors import UnavailableError
from meterd.storage.sql.engine import alembic_config, create_state_engine


def require_migrated_state(url: str) -> None:
    """Raise UnavailableError naming ``meterd migrate`` unless the schema is at every head."""
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    engine = create_state_engine(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:
        raise UnavailableError(f"cannot reach the PostgreSQL state store: {exc}") from exc
    finally:
        engine.dispose()
    if current - known:
        raise UnavailableError(
            "the PostgreSQL state store was migrated by a newer meterd "
            f"(revisions {', '.join(sorted(current - known))}); upgrade this installation"
        )
    if heads - current:
        state = "empty" if not current else "behind this release"
        raise UnavailableError(
            f"the PostgreSQL state store is {state} ({len(heads - current)} migration "
            "branch(es) pending); run `meterd migrate` first"
        )
