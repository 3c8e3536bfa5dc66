"""Ingest benchmark: backfill from the emulator with no rate limit (HTTP, parse, validate, store).

Measures candles per second of :func:`candlekit.backfill` (one task, 1m candles of three
coins, 600k candles in all) against a local emulator whose budget is off, after a warm-up
run that fills the emulator's caches (so the emulator's own generation is not timed; its
serving is, since it is part of every real run too). Goal: >= 200k candles/s.

Baseline: the same download written the way a notebook usually does it, with the official
``hyperliquid-python-sdk`` (``Info.candles_snapshot`` paged by hand, ``pd.DataFrame``,
``to_parquet``), when the SDK is installed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from candlekit.backfill import backfill
from candlekit.emulator import Emulator
from candlekit.sources import Hyperliquid
from candlekit.store import Store
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00Z"
COINS = ("BTC", "ETH", "SOL")
PER_COIN = 200_000  # 1m candles per coin (~139 days)
GOAL = 200_000.0


def _run(url: str, root: Path, start_ms: int) -> tuple[float, int]:
    source = Hyperliquid(url, weight_budget=10**9, weight_window=60.0)
    t0 = time.perf_counter()
    task = backfill(list(COINS), "1m", start=start_ms, end=NOW, source=source, store=root,
                    progress=False)
    elapsed = time.perf_counter() - t0
    status = task.status()
    if status.status != "completed":
        raise RuntimeError(f"benchmark backfill did not complete: {status}")
    return elapsed, int(status.candles_fetched)


def _sdk_baseline(url: str, root: Path, start_ms: int, end_ms: int) -> float | None:
    try:
        from hyperliquid.info import Info
    except ImportError:
        return None
    t0 = time.perf_counter()
    info = Info(url, skip_ws=True)
    for coin in COINS:
        rows: list[dict] = []
        cursor = start_ms
        while cursor < end_ms:
            page = info.candles_snapshot(coin, "1m", cursor, end_ms - 1)
            if not page:
                break
            rows.extend(page)
            cursor = page[-1]["t"] + 60_000
            if len(page) < 5000:
                break
        df = pd.DataFrame(rows)
        for col in ("o", "h", "l", "c", "v"):
            df[col] = df[col].astype(float)
        df["t"] = pd.to_datetime(df["t"], unit="ms", utc=True)
        df.drop_duplicates("t").set_index("t").to_parquet(root / f"{coin}.parquet")
    return time.perf_counter() - t0


def main() -> None:
    """Print candles/s of candlekit's ingest and of the SDK baseline."""
    end_ms = to_ms(NOW)
    start_ms = end_ms - PER_COIN * 60_000
    tmp = Path(tempfile.mkdtemp(prefix="candlekit-bench-ingest-"))
    try:
        with Emulator("hyperliquid", now=NOW, window=PER_COIN + 10, budget=None) as emu:
            _run(emu.url, tmp / "warm", start_ms)  # fills the emulator's caches
            best = float("inf")
            candles = 0
            for i in range(3):
                elapsed, candles = _run(emu.url, tmp / f"run{i}", start_ms)
                best = min(best, elapsed)
            stored = sum(len(Store(tmp / "run0").read(c, "1m", source="emulator"))
                         for c in COINS)
            if stored != candles:
                raise RuntimeError(f"stored {stored} candles but fetched {candles}")
            rate = candles / best
            verdict = "MET" if rate >= GOAL else "MISSED"
            line = (f"ingest {candles:,} 1m candles (3 coins) from the emulator: {best:.2f} s, "
                    f"{rate:,.0f} candles/s (goal >= {GOAL:,.0f}/s {verdict})")
            (tmp / "sdk").mkdir()
            sdk = _sdk_baseline(emu.url, tmp / "sdk", start_ms, end_ms)
            if sdk is not None:
                line += (f"; hyperliquid-python-sdk + pandas loop {sdk:.2f} s "
                         f"({candles / sdk:,.0f} candles/s, candlekit {sdk / best:.1f}x)")
            print(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
