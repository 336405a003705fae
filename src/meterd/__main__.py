from __future__ import annotations

from meterd.cli import main

main()
