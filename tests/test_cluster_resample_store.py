"""resample_store over a store of many series: on a 2-worker LocalCluster and in process,
equal to the single-process resample of each whole series (synthetic data)."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pandas as pd
import pytest
from cluster_helpers import assert_same_resample, shared_store, whole_series_resample

import candlekit as ck
from candlekit.cluster import RESAMPLE_SUMMARY_COLUMNS, resample_frames, resample_store
from candlekit.cluster.resample_store import merge_edges, resample_unit
from candlekit.cluster.units import plan_units

distributed = pytest.importorskip("distributed")

# (from, to, alignment): straddling weeks and months over monthly (1s), yearly (1h) and
# decade (1d) files, under both alignments
CASES = [
    ("1s", "1m", None), ("1s", "1w", None), ("1s", "1w", "hyperliquid"),
    ("1s", "1M", "hyperliquid"), ("1s", "1M", None),
    ("1h", "1w", None), ("1h", "1w", "hyperliquid"), ("1h", "1M", "hyperliquid"),
    ("1h", "1d", None),
    ("1d", "1w", None), ("1d", "1w", "hyperliquid"), ("1d", "1M", "hyperliquid"),
    ("1d", "1M", None), ("1d", "3d", None),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture(scope="module")
def client(dask_client):
    """The session's 2-worker LocalCluster (tests/conftest.py)."""
    return dask_client


@pytest.mark.parametrize("fine,coarse,alignment", CASES)
def test_cluster_equals_whole_series(store, client, fine, coarse, alignment):
    """Every series resampled on the cluster equals resample() of the whole series."""
    got = resample_frames(store, fine, coarse, alignment=alignment, client=client,
                          progress=False)
    keys = [k for k in store.series() if k.interval == fine]
    assert sorted(got) == sorted(keys)
    for key in keys:
        assert_same_resample(got[key], whole_series_resample(store, key, coarse, alignment))


@pytest.mark.parametrize("fine,coarse,alignment", CASES)
def test_in_process_equals_whole_series(store, fine, coarse, alignment):
    """Without a client the same units run in a loop, with the same result."""
    got = resample_frames(store, fine, coarse, alignment=alignment, progress=False)
    for key, frame in got.items():
        assert_same_resample(frame, whole_series_resample(store, key, coarse, alignment))


@pytest.mark.parametrize("symbol,fine,coarse,alignment,straddling", [
    ("BTC", "1s", "1w", None, "2026-01-26"), ("BTC", "1s", "1M", "hyperliquid", "2026-01-07"),
    ("SOL", "1d", "1w", "hyperliquid", "2019-12-26"), ("ETH", "1h", "1w", None, "2024-12-30")])
def test_straddling_buckets_are_merged_from_two_units(store, symbol, fine, coarse, alignment,
                                                      straddling):
    """The bucket across the file boundary comes back partial from both units."""
    units = plan_units(store, intervals=fine, symbols=symbol)
    assert len(units) == 2
    res = [resample_unit(u, store=store, to_interval=coarse, alignment=alignment)
           for u in units]
    at = pd.Timestamp(straddling, tz="UTC")
    parts = [r["edges"].loc[[at]] for r in res]
    assert all(len(p) == 1 for p in parts)
    merged = merge_edges([r["edges"] for r in res]).loc[at]
    want = whole_series_resample(store, units[0].key, coarse, alignment).loc[at]
    assert merged["constituents"] == sum(p["constituents"].iloc[0] for p in parts)
    assert merged["constituents"] == want["constituents"]
    assert merged["expected_constituents"] == want["expected_constituents"]
    assert merged["open"] == parts[0]["open"].iloc[0] == want["open"]
    assert merged["close"] == parts[1]["close"].iloc[0] == want["close"]
    assert merged["high"] == want["high"] and merged["low"] == want["low"]
    assert merged["closed"] == want["closed"]


def test_unknown_quote_volume_and_open_candles_survive_the_merge(store):
    """Nulls in one part make the merged bucket null; open candles keep it open."""
    got = resample_frames(store, "1h", "1w", symbols=["ETH", "@107"], progress=False)
    eth = got[ck.SeriesKey("synthetic", "ETH", "1h")]
    week = eth.loc[pd.Timestamp("2024-12-30", tz="UTC")]  # straddles the 2025 file
    assert pd.isna(week["quote_volume"]) and pd.isna(week["trades"])
    purr = got[ck.SeriesKey("synthetic", "@107", "1h")]
    assert not purr["closed"].iloc[-1]


