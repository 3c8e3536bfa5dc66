"""Tests for candlekit.store.store: the Store class, end to end."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from candlekit.errors import (
    CandleValidationError,
    CorruptFileError,
    InvalidTimeError,
    SeriesNotFoundError,
    StoreError,
)
from candlekit.frame import make_frame
from candlekit.intervals import INTERVALS, bucket_ordinal, ordinal_to_ms
from candlekit.store import COVERAGE_COLUMNS, Store, WriteStats
from candlekit.store.layout import is_temp_name

BOUNDARY = 1_577_836_800_000  # 2020-01-01: a month, year and decade boundary
ODD_NAMES = ["BTC", "kPEPE", "xyz:NVDA", "@107", "PURR/USDC"]
ALL_SERIES = [(iv, al) for iv in INTERVALS for al in ("calendar", "hyperliquid")
              if al == "calendar" or iv in ("3d", "1w", "1M")]


def candles(n=30, *, interval="1m", alignment="calendar", symbol="BTC", source="test",
            first=-10, price=100.0, closed=True, around=BOUNDARY):
    """``n`` aligned candles from the ``first``-th bucket relative to the one at ``around``.

    Prices are a function of the open time plus ``price``, so two frames built with the
    same ``price`` agree wherever they overlap.
    """
    base = int(bucket_ordinal(np.array([around]), interval, alignment=alignment)[0])
    t = ordinal_to_ms(base + first + np.arange(n), interval, alignment=alignment)
    c = price + (t - t[0] if n else t) / 3.6e9 + (t % 7_000) / 1000
    q = np.where(np.arange(n) % 5 == 0, np.nan, c * 3)
    return make_frame(t, c, c + 1, c - 0.5, c + 0.25, np.arange(n) + 1.0, quote_volume=q,
                      trades=np.arange(n), closed=closed, symbol=symbol, interval=interval,
                      alignment=alignment, source=source)


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("interval,alignment", ALL_SERIES)
def test_write_then_read_round_trips(tmp_path, interval, alignment):
    """Every interval and alignment reads back exactly, across a period boundary."""
    store = Store(tmp_path)
    df = candles(interval=interval, alignment=alignment)
    stats = store.write(df)
    assert stats.inserted == 30 and stats.files_written == 2
    pd.testing.assert_frame_equal(store.read("BTC", interval), df)
    assert store.read("BTC", interval).attrs == df.attrs


@pytest.mark.parametrize("symbol", ODD_NAMES)
def test_odd_symbol_names_round_trip(tmp_path, symbol):
    """Names with ':', '@', '/' and mixed case come back unchanged."""
    store = Store(tmp_path)
    df = candles(symbol=symbol, source="hl:main/1")
    store.write(df)
    pd.testing.assert_frame_equal(store.read(symbol, "1m"), df)
    assert store.symbols() == [symbol] and store.sources() == ["hl:main/1"]
    assert [p.name for p in tmp_path.iterdir()] == ["source=hl%3Amain%2F1"]


@pytest.mark.parametrize("interval,alignment", [("1s", "calendar"), ("1h", "calendar"),
                                                ("1w", "hyperliquid"), ("1M", "calendar")])
def test_range_reads_are_start_inclusive_end_exclusive(tmp_path, interval, alignment):
    """read(start, end) returns candles opening in [start, end), any time type accepted."""
    store = Store(tmp_path)
    df = candles(interval=interval, alignment=alignment)
    store.write(df)
    t = df.index
    cases = [(t[3], t[20], 20), (t[3].isoformat(), int(t[20].value // 10**6), 20),
             (t[3].to_pydatetime(), t[20] + pd.Timedelta(milliseconds=1), 21),
             (t[3] - pd.Timedelta(milliseconds=1), t[20], 20)]
    for start, end, stop in cases:
        got = store.read("BTC", interval, start, end)
        pd.testing.assert_frame_equal(got, df.iloc[3:stop])
    pd.testing.assert_frame_equal(store.read("BTC", interval, start=t[25]), df.iloc[25:])
    pd.testing.assert_frame_equal(store.read("BTC", interval, end=t[2]), df.iloc[:2])


def test_empty_range_gives_an_empty_canonical_frame(tmp_path):
    """A range without candles is an empty frame with dtypes and attrs."""
    store = Store(tmp_path)
    df = candles(interval="1w", alignment="hyperliquid")
    store.write(df)
    got = store.read("BTC", "1w", "2040-01-01", "2041-01-01")
    assert got.empty and got.dtypes.equals(df.dtypes) and got.attrs == df.attrs
    assert str(got.index.dtype) == "datetime64[ms, UTC]"


def test_reversed_range_raises(tmp_path):
    """end <= start is an InvalidTimeError."""
    store = Store(tmp_path)
    store.write(candles())
    with pytest.raises(InvalidTimeError, match="must be after start"):
        store.read("BTC", "1m", "2025-01-02", "2025-01-01")


def test_range_read_opens_only_overlapping_files_and_row_groups(tmp_path, monkeypatch):
    """A one-day read of a 1s series opens one monthly file and one daily row group."""
    store = Store(tmp_path)
    day = 86_400_000
    parts = [candles(20, interval="1s", first=d * 86_400) for d in range(-40, 40, 3)]
    df = pd.concat(parts)
    df.attrs = parts[0].attrs
    store.write(df)
    opened, groups = [], []
    real_init, real_read = pq.ParquetFile.__init__, pq.ParquetFile.read_row_groups

    def spy_init(self, source, *args, **kwargs):
        opened.append(Path(source).parent.name)
        real_init(self, source, *args, **kwargs)

    def spy_read(self, row_groups, *args, **kwargs):
        groups.append(list(row_groups))
        return real_read(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", spy_init)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy_read)
    start = BOUNDARY + 2 * day
    got = store.read("BTC", "1s", start, start + day)
    assert opened == ["period=2020-01-01"]
    assert len(groups) == 1 and len(groups[0]) == 1
    pd.testing.assert_frame_equal(got, df[(df.index.asi8 >= start) & (df.index.asi8 < start + day)])
    assert len(got) == 20


# --- interoperability ------------------------------------------------------------------


@pytest.fixture
def odd_store(tmp_path):
    """A store holding 1m candles of every odd name plus a 1M series."""
    store = Store(tmp_path)
    for i, name in enumerate(ODD_NAMES):
        store.write(candles(symbol=name, source="hyperliquid", price=100.0 * (i + 1)))
    store.write(candles(interval="1M", symbol="BTC", source="hyperliquid"))
    return store


def test_pyarrow_dataset_reads_the_store_and_decodes_names(odd_store):
    """pyarrow's hive partitioning decodes the percent-encoded names; columns are plain."""
    table = ds.dataset(odd_store.root, partitioning="hive").to_table()
    assert sorted(set(table.column("symbol").to_pylist())) == sorted(ODD_NAMES)
    assert set(table.column("interval").to_pylist()) == {"1m", "1Mo"}
    assert str(table.schema.field("time").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("trades").type) == "int64"
    assert table.num_rows == 30 * 6


