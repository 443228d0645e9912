"""Run every ``bench/bench_*.py`` (or those named on the command line) in order."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    # Options (``--quick``) are for the benches themselves, which read them from sys.argv.
    named = [n for n in argv if not n.startswith("-")]
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in named] or names
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"--- {name} took {time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
