"""Swings (known only k candles later), level clustering, RSI divergence, timeframes."""

from __future__ import annotations

import numpy as np
import pytest

from candlekit.analysis.divergence import find_divergence
from candlekit.analysis.levels import cluster_levels, nearest_levels, swings
from candlekit.analysis.timeframes import TimeframeRow, coarser_intervals, table_alignment
from candlekit.intervals import parse_interval


def test_swings_need_k_candles_each_side():
    high = np.array([1, 2, 3, 9, 3, 2, 1, 2, 3, 4, 5, 6], dtype=float)
    low = high - 0.5
    sw = swings(high, low, k=3)
    assert list(sw.high_idx) == [3]           # 9 beats three on each side
    assert list(sw.low_idx) == [6]            # 0.5 at index 6
    # confirmation: the swing at 3 is known only once candle 6 has closed
    assert list(sw.confirmed_by(5).high_idx) == []
    assert list(sw.confirmed_by(6).high_idx) == [3]
    assert list(sw.confirmed_by(8).low_idx) == []
    assert list(sw.confirmed_by(9).low_idx) == [6]


def test_equal_highs_after_do_not_break_a_swing_but_before_do():
    high = np.array([1, 2, 3, 5, 5, 2, 1, 0], dtype=float)
    sw = swings(high, high, k=2)
    assert list(sw.high_idx) == [3]  # 3 >= the equal high after it; 4 is not > 3 before it


def test_swings_of_a_prefix_are_the_confirmed_swings():
    rng = np.random.default_rng(3)
    h = np.cumsum(rng.normal(0, 1, 400)) + 100
    lo = h - rng.uniform(0.1, 1, 400)
    full = swings(h, lo, k=3)
    for end in (50, 200, 399):
        part = swings(h[: end + 1], lo[: end + 1], k=3)
        known = full.confirmed_by(end)
        assert np.array_equal(part.high_idx, known.high_idx)
        assert np.array_equal(part.low_idx, known.low_idx)


def test_cluster_levels_by_tolerance():
    prices = np.array([100.0, 100.4, 100.9, 105.0, 105.2, 110.0])
    idx = np.array([10, 40, 20, 5, 30, 50])
    levels = cluster_levels(prices, idx, tolerance=1.0)
    assert [(lv.touches, lv.last_touch) for lv in levels] == [(3, 40), (2, 30), (1, 50)]
    assert levels[0].price == pytest.approx((100 + 100.4 + 100.9) / 3)
    assert (levels[0].low, levels[0].high) == (100.0, 100.9)
    # 101.2 is 1.2 above the cluster's lowest price: a cluster of its own
    assert len(cluster_levels(np.array([100.0, 100.9, 101.2]), np.arange(3),
                              tolerance=1.0)) == 2
    assert cluster_levels(np.array([]), np.array([], dtype=int), tolerance=1.0) == []


def test_nearest_support_and_resistance():
    # swing highs at 3 (110) and 11 (110.5), swing low at 7 (95)
    high = np.array([100, 101, 102, 110, 103, 102, 101, 100, 104, 105, 106, 110.5, 107, 106,
                     105, 104, 103], dtype=float)
    low = high - 2
    low[7] = 95
    sw = swings(high, low, k=3)
    sup, res, _ = nearest_levels(high, low, 104.0, 2.0, sw=sw, end=16, window=100,
                                      tol_atr=0.5)
    assert res.touches == 2 and res.price == pytest.approx(110.25)
    assert sup.price == 95 and sup.touches == 1 and sup.last_touch == 7
    # at end=13 the high at 11 is not confirmed yet (needs candle 14)
    _, res13, _ = nearest_levels(high, low, 104.0, 2.0, sw=sw, end=13, window=100,
                                 tol_atr=0.5)
    assert res13.touches == 1 and res13.price == 110
    # a window that excludes old swings
    sup_w, _, _ = nearest_levels(high, low, 104.0, 2.0, sw=sw, end=16, window=5, tol_atr=0.5)
    assert sup_w is None


def _series_with_two_lows(second_low: float, rsi_second: float):
    n = 60
    low = np.full(n, 100.0)
    high = low + 1
    low[30], low[45] = 90.0, second_low
    rsi = np.full(n, 50.0)
    rsi[30], rsi[45] = 30.0, rsi_second
    return high, low, rsi


