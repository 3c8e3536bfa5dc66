"""Store.to_dask: many series as one Dask DataFrame, one partition per file (synthetic)."""

from __future__ import annotations

import pandas as pd
import pytest
from cluster_helpers import shared_store

import candlekit as ck

dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return shared_store(tmp_path_factory)


def test_one_partition_per_file_and_unknown_divisions(store):
    ddf = store.to_dask("1h")
    files = int(store.coverage(interval="1h")["files"].sum())
    assert ddf.npartitions == files == 8
    assert not ddf.known_divisions
    assert list(ddf.columns[:2]) == ["symbol", "source"]


def test_partitions_are_the_stored_candles(store):
    got = store.to_dask("1h").compute()
    assert sorted(got["symbol"].unique()) == ["@107", "BTC", "ETH", "xyz:NVDA"]
    for sym in ("@107", "xyz:NVDA"):
        want = store.read(sym, "1h")
        mine = got[got["symbol"] == sym].drop(columns=["symbol", "source"])
        mine.attrs = {}
        want.attrs = {}
        pd.testing.assert_frame_equal(mine, want, check_exact=True)
    assert (got["source"] == "synthetic").all()


def test_selection_and_range(store):
    ddf = store.to_dask("1s", symbols=["BTC"], start="2026-01-31T23:00",
                        end="2026-02-01T01:00", source="synthetic")
    assert ddf.npartitions == 2  # the range crosses the monthly files
    got = ddf.compute()
    want = store.read("BTC", "1s", "2026-01-31T23:00", "2026-02-01T01:00")
    assert got.index.equals(want.index)
    assert got.index.min() >= pd.Timestamp("2026-01-31T23:00", tz="UTC")
    assert got.index.max() < pd.Timestamp("2026-02-01T01:00", tz="UTC")


def test_user_work_on_it(store):
    """Per-symbol aggregation without a global index, as a user would do it."""
    vol = store.to_dask("1d").groupby("symbol")["volume"].sum().compute()
    for sym in ("BTC", "SOL"):
        assert vol[sym] == pytest.approx(store.read(sym, "1d")["volume"].sum(), rel=1e-12)


def test_nothing_matches(store):
    with pytest.raises(ck.SeriesNotFoundError, match="DOGE"):
        store.to_dask("1h", symbols="DOGE")
    with pytest.raises(ck.SeriesNotFoundError, match="5m"):
        store.to_dask("5m")
    with pytest.raises(ck.InvalidIntervalError):
        store.to_dask("7m")
    with pytest.raises(ck.InvalidTimeError):
        store.to_dask("1h", start="2025-01-02", end="2025-01-01")


def test_without_the_dask_extra_the_error_names_it(store, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # import fails as if absent
    with pytest.raises(ck.MissingDependencyError, match=r"candlekit\[dask\]") as info:
        store.to_dask("1h")
    assert isinstance(info.value, ImportError)
