"""coverage_table and gap_table with client=: on a 2-worker LocalCluster and in process,
exactly the in-process tables, gaps across file boundaries joined (synthetic data)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from cluster_helpers import shared_store

import candlekit as ck
from candlekit.cluster import tables
from candlekit.cluster.tables import join_gaps, span_units
from candlekit.coverage import series_spans

distributed = pytest.importorskip("distributed")

SELECTIONS = [
    {},                                                        # whole spans, footers
    {"window": "3d"},                                          # the latest three days
    {"window": ("2019-12-15", "2026-02-01T00:00:30")},         # across many files
    {"now": "2026-03-10"},                                     # tails into files not there
    {"window": "40d", "now": "2026-03-05"},
    {"intervals": ["1w", "1M"], "window": ("2019-11-01", "2020-03-01")},
    {"symbols": "BTC", "intervals": "1s", "window": ("2026-01-31T23:00", "2026-02-01T01:00")},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def client(dask_client):
    """The session's 2-worker LocalCluster (tests/conftest.py)."""
    return dask_client


@pytest.mark.parametrize("kw", SELECTIONS)
def test_gap_table_on_cluster_equals_in_process(store, client, kw):
    want = ck.gap_table(store, **kw)
    got = ck.gap_table(store, client=client, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert len(want)


@pytest.mark.parametrize("kw", SELECTIONS)
def test_coverage_table_on_cluster_equals_in_process(store, client, kw):
    want = ck.coverage_table(store, **kw)
    got = ck.coverage_table(store, client=client, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("kw", SELECTIONS)
def test_unit_loop_in_process_equals_in_process(store, kw):
    """Without a client the same units run in a loop, with the same tables."""
    pd.testing.assert_frame_equal(tables.gap_table(store, progress=False, **kw),
                                  ck.gap_table(store, **kw), check_exact=True)
    pd.testing.assert_frame_equal(tables.coverage_table(store, progress=False, **kw),
                                  ck.coverage_table(store, **kw), check_exact=True)


@pytest.mark.parametrize("symbol,interval,start,end,missing", [
    ("BTC", "1s", "2026-01-31T23:59:00", "2026-02-01T00:01:30", 150),   # monthly files
    ("ETH", "1s", "2026-02-28T23:59:59", "2026-03-01T00:00:00", 1),     # last of February
    ("BTC", "1h", "2024-12-31T22:00", "2025-01-01T03:00", 5),           # yearly files
    ("ETH", "1h", "2025-01-01T00:00", "2025-01-01T01:00", 1),           # first of a file
    ("BTC", "1d", "2019-12-30", "2020-01-03", 4),                        # decade files
    ("BTC", "1w", "2019-12-26", "2020-01-16", 3),                        # Thursday weeks
    ("SOL", "1w", "2019-12-23", "2020-01-13", 3),                        # Monday weeks
    ("ETH", "1M", "2019-12-10", "2020-02-08", 2),                        # 30-day months
    ("SOL", "1M", "2019-12-01", "2020-02-01", 2),                        # calendar months
])
def test_gaps_across_files_are_one_row(store, client, symbol, interval, start, end, missing):
    got = ck.gap_table(store, symbols=symbol, intervals=interval, client=client)
    row = got[got["start"] == pd.Timestamp(start, tz="UTC")]
    assert len(row) == 1
    assert row["end"].iloc[0] == pd.Timestamp(end, tz="UTC")
    assert row["missing_candles"].iloc[0] == missing


def test_a_gap_over_several_files_is_joined():
    """Gaps meeting at unit bounds join, across any number of units; others stay apart."""
    ms = lambda *v: np.array(v, np.int64)
    parts = [(ms(1, 8), ms(3, 10), ms(2, 2)), (ms(10), ms(20), ms(10)),
             (ms(20, 25), ms(22, 26), ms(2, 1)), (ms(), ms(), ms())]
    s, e, m = join_gaps(parts)
    assert s.tolist() == [1, 8, 25] and e.tolist() == [3, 22, 26] and m.tolist() == [2, 14, 1]


def test_units_cut_spans_at_file_bounds_without_overlap(store):
    spans = series_spans(store, now="2026-03-10")
    units = span_units(spans)
    for r in range(len(spans)):
        mine = [u for i, u in units if i == r]
        assert mine[0].lo == ck.floor_time(spans["start"].iloc[r], spans["interval"].iloc[r],
                                           alignment=spans["alignment"].iloc[r]).value // 10**6
        assert all(a.hi <= b.lo for a, b in itertools.pairwise(mine))
        expected = sum(ck.count_buckets(u.lo, u.hi - 1, u.interval, alignment=u.alignment)
                       for u in mine)
        total = ck.count_buckets(spans["start"].iloc[r], spans["end"].iloc[r] - pd.Timedelta(1, "ms"),
                                 spans["interval"].iloc[r], alignment=spans["alignment"].iloc[r])
        assert expected == total


def test_bad_client_is_refused(store):
    with pytest.raises(ck.FormatError, match="distributed.Client"):
        ck.gap_table(store, client=object())


def _corrupted_copy(store, tmp_path, *, footer: bool):
    """A copy of the store with ETH 1h's 2025 file damaged: its footer (unreadable
    without reading rows) or, with ``footer=False``, a row group (found only on reading)."""
    import shutil

    import pyarrow.parquet as pq

    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    path = next((root / "source=synthetic" / "symbol=ETH" / "interval=1h").glob("period=2025*"))
    part = path / "part-0.parquet"
    if footer:
        part.write_bytes(b"PAR1 this is not a parquet file any more")
    else:
        meta = pq.read_metadata(part)
        col = meta.row_group(0).column(0)
        start = col.dictionary_page_offset or col.data_page_offset
        data = bytearray(part.read_bytes())
        data[start:start + col.total_compressed_size] = b"\xff" * col.total_compressed_size
        part.write_bytes(bytes(data))
    return ck.Store(root), part


CORRUPT_SELECTIONS = [{}, {"window": ("2025-01-01", "2025-01-10")}, {"now": "2025-02-01"},
                      {"intervals": "1h", "window": "30d"}]


@pytest.mark.parametrize("footer", [True, False], ids=["footer", "rows"])
@pytest.mark.parametrize("kw", CORRUPT_SELECTIONS)
def test_a_corrupted_file_is_unreadable_on_the_cluster_as_in_process(store, client, tmp_path,
                                                                      footer, kw):
    """The file is named once, its period unreadable (not missing), the rest reported."""
    import warnings

    st, part = _corrupted_copy(store, tmp_path, footer=footer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want_cov = ck.coverage_table(st, **kw)
        want_gaps = ck.gap_table(st, **kw)
        got_cov = ck.coverage_table(st, client=client, **kw)
        got_gaps = ck.gap_table(st, client=client, **kw)
        loop_gaps = tables.gap_table(st, progress=False, **kw)
    pd.testing.assert_frame_equal(got_cov, want_cov, check_exact=True)
    pd.testing.assert_frame_equal(got_gaps, want_gaps, check_exact=True)
    pd.testing.assert_frame_equal(loop_gaps, want_gaps, check_exact=True)
    warn = got_gaps[got_gaps["status"] == "unreadable"]
    assert len(warn) == 1 and warn["note"].iloc[0].count(str(part)) == 1
    eth = got_cov[(got_cov["symbol"] == "ETH") & (got_cov["interval"] == "1h")].iloc[0]
    if footer or "window" in kw:
        assert eth["note"].count(str(part)) == 1
    else:  # footers only: damaged rows are found when read (the gap table reads them)
        assert eth["note"] == ""
    if kw.get("window") == ("2025-01-01", "2025-01-10"):
        # the whole window is in the file's period (its dropped hour included): unreadable
        assert (eth["unreadable_candles"], eth["missing_candles"]) == (9 * 24, 0)
    assert st.read("BTC", "1h").shape[0] > 0  # the rest of the store stays readable


def test_a_registry_asking_for_history_gone_upstream_counts_the_same(store, client, tmp_path):
    """requested / stored / unavailable-upstream columns, from the task registry."""
    import shutil

    from candlekit.backfill.registry import TaskRegistry
    from candlekit.timeutil import to_ms

    root = tmp_path / "reg"
    shutil.copytree(store.root, root)
    st = ck.Store(root)
    reg = TaskRegistry(st)
    # 1h asked from before the data (the upstream serves from 2024-12-25), no end
    reg.create(["BTC", "ETH"], ["1h"], start=to_ms("2024-12-01"), end=None, source="synthetic")
    reg.create(["BTC"], ["1h"], start=to_ms("2025-01-05"), end=to_ms("2025-02-10"),
               source="synthetic")
    # 1s across the Jan/Feb gap, upstream from the middle of the gap
    reg.create(["BTC"], ["1s"], start=to_ms("2026-01-31T23:00"), end=to_ms("2026-02-01T01:00"),
               source="synthetic")
    for sym, iv, ea in (("BTC", "1h", "2024-12-25"), ("ETH", "1h", "2024-12-25"),
                        ("BTC", "1s", "2026-02-01T00:00:30")):
        reg.set_earliest_available("synthetic", sym, iv, to_ms(ea), observed_ms=to_ms("2026-03-01"))
    for kw in ({}, {"window": "3d"}, {"intervals": ["1s", "1h"], "now": "2026-03-10"}):
        want = ck.coverage_table(st, **kw)
        got = ck.coverage_table(st, client=client, **kw)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        pd.testing.assert_frame_equal(tables.coverage_table(st, progress=False, **kw), want,
                                      check_exact=True)
    asked = want[want["requested_candles"] > 0].set_index(["symbol", "interval"])
    assert (asked["unavailable_upstream"] > 0).all()
    assert (asked["requested_pct"] < 100).all()
    # BTC 1s: 150 s missing from 23:59:00, the 90 before the upstream's start unavailable
    assert asked.loc[("BTC", "1s"), "requested_stored"] == 7200 - 150
    assert asked.loc[("BTC", "1s"), "unavailable_upstream"] == 90


def test_progress_shows_units_and_the_dashboard_link(store, client, capsys):
    tables.gap_table(store, intervals="1h", client=client, progress=True)
    out = capsys.readouterr()
    assert f"dashboard: {client.dashboard_link}" in out.out + out.err
    assert "gaps: 100%" in out.err and "8/8" in out.err
