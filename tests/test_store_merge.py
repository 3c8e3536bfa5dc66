"""Tests for candlekit.store.merge: the upsert rule."""

from __future__ import annotations

import numpy as np
import pytest

from candlekit.frame import make_frame
from candlekit.store.merge import WriteStats, merge_tables
from candlekit.store.parquet import frame_to_table, table_to_frame

MINUTE = 60_000
T0 = 1_735_689_600_000  # 2025-01-01


def table(idx, price, closed=True):
    """A 1m table at minutes ``idx`` with every price equal to ``price``."""
    idx = np.asarray(idx)
    p = np.full(len(idx), float(price))
    df = make_frame(T0 + idx * MINUTE, p, p, p, p, np.ones(len(idx)), closed=closed,
                    interval="1m")
    return frame_to_table(df)


def closes(tbl):
    """Close prices by minute index."""
    df = table_to_frame(tbl, {})
    return dict(zip(((df.index.asi8 - T0) // MINUTE).tolist(), df["close"].tolist()))


@pytest.mark.parametrize("stored_closed,incoming_closed,winner", [
    (False, True, "incoming"),   # closed replaces open
    (True, False, "stored"),     # open never overwrites closed
    (True, True, "incoming"),    # corrections
    (False, False, "incoming"),  # newer open replaces older open
])
def test_upsert_rule(stored_closed, incoming_closed, winner):
    """Which candle survives at a shared open time."""
    merged, stats = merge_tables(table([0, 1], 1.0, stored_closed),
                                 table([1, 2], 2.0, incoming_closed))
    assert closes(merged) == {0: 1.0, 1: 2.0 if winner == "incoming" else 1.0, 2: 2.0}
    assert stats.inserted == 1
    assert (stats.replaced, stats.kept) == ((1, 0) if winner == "incoming" else (0, 1))
    assert stats.files_written == 0


def test_identical_candles_count_as_unchanged_and_return_the_stored_table():
    """Writing the same rows again changes nothing."""
    stored = table(range(5), 3.0)
    merged, stats = merge_tables(stored, table(range(5), 3.0))
    assert merged is stored
    assert stats == WriteStats(unchanged=5)


def test_only_kept_rows_change_nothing():
    """Incoming open candles over stored closed ones leave the stored table as is."""
    stored = table(range(3), 3.0, True)
    merged, stats = merge_tables(stored, table(range(3), 9.0, False))
    assert merged is stored and stats == WriteStats(kept=3)


def test_nulls_compare_equal_and_differences_in_nullable_columns_count():
    """Unknown quote volume equals unknown; known vs unknown is a change."""
    p = np.ones(2)
    a = make_frame(T0 + np.arange(2) * MINUTE, p, p, p, p, p, interval="1m")
    b = make_frame(T0 + np.arange(2) * MINUTE, p, p, p, p, p, quote_volume=[np.nan, 5.0],
                   interval="1m")
    _, stats = merge_tables(frame_to_table(a), frame_to_table(b))
    assert (stats.unchanged, stats.replaced) == (1, 1)


@pytest.mark.parametrize("stored_idx,incoming_idx", [
    ([0, 1, 2], [3, 4]),          # append
    ([3, 4], [0, 1, 2]),          # prepend
    ([0, 2, 4, 6], [1, 3, 5, 7]),  # interleave
    ([0, 1, 2, 3], [2, 3, 4, 5]),  # overlap
    ([], [0, 1]),                 # empty stored
])
def test_merge_is_sorted_and_duplicate_free(stored_idx, incoming_idx):
    """The result holds the union of open times, once each, in order."""
    merged, stats = merge_tables(table(stored_idx, 1.0), table(incoming_idx, 2.0))
    t = table_to_frame(merged, {}).index
    expected = sorted(set(stored_idx) | set(incoming_idx))
    assert ((t.asi8 - T0) // MINUTE).tolist() == expected
    assert t.is_unique and t.is_monotonic_increasing
    assert stats.inserted == len(set(incoming_idx) - set(stored_idx))


def test_no_stored_table_inserts_everything():
    """A first write inserts every incoming row."""
    incoming = table(range(4), 1.0)
    merged, stats = merge_tables(None, incoming)
    assert merged is incoming and stats == WriteStats(inserted=4)


def test_stats_add_up_and_convert_to_dict():
    """WriteStats accumulate with += and export as a dict."""
    s = WriteStats(inserted=1, files_written=1)
    s += WriteStats(inserted=2, replaced=3, unchanged=4, kept=5, files_written=1)
    assert s.as_dict() == {"inserted": 3, "replaced": 3, "unchanged": 4, "kept": 5,
                           "files_written": 2}
