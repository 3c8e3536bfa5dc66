"""Backfill planning: what to fetch given the store, the clock, retention and outages."""

import numpy as np
import pytest

from candlekit.backfill.plan import (
    count_in_runs,
    merge_ranges,
    plan_series,
    ranges_to_runs,
    runs_to_ranges,
    subtract_runs,
)
from candlekit.frame import make_frame
from candlekit.gaps import find_gaps
from candlekit.intervals import bucket_range
from candlekit.timeutil import to_ms

M = 60_000
T0 = to_ms("2026-10-01")
NOW = to_ms("2026-10-01T10:30:30Z")


def _plan(times, closed=None, **kw):
    t = np.asarray(times, dtype=np.int64)
    c = np.ones(len(t), dtype=bool) if closed is None else np.asarray(closed, dtype=bool)
    args = {"interval": "1m", "alignment": "hyperliquid", "start": T0, "end": None,
            "now": NOW}
    args.update(kw)
    return plan_series(t, c, **args)


def _spans(plan):
    return [((r.start - T0) // M, (r.end - T0) // M) for r in plan.ranges]


def test_empty_store_fetches_everything_up_to_the_open_candle():
    p = _plan([])
    assert _spans(p) == [(0, 631)]  # 00:00 .. 10:30 (the open candle) inclusive
    assert p.ranges[0].tail and p.buckets == p.requested == 631
    assert p.hi == T0 + 631 * M


def test_stored_closed_candles_are_not_fetched_open_ones_are():
    stored = [T0 + i * M for i in (0, 1, 2, 5, 6, 7)]
    p = _plan(stored, [True, True, True, True, True, False], end=T0 + 10 * M)
    assert _spans(p) == [(3, 5), (7, 10)]
    assert p.stored_closed == 5 and p.stored_open == 1 and p.buckets == 5
    assert not p.ranges[-1].tail  # the end is before the clock: a fixed range


def test_everything_stored_and_closed_plans_nothing():
    stored = [T0 + i * M for i in range(10)]
    p = _plan(stored, end=T0 + 10 * M)
    assert p.empty and p.buckets == 0 and p.stored_closed == 10


def test_end_after_the_clock_is_clipped_and_start_after_it_plans_nothing():
    p = _plan([], end=to_ms("2026-12-01"))
    assert _spans(p) == [(0, 631)] and p.ranges[0].tail
    assert _plan([], start=NOW + 3600_000).empty


def test_earliest_available_skips_and_counts_history_the_upstream_lacks():
    p = _plan([], earliest_available=T0 + 100 * M, end=T0 + 200 * M)
    assert _spans(p) == [(100, 200)]
    assert p.unavailable == 100 and p.requested == 200
    # stored candles before it are kept and not counted as unavailable
    p = _plan([T0 + i * M for i in range(40)], earliest_available=T0 + 100 * M,
              end=T0 + 200 * M)
    assert p.unavailable == 60


def test_confirmed_empty_ranges_are_not_requested_again():
    p = _plan([], end=T0 + 100 * M, empty_ranges=[(T0 + 10 * M, T0 + 20 * M),
                                                  (T0 + 15 * M, T0 + 30 * M)])
    assert _spans(p) == [(0, 10), (30, 100)]
    assert p.confirmed_empty == 20


def test_only_gaps_matches_find_gaps_between_first_and_last_stored_candle():
    idx = bucket_range("2026-10-01T01:00Z", "2026-10-01T05:00Z", "1m")
    keep = np.ones(len(idx), dtype=bool)
    keep[[3, 4, 50, 120, 121, 122]] = False
    t = idx.asi8[keep]
    closed = np.ones(len(t), dtype=bool)
    closed[-1] = False
    df = make_frame(t, np.ones(len(t)), np.ones(len(t)), np.ones(len(t)), np.ones(len(t)),
                    np.ones(len(t)), closed=closed, interval="1m", alignment="hyperliquid")
    p = _plan(t, closed, only_gaps=True, end=to_ms("2026-10-01T08:00Z"))
    gaps = find_gaps(df)
    expected = [(int(s.value // 10**6), int(e.value // 10**6))  # both [start, end)
                for s, e in zip(gaps["start"], gaps["end"])]
    expected.append((int(t[-1]), int(t[-1]) + M))  # the stored open candle
    assert [(r.start, r.end) for r in p.ranges] == expected
    assert not any(r.tail for r in p.ranges)
    assert p.buckets == int(gaps["missing_candles"].sum()) + 1


def test_only_gaps_with_nothing_stored_fetches_nothing():
    assert _plan([], only_gaps=True).empty


def test_calendar_months_are_planned_by_ordinal():
    aug = to_ms("2025-08-01")
    p = plan_series(np.array([to_ms("2025-06-01")]), np.array([True]), interval="1M",
                    alignment="calendar", start=to_ms("2025-04-15"), end=aug,
                    now=to_ms("2026-01-01"))
    assert [(r.start, r.end) for r in p.ranges] == [
        (to_ms("2025-04-01"), to_ms("2025-06-01")), (to_ms("2025-07-01"), aug)]
    assert p.lo == to_ms("2025-04-01") and p.buckets == 3


def test_run_arithmetic_agrees_with_sets():
    rng = np.random.default_rng(5)
    for _ in range(200):
        universe = rng.random(80) < 0.5
        other = rng.random(80) < 0.3
        a = _runs_of(universe)
        b = _runs_of(other)
        got = subtract_runs(a, b)
        want = set(np.flatnonzero(universe)) - set(np.flatnonzero(other))
        assert _points(got) == want and count_in_runs(got) == len(want)


def test_ranges_round_trip_and_merge():
    r = ranges_to_runs([(T0 + 30_000, T0 + 5 * M)], "1m", alignment="hyperliquid")
    assert runs_to_ranges(r, "1m", alignment="hyperliquid") == [(T0 + M, T0 + 5 * M)]
    assert merge_ranges([(5, 9), (1, 3), (3, 4), (8, 12), (20, 20)]) == [(1, 4), (5, 12)]


@pytest.mark.parametrize("now_offset", [0, 1])
def test_bucket_holding_the_clock_is_the_last_planned(now_offset):
    now = T0 + 10 * M + now_offset  # exactly at a bucket's open, or just after
    p = _plan([], now=now)
    assert p.ranges[-1].end == T0 + 11 * M


def _runs_of(mask):
    idx = np.flatnonzero(mask)
    if not len(idx):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return starts.astype(np.int64), ends.astype(np.int64)


def _points(r):
    return {int(x) for s, e in zip(*r) for x in range(s, e + 1)}
