"""The call model on hand-computed cases: score, direction against the dead band, p_up."""

from __future__ import annotations

import numpy as np
import pytest

from candlekit.analysis import call


def test_score_terms_clip_and_average():
    close, ema50, hist, rsi, atr = (np.array([x]) for x in (110.0, 100.0, 1.0, 60.0, 5.0))
    s = call.call_score(close, ema50, hist, rsi, atr)
    assert s[0] == pytest.approx((1.0 + 0.4 + 0.5) / 3)   # trend clipped at 1
    assert np.isnan(call.call_score(close, np.array([np.nan]), hist, rsi, atr)[0])
    flat_market = call.call_score(close, ema50, hist, np.array([50.0]), np.array([0.0]))
    assert flat_market[0] == 0.0


def test_direction_is_the_score_as_a_move_against_the_dead_band():
    score = np.array([0.6333, 0.30, -0.34, -0.2, np.nan, 0.9])
    atr = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 0.0])
    move = call.expected_move(score, atr, 4)
    band = call.dead_band(atr, 4)
    assert move[0] == pytest.approx(0.75 * 0.6333 * 5 * 2)
    assert band[0] == pytest.approx(0.25 * 5 * 2)
    assert list(call.direction_code(move, band)) == [1, 0, -1, 0, 0, 0]
    assert call.SCORE_THRESHOLD == pytest.approx(1 / 3)


def test_p_up_counts_only_resolved_calls_and_shrinks_to_the_base_rate():
    code = np.array([1, 1, 0, 1])
    close = np.array([1.0, 2.0, 1.0, 3.0])
    target = call.target_index(np.array([10, 11, 12, 13]), 1)
    assert list(target) == [1, 2, 3, -1]
    p = call.p_up_series(code, np.ones(4, dtype=bool), close, target)
    assert p[0] == pytest.approx(0.5)                       # nothing resolved yet
    assert p[1] == pytest.approx((1 + 20 * 2 / 3) / 21)     # one up call, it went up
    assert p[2] == pytest.approx(0.5)                       # flat: no flat call resolved
    assert p[3] == pytest.approx((1 + 20 * 0.6) / 22)       # up calls 1 of 2; base 3/5
    # a gap: the target bucket is missing, so that call never resolves
    assert list(call.target_index(np.array([10, 11, 13]), 1)) == [1, -1, -1]
