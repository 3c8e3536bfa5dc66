"""Grading arithmetic on hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from candlekit.analysis.scoring import grade, summarize, wilson_interval
from candlekit.errors import CandleValidationError


def _closes(values, times=None):
    if times is None:
        times = pd.date_range("2026-01-01", periods=len(values), freq="h", tz="UTC")
    idx = pd.DatetimeIndex(times).as_unit("ms")
    s = pd.Series(np.asarray(values, dtype=float), index=idx, name="close")
    s.attrs = {"interval": "1h", "alignment": "calendar"}
    return s


def _calls(rows):
    return pd.DataFrame(rows, columns=["as_of", "direction", "p_up", "horizon",
                                       "reference_close", "dead_band"])


CLOSES = [100.0, 102.0, 99.0, 100.5, 103.0, 100.0]  # 00:00 .. 05:00 open times
CALLS = [
    # as_of (close of reference candle), direction, p_up, horizon, reference, band
    ("2026-01-01T00:59:59.999Z", "up", 0.70, 1, 100.0, 1.0),    # 102: +2 > 1 -> up, hit
    ("2026-01-01T01:59:59.999Z", "down", 0.40, 1, 102.0, 1.0),  # 99: -3 -> down, hit
    ("2026-01-01T02:59:59.999Z", "flat", 0.50, 1, 99.0, 2.0),   # 100.5: +1.5 inside -> flat
    ("2026-01-01T03:59:59.999Z", "up", 0.60, 1, 100.5, 1.0),    # 103: +2.5 -> up, hit
    ("2026-01-01T02:59:59.999Z", "down", 0.30, 2, 99.0, 0.5),   # 103 (04:00): up, miss
    ("2026-01-01T04:59:59.999Z", "up", 0.55, 1, 103.0, 1.0),    # 100: -3 -> down, miss
    ("2026-01-01T05:59:59.999Z", "up", 0.60, 1, 100.0, 1.0),    # 06:00 not yet: pending
    ("2026-01-01T00:59:59.999Z", "flat", 0.50, 1, 100.0, 2.0),  # +2 == band: flat, hit
]


def test_grade_hand_computed():
    g = grade(_calls(CALLS), _closes(CLOSES))
    assert list(g["status"]) == ["graded"] * 6 + ["pending", "graded"]
    assert list(g["outcome"].astype(object).fillna("-")) == [
        "up", "down", "flat", "up", "up", "down", "-", "flat"]
    assert list(g["hit"].astype(object).fillna("-")) == [
        True, True, True, True, False, False, "-", True]
    assert list(g["up"].astype(object).fillna("-")) == [
        True, False, True, True, True, False, "-", True]
    np.testing.assert_allclose(g["target_close"].to_numpy()[[0, 1, 2, 3, 4, 5, 7]],
                               [102, 99, 100.5, 103, 103, 100, 102])
    assert g["realized_return"].iloc[1] == pytest.approx(99 / 102 - 1)
    assert g["realized_return"].iloc[4] == pytest.approx(103 / 99 - 1)
    assert np.isnan(g["realized_return"].iloc[6])
    assert g["gradable_at"].iloc[6] == pd.Timestamp("2026-01-01T06:59:59.999Z")
    assert pd.isna(g["gradable_at"].iloc[0])
    assert g["target_time"].iloc[4] == pd.Timestamp("2026-01-01T04:59:59.999Z")


def test_summary_hand_computed():
    s = summarize(grade(_calls(CALLS), _closes(CLOSES)))
    assert (s["n"], s["hits"], s["pending"], s["missing"]) == (7, 5, 1, 0)
    assert s["hit_rate"] == pytest.approx(5 / 7)
    lo, hi = s["hit_rate_ci95"]
    assert (lo, hi) == pytest.approx((0.35893, 0.91778), abs=1e-5)
    assert s["base_rate_up"] == pytest.approx(5 / 7)
    p = np.array([0.7, 0.4, 0.5, 0.6, 0.3, 0.55, 0.5])
    y = np.array([1, 0, 1, 1, 1, 0, 1])
    assert s["brier"] == pytest.approx(1.7025 / 7)
    assert s["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert s["brier_base"] == pytest.approx(10 / 49)
    assert s["brier_skill"] == pytest.approx(1 - (1.7025 / 7) / (10 / 49))
    signed = [102 / 100 - 1, -(99 / 102 - 1), 103 / 100.5 - 1, -(103 / 99 - 1), 100 / 103 - 1]
    assert s["mean_signed_return"] == pytest.approx(sum(signed) / 5)
    assert (s["share_up"], s["share_down"], s["share_flat"]) == pytest.approx((3 / 7, 2 / 7,
                                                                              2 / 7))
    json.dumps(s)


def test_gap_target_is_missing_not_skipped():
    """A target candle inside a gap is 'missing': never graded against a later candle."""
    times = pd.date_range("2026-01-01", periods=6, freq="h", tz="UTC").delete(2)
    closes = _closes([100, 101, 103, 104, 105], times=times)
    g = grade(_calls([("2026-01-01T01:59:59.999Z", "up", 0.6, 1, 101.0, 0.5)]), closes)
    assert g["status"].iloc[0] == "missing"
    assert pd.isna(g["hit"].iloc[0]) and pd.isna(g["gradable_at"].iloc[0])
    s = summarize(g)
    assert s["n"] == 0 and s["missing"] == 1 and s["hit_rate"] is None


def test_wilson_edges():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(8, 10)
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    lo, hi = wilson_interval(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.8389, abs=1e-4)


def test_all_flat_and_degenerate_base_rate():
    closes = _closes([100, 101, 102, 103])
    g = grade(_calls([("2026-01-01T00:59:59.999Z", "flat", 0.9, 1, 100.0, 5.0),
                      ("2026-01-01T01:59:59.999Z", "flat", 0.9, 1, 101.0, 5.0)]), closes)
    s = summarize(g)
    assert s["hits"] == 2 and s["base_rate_up"] == 1.0
    assert s["brier_base"] == 0.0 and s["brier_skill"] is None  # no variance to beat
    assert s["mean_signed_return"] is None  # no directional call
    assert s["brier"] == pytest.approx(0.01)


def test_bad_input_is_a_clear_error():
    with pytest.raises(CandleValidationError, match="lack columns"):
        grade(pd.DataFrame({"as_of": []}), _closes([1.0]))
    with pytest.raises(CandleValidationError, match="direction"):
        grade(_calls([("2026-01-01T00:59:59.999Z", "sideways", 0.5, 1, 1.0, 0.1)]),
              _closes([1.0, 2.0]))
    bare = _closes([1.0, 2.0])
    bare.attrs = {}
    with pytest.raises(CandleValidationError, match="interval"):
        grade(_calls(CALLS[:1]), bare)
    g = grade(_calls(CALLS[:1]), bare, interval="1h")
    assert g["status"].iloc[0] == "graded"
    with pytest.raises(CandleValidationError, match="grade"):
        summarize(_calls(CALLS))
