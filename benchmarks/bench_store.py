"""Store benchmark: a year of 1s candles (31.5M rows).

Measures, in one run and on the same files:

* writing the year into an empty store (rows/s);
* ``Store.read`` of one week of 1s candles vs a plain hive-partitioned pyarrow dataset
  read of the same week (``pyarrow.dataset`` + filter + ``to_table().to_pandas()``);
  target: at most 1.5x the pyarrow time;
* ``Store.coverage()`` (footers only).

The store lives in a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from candlekit.frame import make_frame
from candlekit.store import Store

START, END = "2025-01-01", "2026-01-01"
WEEK = ("2025-06-02", "2025-06-09")
REPEATS = 7


def year_of_1s() -> tuple[pd.DataFrame, str]:
    """The benchmark frame, from candlekit.synthetic when it exists."""
    try:
        from candlekit.synthetic import synthetic_candles
    except ImportError:
        return random_1s(START, END), "seeded random walk (candlekit.synthetic unavailable)"
    df = synthetic_candles("BTC", "1s", START, END, base="1s")
    df.attrs["source"] = "bench"
    return df, "candlekit.synthetic.synthetic_candles"


def random_1s(start: str, end: str, *, seed: int = 0) -> pd.DataFrame:
    """A seeded random-walk canonical 1s frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(pd.Timestamp(start).value // 10**6, pd.Timestamp(end).value // 10**6, 1000,
                  dtype=np.int64)
    n = len(t)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 2e-4, n)))
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1]
    spread = np.abs(rng.normal(0, 3e-4, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.exponential(0.5, n)
    return make_frame(t, open_, high, low, close, volume, quote_volume=volume * close,
                      trades=rng.poisson(4, n), symbol="BTC", interval="1s", source="bench")


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    """Fastest wall time of ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    """Print one line per measurement."""
    df, origin = year_of_1s()
    print(f"store: {len(df):,} 1s candles from {origin}")
    tmp = Path(tempfile.mkdtemp(prefix="candlekit-bench-store-"))
    try:
        store = Store(tmp)
        t0 = time.perf_counter()
        stats = store.write(df)
        t_write = time.perf_counter() - t0
        print(f"store write year of 1s: {t_write:.2f} s, {len(df) / t_write:,.0f} rows/s "
              f"({stats.files_written} files)")
        del df

        sdir = store.series_path("BTC", "1s", source="bench")
        lo, hi = (pd.Timestamp(x, tz="UTC") for x in WEEK)

        def baseline() -> pd.DataFrame:
            dataset = ds.dataset(sdir, partitioning="hive")
            flt = (ds.field("time") >= lo) & (ds.field("time") < hi)
            return dataset.to_table(filter=flt).to_pandas()

        def ours() -> pd.DataFrame:
            return store.read("BTC", "1s", *WEEK, source="bench")

        t_base, base = best_of(baseline)
        t_ours, got = best_of(ours)
        if len(base) != len(got):
            raise RuntimeError(f"row counts differ: pyarrow {len(base)}, store {len(got)}")
        print(f"store read 1 week of 1s ({len(got):,} rows): {t_ours:.4f} s; pyarrow dataset "
              f"{t_base:.4f} s; ratio {t_ours / t_base:.2f}x (target <= 1.5x)")

        t_cov, cov = best_of(store.coverage)
        print(f"store coverage(): {t_cov * 1000:.1f} ms for {int(cov['files'].sum())} files, "
              f"{int(cov['total_candles'].sum()):,} candles")

        t_up, _ = best_of(lambda: store.write(store.read("BTC", "1s", *WEEK, source="bench")),
                          repeats=3)
        print(f"store re-write of 1 week into a monthly file (no changes): {t_up:.3f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
