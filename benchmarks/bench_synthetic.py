"""The synthetic market: a year of 1m candles and a year of 1s candles.

Baseline: the plainest vectorised generator of the same number of candles (a Gaussian
random walk of closes, open = previous close, high/low from an absolute shock, constant
volume), i.e. the cost of numpy alone. Goal (brief): a year at 1s in well under 20 s, a
year at 1m in about 1 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _timing import best_of, ratio_line

from candlekit import synthetic
from candlekit.synthetic import synthetic_candles


def random_walk_frame(start: str, end: str, step_ms: int) -> pd.DataFrame:
    """The naive baseline: a seeded Gaussian random walk with the canonical columns."""
    t = np.arange(pd.Timestamp(start).value // 10**6, pd.Timestamp(end).value // 10**6,
                  step_ms, dtype=np.int64)
    rng = np.random.default_rng(0)
    close = 60_000.0 * np.exp(np.cumsum(rng.standard_normal(len(t)) * 1e-4))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    wick = np.abs(rng.standard_normal(len(t))) * 3.0
    return pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) + wick,
        "low": np.minimum(open_, close) - wick, "close": close,
        "volume": np.ones(len(t)), "quote_volume": pd.array(close, dtype="Float64"),
        "trades": pd.array(np.ones(len(t), dtype=np.int64), dtype="Int64"),
        "closed": np.ones(len(t), dtype=bool),
    }, index=pd.DatetimeIndex(t.view("datetime64[ms]"), name="time").tz_localize("UTC"))


def _fresh(fn):
    """Time generation, not the day cache."""
    def run():
        synthetic._day_candles.cache_clear()
        return fn()
    return run


def main() -> None:
    start, end = "2025-01-01", "2026-01-01"
    minutes = _fresh(lambda: synthetic_candles("BTC", "1m", start, end))
    ours = best_of(minutes, repeat=3)
    naive = best_of(lambda: random_walk_frame(start, end, 60_000), repeat=3)
    print("    " + ratio_line("synthetic 1 year of 1m (525,600 rows)", ours,
                              {"numpy random walk": naive}, {}))
    hourly = _fresh(lambda: synthetic_candles("BTC", "1h", start, end))
    print("    " + ratio_line("synthetic 1 year of 1h from the 1m base", best_of(hourly, repeat=3),
                              {"numpy random walk of 1m": naive}, {}))
    seconds = _fresh(lambda: synthetic_candles("BTC", "1s", start, end, base="1s"))
    ours = best_of(seconds, repeat=1, warmup=0)
    naive = best_of(lambda: random_walk_frame(start, end, 1_000), repeat=1, warmup=0)
    print("    " + ratio_line("synthetic 1 year of 1s (31,536,000 rows)", ours,
                              {"numpy random walk": naive}, {}))
