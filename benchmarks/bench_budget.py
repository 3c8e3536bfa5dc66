"""Budget benchmark: how much of Hyperliquid's weight budget a backfill really uses.

The emulator enforces Hyperliquid's budget (1200 weight per window; a full 5000-candle
page weighs 20 + ceil(5000/60) = 104) in a sliding window shortened from 60 s to
``WINDOW`` seconds so the benchmark takes seconds, not minutes; the client is told the same
window. Over a run of ``D`` seconds a sliding window admits at most
``budget * (D / window + 1)`` weight (a full window at the start, then one per window), so
the best possible candle count is that weight / 104 * 5000. Goal: >= 95% of it, with no
429 answers.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from candlekit.backfill import backfill
from candlekit.emulator import Emulator, candle_weight
from candlekit.emulator.budget import WeightBudget
from candlekit.sources import Hyperliquid
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00Z"
BUDGET = 1200
WINDOW = 2.0
CANDLES = 600_000  # about 10 windows of work
GOAL = 0.95


def main() -> None:
    """Print the fraction of the budget used and the 429 count."""
    end_ms = to_ms(NOW)
    start_ms = end_ms - CANDLES * 60_000
    tmp = Path(tempfile.mkdtemp(prefix="candlekit-bench-budget-"))
    try:
        with Emulator("hyperliquid", now=NOW, window=CANDLES + 10, budget=None) as emu:
            warm = Hyperliquid(emu.url, weight_budget=10**9, weight_window=WINDOW)
            warm.candles("BTC", "1m", start_ms, end_ms, progress=False)  # fill caches
            emu.budget = WeightBudget(BUDGET, window_s=WINDOW)  # enforced from now on
            emu.reset_stats()
            source = Hyperliquid(emu.url, weight_budget=BUDGET, weight_window=WINDOW)
            t0 = time.perf_counter()
            task = backfill("BTC", "1m", start=start_ms, end=end_ms, source=source,
                            store=tmp, progress=False)
            elapsed = time.perf_counter() - t0
            stats = emu.stats
        fetched = int(task.status().candles_fetched)
        page_weight = candle_weight(5000)
        best = BUDGET * (elapsed / WINDOW + 1) / page_weight * 5000
        frac = fetched / best
        verdict = "MET" if frac >= GOAL and stats.rate_limited == 0 else "MISSED"
        print(f"budget {BUDGET}/{WINDOW:g}s: {fetched:,} candles in {elapsed:.1f} s = "
              f"{frac:.1%} of what the budget allows ({best:,.0f}); 429 answers: "
              f"{stats.rate_limited}; requests {stats.requests} (goal >= {GOAL:.0%}, "
              f"no 429: {verdict}); at 60 s windows that is "
              f"{frac * BUDGET / page_weight * 5000:,.0f} candles/min")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