def test_resample_store_writes_and_summarises(store, client, tmp_path):
    """Written series read back equal the in-process resample; a rerun writes nothing."""
    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    st = ck.Store(root)
    for sym in ("BTC", "SOL"):  # start the weekly series afresh
        st.delete(sym, "1w", source="synthetic")
    summary = resample_store(st, "1d", "1w", alignment="hyperliquid", client=client,
                             progress=False)
    assert list(summary.columns) == list(RESAMPLE_SUMMARY_COLUMNS)
    assert list(summary["symbol"]) == ["BTC", "SOL"]
    assert summary["synthetic"].all()
    for row in summary.itertuples(index=False):
        key = ck.SeriesKey(row.source, row.symbol, "1d")
        want = whole_series_resample(st, key, "1w", "hyperliquid")
        stored = st.read(row.symbol, "1w", source=row.source)
        assert_same_resample(stored, want[stored.columns])
        assert stored.attrs["alignment"] == "hyperliquid"
        assert row.rows_in == len(st.read(row.symbol, "1d", source=row.source))
        assert row.rows_out == len(want) == row.buckets_written
        assert row.complete_buckets == int((want.constituents
                                            == want.expected_constituents).sum())
        assert row.files == 2
    again = resample_store(st, "1d", "1w", alignment="hyperliquid", progress=False)
    assert (again["buckets_written"] == 0).all()


def test_write_false_leaves_the_store_alone(store):
    before = store.coverage()
    summary = resample_store(store, "1h", "1d", write=False, symbols="BTC", progress=False)
    assert summary["buckets_written"].tolist() == [0]
    assert summary["rows_out"].iloc[0] > 0
    pd.testing.assert_frame_equal(store.coverage(), before)


def test_bad_requests_fail_before_any_work(store, tmp_path):
    with pytest.raises(ck.ResampleError, match="1w"):
        resample_store(store, "1w", "1M", progress=False)  # weeks do not tile months
    with pytest.raises(ck.SeriesNotFoundError, match="DOGE"):
        resample_store(store, "1h", "1d", symbols=["BTC", "DOGE"], progress=False)
    with pytest.raises(ck.SeriesNotFoundError, match="No stored series"):
        resample_store(store, "5m", "1h", progress=False)
    with pytest.raises(ck.FormatError, match="distributed.Client"):
        resample_store(store, "1h", "1d", client="tcp://127.0.0.1:8786", progress=False)
    # BTC 1w is stored with hyperliquid alignment: a calendar 1w resample must not mix in
    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    st = ck.Store(root)
    before = st.coverage()
    with pytest.raises(ck.StoreError, match="hyperliquid"):
        resample_store(st, "1d", "1w", alignment="calendar", progress=False)
    pd.testing.assert_frame_equal(st.coverage(), before)


def test_numba_kernels_are_compiled_once_per_worker(client):
    """After warm-up every worker holds compiled kernels and a warm call is quick."""
    from candlekit.cluster import warm_up

    warm_up(client)
    timings = warm_up(client)
    assert len(timings) == 2 and max(timings.values()) < 1.0

    def signatures() -> int:
        import importlib

        resample = importlib.import_module("candlekit.resample")
        gaps = importlib.import_module("candlekit.gaps")
        return min(len(resample._agg_kernel.signatures), len(gaps._scan_chunks.signatures))

    assert all(n >= 1 for n in client.run(signatures).values())


def test_progress_bar_counts_units(store, capsys):
    resample_frames(store, "1h", "1d", progress=True)
    err = capsys.readouterr().err
    assert "resample 1h→1d" in err and "8/8" in err


def test_units_partition_every_candle(store):
    units = plan_units(store)
    for key in store.series():
        mine = [u for u in units if u.key == key]
        total = sum(len(store.read(u.symbol, u.interval, u.lo, u.hi, source=u.source))
                    for u in mine)
        assert total == len(store.read(key.symbol, key.interval, source=key.source))
        assert all(a.period_end <= b.period_start for a, b in itertools.pairwise(mine))
    assert np.all([u.period_start <= u.lo < u.hi <= u.period_end for u in units])


def test_a_bucket_over_three_files(client, tmp_path):
    """Hyperliquid's 30-day month from 2010-01-31 spans the Jan, Feb and Mar 1s files."""
    st = ck.Store(tmp_path / "sparse")
    for start, end in [("2010-01-31T00:00", "2010-01-31T01:00"),
                       ("2010-02-14T00:00", "2010-02-14T01:00"),
                       ("2010-03-01T12:00", "2010-03-01T13:00")]:
        df = ck.synthetic_candles("SPARSE", "1s", start, end, base="1s", seed=5)
        st.write(df)
    units = plan_units(st)
    assert [u.period for u in units] == [480, 481, 482]  # months since 1970
    middle = resample_unit(units[1], store=st, to_interval="1M", alignment="hyperliquid")
    assert len(middle["edges"]) == 1 and not len(middle["interior"])
    key = units[0].key
    want = whole_series_resample(st, key, "1M", "hyperliquid")
    assert list(want.index) == [pd.Timestamp("2010-01-31", tz="UTC")]
    assert want["constituents"].iloc[0] == 3 * 3600
    for c in (None, client):
        got = resample_frames(st, "1s", "1M", alignment="hyperliquid", client=c,
                              progress=False)
        assert_same_resample(got[key], want)