def test_polars_reads_the_store_and_decodes_names(odd_store):
    """polars decodes hive names and parses the period as a date."""
    pl = pytest.importorskip("polars")
    df = pl.scan_parquet(f"{odd_store.root}/**/*.parquet", hive_partitioning=True).collect()
    assert sorted(df["symbol"].unique().to_list()) == sorted(ODD_NAMES)
    assert str(df.schema["time"]) == "Datetime(time_unit='ms', time_zone='UTC')"
    assert str(df.schema["period"]) == "Date"
    one = pl.read_parquet(odd_store.series_path("@107", "1m", source="hyperliquid"))
    assert one.height == 30  # a directory scan skips the .lock file


def test_duckdb_reads_the_store_and_decodes_names(odd_store):
    """DuckDB's hive partitioning decodes names; count per symbol matches."""
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(
        f"select symbol, interval, count(*) from read_parquet('{odd_store.root}/**/*.parquet',"
        " hive_partitioning=true) group by all order by all").fetchall()
    expected = sorted([(n, "1m", 30) for n in ODD_NAMES] + [("BTC", "1Mo", 30)])
    assert rows == expected


def test_pandas_reads_one_file_without_candlekit(odd_store):
    """A single file is a plain table: time column, nullable columns, no pandas index."""
    path = next(odd_store.series_path("BTC", "1m", source="hyperliquid").rglob("*.parquet"))
    df = pd.read_parquet(path)
    assert list(df.columns) == ["time", "open", "high", "low", "close", "volume",
                                "quote_volume", "trades", "closed"]
    meta = json.loads(pq.read_metadata(path).metadata[b"candlekit"])
    assert meta["symbol"] == "BTC" and meta["interval"] == "1m" and meta["schema_version"] == 1


