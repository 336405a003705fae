"""The long Schemathesis run: every documented operation, many examples each.

    python bench/fuzz.py                  # 50 examples per operation
    python bench/fuzz.py --examples 200 --seed 7

The suite runs the same thing with 3 examples (tests/reliability/test_fuzz.py).
Prints operations, cases generated, deliberate 501s and failures; exits 1 on
any failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.conftest import seed
from tests.reliability.fuzz import fuzz
from tests.support.server import Server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="meterd-fuzz-") as tmp:
        server = Server(Path(tmp) / "data")
        key = server.create_key("alpha", "admin")
        server.start()
        try:
            with server.client(key) as c:
                seed(c)
            began = time.monotonic()
            result = fuzz(server, key, Path(tmp), args.examples, args.seed, timeout=7200)
            took = time.monotonic() - began
            alive = server.proc is not None and server.proc.poll() is None
        finally:
            server.stop()
    print(
        f"operations {result.operations}, cases {result.cases}, "
        f"deliberate 501 {result.deliberate}, failures {len(result.failures)}, "
        f"server alive {alive}, {took:.0f} s"
    )
    for f in result.failures:
        print(f, end="\n\n")
    raise SystemExit(1 if result.failures or not alive else 0)


if __name__ == "__main__":
    main()
