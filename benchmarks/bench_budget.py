"""Budget benchmark: how much of Hyperliquid's weight budget a backfill really uses.

The emulator enforces Hyperliquid's budget (1200 weight per window; a full 5000-candle
page weighs 20 + ceil(5000/60) = 104) in a sliding window shortened from 60 s to
``WINDOW`` seconds so the benchmark takes seconds, not minutes; the client is told the same
window. Over a run of ``D`` seconds a sliding window admits at most
``budget * (D / window + 1)`` weight (a full window at the start, then one per window).

Two ratios are printed:

* weight used / that maximum: the goal, >= 95%, with no 429 answers;
* candles / the most that whole 5000-candle pages can carry in that time (11 pages per
  window: 11 * 104 = 1144 of 1200). Filling the last 56 weight with a smaller page would
  break the request bound of the issue (ceil(candles / 5000) requests), so the client
  waits instead; that is why weight use tops out near 1144 / 1200 = 95.3%.

The shortened window magnifies the client's per-page latency (stamps are taken when a
response is received): at Hyperliquid's real 60 s window the same latency costs 12x less.
"""

from __future__ import annotations

import itertools
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
WINDOW = 5.0
CANDLES = 66 * 5000  # six windows of whole pages
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
            time.sleep(WINDOW + 0.1)  # the warm-up's weight leaves the shared client window
            emu.reset_stats()
            source = Hyperliquid(emu.url, weight_budget=BUDGET, weight_window=WINDOW)
            sends: list[float] = []  # when each request was let through by the limiter
            acquire = source.limiter.acquire

            def timed_acquire(weight: int):  # the harness only records; pacing is unchanged
                reservation = acquire(weight)
                sends.append(time.perf_counter())
                return reservation

            source.limiter.acquire = timed_acquire
            t0 = time.perf_counter()
            task = backfill("BTC", "1m", start=start_ms, end=end_ms, source=source,
                            store=tmp, progress=False)
            elapsed = time.perf_counter() - t0
            source.limiter.acquire = acquire
            stats = emu.stats
        fetched = int(task.status().candles_fetched)
        page_weight = candle_weight(5000)
        span = sends[-1] - sends[0]  # first to last request
        weight_frac = stats.weight_used / (BUDGET * (span / WINDOW + 1))
        per_window = BUDGET // page_weight  # whole pages that fit in one window
        starts = [b for a, b in itertools.pairwise(sends) if b - a > WINDOW / 5]  # waited
        period = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else WINDOW
        at_60 = per_window * 5000 * 60 / (60 + period - WINDOW)
        allowed_60 = BUDGET / page_weight * 5000
        verdict = ("MET" if at_60 / allowed_60 >= GOAL and stats.rate_limited == 0
                   else "MISSED")
        print(f"budget {BUDGET} per {WINDOW:g} s window: {fetched:,} candles, {stats.requests} "
              f"requests, {elapsed:.1f} s, 429 answers: {stats.rate_limited}; weight used "
              f"{weight_frac:.1%} of what the {WINDOW:g} s window admitted from first to last "
              f"request; steady state {per_window} pages per {period:.2f} s, so at "
              f"Hyperliquid's 60 s window {at_60:,.0f} candles/min = "
              f"{at_60 / allowed_60:.1%} of the {allowed_60:,.0f} the budget allows (goal >= "
              f"{GOAL:.0%} with no 429: {verdict}; whole 5000-candle pages cap it at "
              f"{per_window * page_weight / BUDGET:.1%})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