# --- upserts ---------------------------------------------------------------------------


@pytest.mark.parametrize("stored_closed,incoming_closed,incoming_wins", [
    (False, True, True), (True, False, False), (True, True, True), (False, False, True)])
def test_upsert_rules(tmp_path, stored_closed, incoming_closed, incoming_wins):
    """Closed beats open, never the reverse; newer beats older otherwise."""
    store = Store(tmp_path)
    store.write(candles(10, closed=stored_closed, price=100.0))
    stats = store.write(candles(10, first=-5, closed=incoming_closed, price=200.0))
    got = store.read("BTC", "1m")
    assert len(got) == 15 and got.index.is_unique
    overlap = got.iloc[5:10]
    assert (overlap["open"] > 150).all() == incoming_wins
    assert overlap["closed"].eq(incoming_closed if incoming_wins else stored_closed).all()
    assert stats.inserted == 5
    assert (stats.replaced, stats.kept) == ((5, 0) if incoming_wins else (0, 5))


def test_rewriting_the_same_candles_writes_no_file(tmp_path):
    """An idempotent re-write reports unchanged candles and leaves files alone."""
    store = Store(tmp_path)
    df = candles()
    store.write(df)
    files = sorted(tmp_path.rglob("*.parquet"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert store.write(df) == WriteStats(unchanged=30)
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_extra_columns_are_dropped(tmp_path):
    """A resampler's constituents column is not stored."""
    store = Store(tmp_path)
    df = candles()
    df["constituents"] = 60
    store.write(df)
    assert "constituents" not in store.read("BTC", "1m").columns


@pytest.mark.parametrize("missing", ["symbol", "interval", "source"])
def test_frames_without_attrs_are_refused(tmp_path, missing):
    """symbol, interval and source attrs are required."""
    df = candles()
    df.attrs[missing] = None
    with pytest.raises(CandleValidationError, match=missing):
        Store(tmp_path).write(df)
    assert not tmp_path.joinpath("source=test").exists()


def test_invalid_frames_write_nothing(tmp_path):
    """A frame breaking the schema raises CandleValidationError before any file."""
    df = candles()
    df.iloc[3, df.columns.get_loc("high")] = 1.0
    with pytest.raises(CandleValidationError):
        Store(tmp_path).write(df)
    assert list(tmp_path.iterdir()) == []


def test_empty_frame_writes_nothing(tmp_path):
    """Writing zero candles is a no-op."""
    assert Store(tmp_path).write(candles(0)) == WriteStats()
    assert list(tmp_path.iterdir()) == []


# --- alignment and case safety ---------------------------------------------------------


@pytest.mark.parametrize("interval", ["1w", "1M"])
def test_alignment_mismatch_is_refused_for_weeks_and_months(tmp_path, interval):
    """A series keeps one alignment where the buckets differ."""
    store = Store(tmp_path)
    store.write(candles(interval=interval, alignment="calendar"))
    with pytest.raises(StoreError, match="Resample to 'calendar'.*another source"):
        store.write(candles(interval=interval, alignment="hyperliquid", first=40))
    assert store.read("BTC", interval).attrs["alignment"] == "calendar"
    assert len(store.read("BTC", interval)) == 30


@pytest.mark.parametrize("interval", ["1h", "3d"])
def test_alignment_does_not_matter_where_buckets_agree(tmp_path, interval):
    """Other intervals accept either alignment and keep the first one recorded."""
    store = Store(tmp_path)
    store.write(candles(interval=interval, alignment="hyperliquid"))
    store.write(candles(interval=interval, alignment="calendar", first=10))
    got = store.read("BTC", interval)
    assert len(got) == 50 and got.attrs["alignment"] == "hyperliquid"


def test_symbols_differing_only_by_case_are_refused(tmp_path):
    """kPEPE then KPEPE would share a directory on macOS: the second write raises."""
    store = Store(tmp_path)
    store.write(candles(symbol="kPEPE"))
    with pytest.raises(StoreError, match="'KPEPE'.*'kPEPE'.*case"):
        store.write(candles(symbol="KPEPE"))
    with pytest.raises(SeriesNotFoundError):
        store.read("KPEPE", "1m")
    assert store.symbols() == ["kPEPE"]


def test_minute_and_month_live_apart(tmp_path):
    """1m and 1M are separate series (1M under interval=1Mo)."""
    store = Store(tmp_path)
    store.write(candles(interval="1m"))
    store.write(candles(interval="1M"))
    sym_dir = tmp_path / "source=test" / "symbol=BTC"
    assert sorted(p.name for p in sym_dir.iterdir()) == ["interval=1Mo", "interval=1m"]
    assert store.read("BTC", "1M").index[1] - store.read("BTC", "1M").index[0] \
        >= pd.Timedelta(days=28)


# --- sources, listing, root ------------------------------------------------------------


def test_source_is_resolved_when_unique_and_required_when_ambiguous(tmp_path):
    """One holder is used; several raise naming them."""
    store = Store(tmp_path)
    store.write(candles(source="hyperliquid"))
    assert store.read("BTC", "1m").attrs["source"] == "hyperliquid"
    store.write(candles(source="hydromancer", price=500.0))
    with pytest.raises(StoreError, match="hydromancer, hyperliquid.*source="):
        store.read("BTC", "1m")
    assert store.read("BTC", "1m", source="hydromancer")["open"].min() > 400


def test_missing_series_lists_what_the_store_has(tmp_path):
    """SeriesNotFoundError names the intervals and sources stored for the symbol."""
    store = Store(tmp_path)
    store.write(candles(interval="1h", source="hyperliquid"))
    store.write(candles(interval="1s", source="hydromancer"))
    with pytest.raises(SeriesNotFoundError, match=r"1s \(hydromancer\); 1h \(hyperliquid\)"):
        store.read("BTC", "1d")
    with pytest.raises(SeriesNotFoundError, match="no 'ETH' at all.*symbols: BTC"):
        store.read("ETH", "1h")
    with pytest.raises(SeriesNotFoundError, match="from 'hydromancer'"):
        store.read("BTC", "1h", source="hydromancer")
    with pytest.raises(SeriesNotFoundError, match="empty"):
        Store(tmp_path / "none").read("BTC", "1h")


def test_listing(tmp_path):
    """series(), symbols() and sources() list stored series, filtered and sorted."""
    store = Store(tmp_path)
    store.write(candles(symbol="ETH", interval="1d", source="b"))
    store.write(candles(symbol="BTC", interval="1h", source="a"))
    store.write(candles(symbol="BTC", interval="1m", source="a"))
    assert [tuple(vars(k).values()) for k in store.series()] == [
        ("a", "BTC", "1m"), ("a", "BTC", "1h"), ("b", "ETH", "1d")]
    assert store.symbols() == ["BTC", "ETH"] and store.symbols(source="b") == ["ETH"]
    assert store.series(interval="1h")[0].symbol == "BTC"
    assert Store(tmp_path / "nothing").symbols() == []


def test_root_defaults(tmp_path, monkeypatch):
    """root comes from the argument, else CANDLEKIT_DATA, else ./data."""
    monkeypatch.setenv("CANDLEKIT_DATA", str(tmp_path / "env"))
    assert Store().root == tmp_path / "env"
    assert Store(tmp_path / "arg").root == tmp_path / "arg"
    monkeypatch.delenv("CANDLEKIT_DATA")
    monkeypatch.chdir(tmp_path)
    assert Store().root == tmp_path / "data"
    assert "data" in repr(Store())


def test_delete_removes_the_series(tmp_path):
    """delete() removes files; the series disappears from listings and reads."""
    store = Store(tmp_path)
    store.write(candles())
    store.write(candles(interval="1h"))
    assert store.delete("BTC", "1m", source="test") == 2
    assert [k.interval for k in store.series()] == ["1h"]
    with pytest.raises(SeriesNotFoundError):
        store.read("BTC", "1m")
    with pytest.raises(SeriesNotFoundError):
        store.delete("BTC", "1m", source="test")
    store.write(candles())
    assert len(store.read("BTC", "1m")) == 30


# --- coverage --------------------------------------------------------------------------


def test_coverage_from_footers_only(tmp_path, monkeypatch):
    """coverage() reports spans and counts without reading any row."""
    store = Store(tmp_path)
    a = candles(interval="1s", closed=np.arange(30) < 28)
    b = candles(interval="1w", alignment="hyperliquid", symbol="xyz:NVDA", source="hl")
    store.write(a)
    store.write(b)

    def fail(*args, **kwargs):
        raise AssertionError("coverage() must not read rows")

    for name in ("read", "read_row_group", "read_row_groups", "iter_batches"):
        monkeypatch.setattr(pq.ParquetFile, name, fail)
    monkeypatch.setattr(pq, "read_table", fail)
    monkeypatch.setattr(ds, "dataset", fail)
    cov = store.coverage()
    assert tuple(cov.columns) == COVERAGE_COLUMNS
    assert cov[["symbol", "interval", "source", "alignment"]].values.tolist() == [
        ["xyz:NVDA", "1w", "hl", "hyperliquid"], ["BTC", "1s", "test", "calendar"]]
    for row, df in zip(cov.itertuples(), (b, a)):
        assert (row.earliest, row.latest) == (df.index[0], df.index[-1])
        assert row.total_candles == 30 and row.files == 2 and row.bytes > 0
    assert cov["open_candles"].tolist() == [0, 2]
    assert str(cov["earliest"].dtype) == "datetime64[ms, UTC]"
    assert len(store.coverage(symbol="BTC")) == 1 and len(store.coverage(interval="1w")) == 1
    assert store.coverage(source="nope").empty


def test_coverage_of_an_empty_store_has_typed_columns(tmp_path):
    """An empty coverage frame still has the columns and dtypes."""
    cov = Store(tmp_path).coverage()
    assert cov.empty and tuple(cov.columns) == COVERAGE_COLUMNS
    assert str(cov["latest"].dtype) == "datetime64[ms, UTC]"


# --- corruption ------------------------------------------------------------------------


@pytest.fixture
def damaged(tmp_path):
    """A store whose 2019 file of BTC 1m is truncated; 2020 and ETH are fine."""
    store = Store(tmp_path)
    store.write(candles())
    store.write(candles(symbol="ETH"))
    bad = store.series_path("BTC", "1m", source="test") / "period=2019-01-01" / "part-0.parquet"
    bad.write_bytes(bad.read_bytes()[:100])
    return store, bad


def test_corrupt_file_raises_on_read_naming_it(damaged):
    """Reading a range that needs the file raises; other ranges and series still read."""
    store, bad = damaged
    with pytest.raises(CorruptFileError, match="period=2019-01-01") as err:
        store.read("BTC", "1m")
    assert err.value.path == bad
    assert len(store.read("BTC", "1m", start="2020-01-01")) == 20
    assert len(store.read("ETH", "1m")) == 30


def test_corrupt_file_is_never_overwritten(damaged):
    """A write that must merge into the file raises and leaves its bytes alone."""
    store, bad = damaged
    before = bad.read_bytes()
    with pytest.raises(CorruptFileError, match=str(bad.parent.name)):
        store.write(candles())
    assert bad.read_bytes() == before
    assert store.write(candles(5, first=100)).inserted == 5  # other periods are writable


def test_coverage_skips_corrupt_files_with_a_warning(damaged):
    """coverage() warns naming the file, or raises with errors='raise'."""
    store, bad = damaged
    with pytest.warns(RuntimeWarning, match=str(bad).replace("%", ".")):
        cov = store.coverage()
    btc = cov[cov["symbol"] == "BTC"].iloc[0]
    assert btc["files"] == 1 and btc["total_candles"] == 20
    with pytest.raises(CorruptFileError):
        store.coverage(errors="raise")


# --- crash safety and concurrency (subprocesses) ---------------------------------------

def frame(idx, price, interval="1m"):
    """1m candles at minutes ``idx`` after 2024-12-31 (also run inside child processes)."""
    t = 1_735_603_200_000 + np.asarray(idx, dtype=np.int64) * 60_000
    c = price + np.asarray(idx) / 100.0
    return make_frame(t, c, c + 1, c - 1, c, np.ones(len(t)), trades=np.asarray(idx),
                      symbol="BTC", interval=interval, source="test")


CHILD_PRELUDE = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    from candlekit.frame import make_frame
    from candlekit.store import Store
""") + inspect.getsource(frame)


def _run_child(code, *args):
    return subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code),
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


KILLED_WRITER = """
    import candlekit.store.parquet as P
    root, stage, flag = sys.argv[1:4]
    def hang():
        open(flag, "w").close()
        time.sleep(120)
    if stage == "mid-write":
        real = P._write_groups
        def slow(writer, table, cuts):
            real(writer, table.slice(0, table.num_rows // 2), np.array([0, table.num_rows // 2]))
            hang()
        P._write_groups = slow
    else:  # after the rename, before the directory fsync
        P.fsync_dir = lambda path: hang()
    Store(root).write(frame(range(50, 1500), 200.0))
"""


@pytest.mark.parametrize("stage,expect_new", [("mid-write", False), ("after-rename", True)])
def test_sigkill_during_write_leaves_old_or_new_data(tmp_path, stage, expect_new):
    """A writer killed at any point leaves whole files; stale temps are skipped, then cleaned."""
    store = Store(tmp_path / "store")
    old = frame(range(100), 100.0)
    store.write(old)
    flag = tmp_path / "flag"
    child = _run_child(KILLED_WRITER, store.root, stage, flag)
    deadline = time.monotonic() + 60
    while not flag.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child did not reach the write: {child.communicate()[1]}")
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    got = store.read("BTC", "1m")
    if expect_new:
        assert len(got) > len(old) and (got["open"].iloc[50:60] > 150).all()
    else:
        pd.testing.assert_frame_equal(got, old)
        temps = [p for p in tmp_path.rglob("*") if is_temp_name(p.name)]
        assert temps, "the killed writer should have left a partial temp file"
        assert ds.dataset(store.series_path("BTC", "1m", source="test"),
                          partitioning="hive").count_rows() == len(old)
        store.write(frame([500], 100.0))
        assert not [p for p in tmp_path.rglob("*") if is_temp_name(p.name)]
    assert got.index.is_unique


CONCURRENT_WRITER = """
    root, lo, hi, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = Store(root)
    while not os.path.exists(go):
        time.sleep(0.005)
    inserted = 0
    for a in range(lo, hi, 40):
        inserted += store.write(frame(range(a, min(a + 40, hi)), 100.0)).inserted
    print(json.dumps({"inserted": inserted}))
"""


def test_concurrent_writers_end_with_the_exact_union(tmp_path):
    """Two processes upserting overlapping ranges (across a year boundary) lose nothing."""
    root, go = tmp_path / "store", tmp_path / "go"
    children = [_run_child(CONCURRENT_WRITER, root, 0, 2400, go),
                _run_child(CONCURRENT_WRITER, root, 1000, 3400, go)]
    time.sleep(0.2)
    go.touch()
    outputs = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0, 0], [o[1] for o in outputs]
    inserted = sum(json.loads(o[0])["inserted"] for o in outputs)
    got = Store(root).read("BTC", "1m")
    expected = frame(range(3400), 100.0)
    pd.testing.assert_frame_equal(got, expected)
    assert inserted == 3400  # every candle inserted exactly once: the writes never interleaved
    assert len(list(root.rglob("*.parquet"))) == 2
    assert not [p for p in root.rglob("*") if is_temp_name(p.name)]
    assert os.path.exists(Store(root).series_path("BTC", "1m", source="test") / ".lock")