def test_bullish_divergence_reported_with_confirmation_times():
    high, low, rsi = _series_with_two_lows(88.0, 35.0)  # lower low, higher RSI
    sw = swings(high, low, k=3)
    d = find_divergence(high, low, rsi, sw, end=50)
    assert d.kind == "bullish"
    assert (d.first, d.second, d.first_confirmed, d.second_confirmed) == (30, 45, 33, 48)
    assert (d.first_price, d.second_price, d.first_rsi, d.second_rsi) == (90, 88, 30, 35)
    # before the second low is confirmed (candle 48) it cannot be seen
    assert find_divergence(high, low, rsi, sw, end=47) is None
    # no divergence when RSI confirms the lower low
    high, low, rsi = _series_with_two_lows(88.0, 25.0)
    assert find_divergence(high, low, rsi, swings(high, low, k=3), end=50) is None
    # stale: confirmed more than `recent` candles ago
    high, low, rsi = _series_with_two_lows(88.0, 35.0)
    assert find_divergence(high, low, rsi, sw, end=48 + 21) is None


def test_bearish_divergence():
    n = 60
    high = np.full(n, 100.0)
    high[20], high[40] = 110.0, 112.0
    low = high - 1
    rsi = np.full(n, 50.0)
    rsi[20], rsi[40] = 75.0, 65.0
    d = find_divergence(high, low, rsi, swings(high, low, k=3), end=45)
    assert d.kind == "bearish" and d.second_confirmed == 43


def test_coarser_intervals_and_alignment_labels():
    assert coarser_intervals(parse_interval("1h"), "calendar") == ["4h", "1d"]
    assert coarser_intervals(parse_interval("1d"), "calendar") == ["1w", "1M"]
    assert coarser_intervals(parse_interval("1w"), "calendar") == []  # 1w does not tile 1M
    assert coarser_intervals(parse_interval("3m"), "calendar") == ["15m", "1h"]

    def rows(*labels):
        return [TimeframeRow(str(i), lab, 60, 1.0, 1.0, 1.0, 25.0, 0)
                for i, lab in enumerate(labels)]

    assert table_alignment(rows("uptrend", "uptrend", "uptrend")) == "aligned"
    assert table_alignment(rows("uptrend", "downtrend", "sideways")) == "divergent"
    assert table_alignment(rows("uptrend", "sideways", "unknown")) == "mixed"
    assert table_alignment(rows("sideways", "sideways")) == "mixed"
    assert table_alignment(rows("uptrend", "unknown", "unknown")) == "insufficient"


def test_invariants_of_levels_and_divergence_across_as_ofs():
    """At every as_of: levels straddle the close, swings were confirmed by as_of."""
    import pandas as pd

    import candlekit as ck

    df = ck.synthetic_candles("BTC", "4h", "2025-06-01", "2026-01-01")
    seen = set()
    for i in range(80, len(df), 9):
        as_of = ck.close_time(df.index[i], "4h")
        f = ck.analyze(df, as_of=as_of).facts
        assert f["support"] is None or f["support"] < f["close"]
        assert f["resistance"] is None or f["resistance"] > f["close"]
        for side in ("support", "resistance"):
            if f[side] is not None:
                assert f[f"{side}_touches"] >= 1
                assert f[f"{side}_low"] <= f[side] <= f[f"{side}_high"]
                # the latest swing was confirmed (3 candles after it) by as_of
                last = pd.Timestamp(f[f"{side}_last_touch"])
                assert last + pd.Timedelta(hours=4 * 3) <= pd.Timestamp(f["as_of"])
        seen.add(f["divergence"])
        if f["divergence"] != "none":
            first, second = (pd.Timestamp(f[f"divergence_{w}_time"]) for w in ("first",
                                                                               "second"))
            c1, c2 = (pd.Timestamp(f[f"divergence_{w}_confirmed"]) for w in ("first",
                                                                           "second"))
            assert first < second and c1 < c2 <= pd.Timestamp(f["as_of"])
            assert c2 == second + pd.Timedelta(hours=4 * 4) - pd.Timedelta(milliseconds=1)
            if f["divergence"] == "bullish":
                assert f["divergence_second_price"] < f["divergence_first_price"]
                assert f["divergence_second_rsi"] > f["divergence_first_rsi"]
            else:
                assert f["divergence_second_price"] > f["divergence_first_price"]
                assert f["divergence_second_rsi"] < f["divergence_first_rsi"]
    assert {"bullish", "bearish"} & seen  # the scan met at least one divergence
