"""kill -9 rounds during sustained batched ingest, as many as asked, on a chosen state store.

    python bench/crash_rounds.py --rounds 100
    python bench/crash_rounds.py --rounds 20 --database-url postgresql+psycopg://...

The database is wiped first. Prints rounds survived, events sent, acknowledged,
lost, duplicated and torn batches; exits 1 unless the last three are 0. The
suite runs 20 rounds on both stores (tests/reliability/test_crash.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.notifications.conftest import wipe_postgres
from tests.reliability.crash import make_meter, run_rounds, verify
from tests.support.server import Server, meterd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--min-acks", type=int, default=5, help="acknowledged batches per round")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    env = {}
    if args.database_url:
        wipe_postgres(args.database_url)
        env["METERD_DATABASE_URL"] = args.database_url
    with tempfile.TemporaryDirectory(prefix="meterd-crash-") as tmp:
        server = Server(Path(tmp) / "data", extra_env=env)
        if env:
            meterd("migrate", "--data-dir", str(server.data_dir), env=server.env())
        key = server.create_key()
        server.start()
        with server.client(key) as c:
            make_meter(c)
        server.kill()
        ledger = run_rounds(server, key, args.rounds, args.writers, args.min_acks)
        v = verify(server, key, ledger)
        server.stop()
    print(
        f"rounds {v.rounds}, events sent {v.sent}, acknowledged {v.acked_events}, "
        f"replayed batches {v.replays}, lost {v.lost}, duplicated {v.duplicated}, "
        f"torn batches {v.torn}"
    )
    raise SystemExit(0 if (v.lost, v.duplicated, v.torn) == (0, 0, 0) else 1)


if __name__ == "__main__":
    main()
