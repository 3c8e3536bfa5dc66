"""Timing helper shared by the benchmarks: best of several runs after a warm-up."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time in seconds of ``repeat`` calls of ``fn`` (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def ratio_line(label: str, ours: float, baselines: dict[str, float], goals: dict[str, float]
               ) -> str:
    """One printable line: our time, each baseline's time, the speed-up and its goal."""
    parts = [f"{label}: candlekit {ours:.4f} s"]
    for name, secs in baselines.items():
        speedup = secs / ours if ours > 0 else float("inf")
        goal = goals.get(name)
        verdict = "" if goal is None else (f" goal >={goal:g}x {'MET' if speedup >= goal else 'MISSED'}")
        parts.append(f"{name} {secs:.4f} s ({speedup:.1f}x{verdict})")
    return "; ".join(parts)
