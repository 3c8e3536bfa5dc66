"""Run every benchmark in this directory and print its ratios against the named baselines.

Usage: ``python benchmarks/run.py [name ...]`` (names like ``validate``, ``resample``).
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ORDER = ["validate", "resample", "gaps", "store", "synthetic", "ingest", "budget", "analysis",
         "server", "cluster"]


def _machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (HERE / f"bench_{n}.py").exists()]
    print(f"machine: {_machine()}")
    for name in names:
        module = importlib.import_module(f"bench_{name}")
        started = time.perf_counter()
        print(f"--- {name}")
        module.main()
        print(f"    ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
