"""The analyst: one analysis of 5,000 candles, and the track record of two years of 1h.

- ``analyze`` on 5,000 synthetic 1h candles, best of several runs after a warm-up.
  Goal: at most 50 ms.
- ``track_record`` of two years of 1h candles (17,544 candles, about 17,500 calls).
  Goal: at most 5 s. Baseline: the naive loop that calls ``analyze(df, as_of=t)`` at every
  step. Running it in full would take minutes, so it is timed on an evenly spaced sample
  of steps (the cost of one call grows with the history before it, so an even sample
  averages over that) and extrapolated to every step; the printout says so.
- The indicators of one analysis (EMA 20/50/200, RSI, MACD, ATR, ADX) against TA-Lib's C
  functions on the same 5,000 closes, for scale.
"""

from __future__ import annotations

import time

import numpy as np
from _timing import best_of, ratio_line

import candlekit as ck
from candlekit.analysis import indicators as ind

ANALYZE_GOAL_S = 0.050
TRACK_GOAL_S = 5.0
NAIVE_SAMPLE = 60


def _verdict(secs: float, goal: float) -> str:
    return f"goal <={goal:g} s {'MET' if secs <= goal else 'MISSED'}"


def main() -> None:
    two_years = ck.synthetic_candles("BTC", "1h", "2024-01-01", "2026-01-01")
    five_k = two_years.iloc[-5000:]
    five_k.attrs = dict(two_years.attrs)

    one = best_of(lambda: ck.analyze(five_k), repeat=7, warmup=2)
    print(f"analyze, 5,000 1h candles (synthetic): {one * 1000:.1f} ms "
          f"({_verdict(one, ANALYZE_GOAL_S)})")

    tr = ck.track_record(two_years)
    n_calls = len(tr.calls)
    ours = best_of(lambda: ck.track_record(two_years), repeat=3, warmup=0)

    steps = np.linspace(0, n_calls - 1, NAIVE_SAMPLE).round().astype(int)
    as_ofs = tr.calls["as_of"].to_numpy()[steps]
    ck.analyze(two_years, as_of=as_ofs[0])  # warm-up
    started = time.perf_counter()
    for t in as_ofs:
        ck.analyze(two_years, as_of=t)
    per_call = (time.perf_counter() - started) / len(as_ofs)
    naive = per_call * n_calls
    print(f"track_record, {len(two_years):,} 1h candles, {n_calls:,} calls: {ours:.3f} s "
          f"({_verdict(ours, TRACK_GOAL_S)}); naive loop of analyze() at every step: "
          f"{naive:.0f} s EXTRAPOLATED from {len(as_ofs)} evenly spaced steps "
          f"({per_call * 1000:.1f} ms each), {naive / ours:.0f}x slower")

    try:
        import talib
    except ImportError:
        print("    indicators vs TA-Lib: skipped, ta-lib is not installed "
              "(pip install 'candlekit[bench]')")
        return

    c = five_k["close"].to_numpy()
    h, lo = five_k["high"].to_numpy(), five_k["low"].to_numpy()

    def ours_ind():
        ind.ema(c, 20), ind.ema(c, 50), ind.ema(c, 200), ind.rsi(c), ind.macd(c)
        ind.atr(h, lo, c), ind.adx(h, lo, c)

    def talib_ind():
        talib.EMA(c, 20), talib.EMA(c, 50), talib.EMA(c, 200), talib.RSI(c, 14)
        talib.MACD(c, 12, 26, 9), talib.ATR(h, lo, c, 14), talib.ADX(h, lo, c, 14)

    print("    " + ratio_line("indicators of one analysis, 5,000 candles",
                              best_of(ours_ind, repeat=20),
                              {"TA-Lib C": best_of(talib_ind, repeat=20)}, {}))


if __name__ == "__main__":
    main()
