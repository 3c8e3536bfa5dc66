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
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


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


def test_a_failing_unit_raises_its_error_on_the_client(store, client, tmp_path):
    """A corrupted file fails its unit; the client gets the same error as in process."""
    import shutil
    import warnings

    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    st = ck.Store(root)
    path = next((root / "source=synthetic" / "symbol=ETH" / "interval=1h").glob("period=2025*"))
    (path / "part-0.parquet").write_bytes(b"not parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ck.CorruptFileError, match="period=2025"):
            ck.gap_table(st, window=("2025-01-01", "2025-01-10"))
        with pytest.raises(ck.CorruptFileError, match="period=2025"):
            ck.gap_table(st, window=("2025-01-01", "2025-01-10"), client=client)
    assert st.read("BTC", "1h").shape[0] > 0  # the rest of the store stays readable


def test_progress_shows_units_and_the_dashboard_link(store, client, capsys):
    tables.gap_table(store, intervals="1h", client=client, progress=True)
    out = capsys.readouterr()
    assert f"dashboard: {client.dashboard_link}" in out.out + out.err
    assert "gaps: 100%" in out.err and "8/8" in out.err


@pytest.mark.parametrize("convention", ["last missing", "exclusive"])
def test_exclusive_ends_read_either_find_gaps_convention(convention):
    """find_gaps' end may be the last missing open time or the exclusive end."""
    from candlekit.cluster.tables import exclusive_ends

    starts = pd.to_datetime(["2025-12-31T23:00", "2026-01-05T00:00"], utc=True).as_unit("ms")
    last = pd.to_datetime(["2026-01-01T01:00", "2026-01-05T00:00"], utc=True).as_unit("ms")
    excl = pd.to_datetime(["2026-01-01T02:00", "2026-01-05T01:00"], utc=True).as_unit("ms")
    found = pd.DataFrame({"start": starts, "end": last if convention == "last missing" else excl,
                          "missing_candles": np.array([3, 1], np.int64)})
    assert exclusive_ends(found, "1h", "calendar").tolist() == list(excl.asi8)
