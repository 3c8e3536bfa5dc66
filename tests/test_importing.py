"""Importing freqtrade directories and CSV/Parquet candle files into the store."""

import warnings

import numpy as np
import pandas as pd
import pytest
from test_freqtrade import write_freqtrade as write_freqtrade_file

from candlekit.errors import (
    CandleValidationError,
    FormatError,
    InvalidIntervalError,
    InvalidTimeError,
)
from candlekit.frame import make_frame
from candlekit.freqtrade import read_freqtrade
from candlekit.importing import SUMMARY_COLUMNS, import_candles, import_freqtrade, read_candles
from candlekit.intervals import close_ms, ordinal_to_ms, parse_interval
from candlekit.schema import validate
from candlekit.store import Store, WriteStats

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC, a Wednesday
LATE = "2100-01-01"


def ohlcv(ms: np.ndarray, seed: int = 0) -> np.ndarray:
    """Valid OHLCV rows, different for each time."""
    rng = np.random.default_rng(seed)
    n = len(ms)
    o = 100 + rng.random(n) * 10
    c = 100 + rng.random(n) * 10
    return np.column_stack([o, np.maximum(o, c) + 1, np.minimum(o, c) - 1, c,
                            rng.random(n) * 5])


def write_freqtrade(path, ms, rows=None) -> None:
    """A file in freqtrade's layout for ``path``'s format, with :func:`ohlcv` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_freqtrade_file(path, ms, ohlcv(np.asarray(ms)) if rows is None else rows)


def hours(n: int, start: int = T0) -> np.ndarray:
    return start + np.arange(n, dtype=np.int64) * HOUR


@pytest.fixture
def ft_dir(tmp_path):
    """A small freqtrade data directory: spot files on top, futures in futures/."""
    d = tmp_path / "hyperliquid"
    write_freqtrade(d / "futures" / "BTC_USDC_USDC-1h-futures.feather", hours(50))
    write_freqtrade(d / "futures" / "BTC_USDC_USDC-1d-futures.parquet",
                    T0 + np.arange(10) * DAY)
    write_freqtrade(d / "ETH_USDT-5m.json", T0 + np.arange(30) * 300_000)
    write_freqtrade(d / "SOL_USDT-1w.json.gz", ordinal_to_ms(np.arange(2900, 2906), "1w"))
    write_freqtrade(d / "futures" / "BTC_USDC_USDC-1h-mark.feather", hours(5))
    (d / "README.md").write_text("not candles")
    (d / "ETH_USDT-trades.feather").write_bytes(b"trades, not candles")
    return d


def stored_equals_file(store: Store, path, source: str = "freqtrade") -> None:
    want = read_freqtrade(path, now=LATE)
    got = store.read(want.attrs["symbol"], want.attrs["interval"], source=source)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["alignment"] == want.attrs["alignment"]


# --- import_freqtrade ---------------------------------------------------------------------


def test_imports_every_candle_file(ft_dir, tmp_path):
    store = Store(tmp_path / "store")
    summary = import_freqtrade(ft_dir, store=store, now=LATE, progress=False)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary[["symbol", "interval", "file"]].values.tolist() == [
        ["BTC", "1h", "futures/BTC_USDC_USDC-1h-futures.feather"],
        ["BTC", "1d", "futures/BTC_USDC_USDC-1d-futures.parquet"],
        ["ETH", "5m", "ETH_USDT-5m.json"],
        ["SOL", "1w", "SOL_USDT-1w.json.gz"],
    ]
    assert summary["candles"].tolist() == [50, 10, 30, 6]
    assert summary["inserted"].tolist() == summary["candles"].tolist()
    assert (summary[["replaced", "unchanged", "kept"]] == 0).all().all()
    assert summary["earliest"].iloc[0] == pd.Timestamp(T0, unit="ms", tz="UTC")
    assert summary["latest"].iloc[0] == pd.Timestamp(int(hours(50)[-1]), unit="ms", tz="UTC")
    assert str(summary["earliest"].dtype) == "datetime64[ms, UTC]"
    for rel in summary["file"]:
        stored_equals_file(store, ft_dir / rel)
    assert store.series(source="freqtrade") == store.series()
    assert len(store.series()) == 4  # the mark file is not a traded price: skipped


def test_importing_again_changes_nothing(ft_dir, tmp_path):
    import_freqtrade(ft_dir, store=tmp_path / "s", now=LATE, progress=False)
    again = import_freqtrade(ft_dir, store=str(tmp_path / "s"), now=LATE, progress=False)
    assert (again["inserted"] == 0).all()
    assert again["unchanged"].tolist() == again["candles"].tolist()


def test_default_store_and_source(ft_dir):
    summary = import_freqtrade(ft_dir, source="ft-archive", intervals="1h", now=LATE,
                               progress=False)
    assert summary["symbol"].tolist() == ["BTC"]
    store = Store()  # CANDLEKIT_DATA, set to a temp dir by conftest
    assert [(k.source, k.symbol, k.interval) for k in store.series()] == [
        ("ft-archive", "BTC", "1h")]


def test_open_last_candle_follows_now(ft_dir, tmp_path):
    store = Store(tmp_path / "s")
    now = int(hours(50)[-1]) + 1  # inside the last hourly candle
    import_freqtrade(ft_dir, store=store, pairs="BTC/USDC:USDC", intervals="1h", now=now,
                     progress=False)
    df = store.read("BTC", "1h")
    assert not df["closed"].iloc[-1] and df["closed"].iloc[:-1].all()


@pytest.mark.parametrize("pairs, intervals, expected", [
    ("BTC", None, [("BTC", "1h"), ("BTC", "1d")]),
    (["ETH/USDT", "SOL"], None, [("ETH", "5m"), ("SOL", "1w")]),
    (None, ["1d", "5m"], [("BTC", "1d"), ("ETH", "5m")]),
    ("BTC/USDC:USDC", "1h", [("BTC", "1h")]),
])
def test_filters(ft_dir, tmp_path, pairs, intervals, expected):
    summary = import_freqtrade(ft_dir, store=tmp_path / "s", pairs=pairs, intervals=intervals,
                               now=LATE, progress=False)
    assert list(zip(summary["symbol"], summary["interval"])) == expected


def test_month_filter_accepts_freqtrade_spelling(tmp_path):
    d = tmp_path / "ft"
    write_freqtrade(d / "BTC_USDC_USDC-1Mo-futures.feather",
                    ordinal_to_ms(np.arange(600, 606), "1M", alignment="hyperliquid"))
    write_freqtrade(d / "BTC_USDC_USDC-1h-futures.feather", hours(3))
    for spelling in ("1Mo", "1M"):
        summary = import_freqtrade(d, store=tmp_path / spelling, intervals=spelling, now=LATE,
                                   progress=False)
        assert summary["interval"].tolist() == ["1M"]
        assert Store(tmp_path / spelling).read("BTC", "1M").attrs["alignment"] == "hyperliquid"


def test_candle_types_option(ft_dir, tmp_path):
    summary = import_freqtrade(ft_dir, store=tmp_path / "s", candle_types="mark",
                               source="mark", now=LATE, progress=False)
    assert summary["file"].tolist() == ["futures/BTC_USDC_USDC-1h-mark.feather"]


def test_filters_matching_nothing_raise(ft_dir, tmp_path):
    with pytest.raises(FormatError, match=r"for pairs \['DOGE'\].*BTC/USDC:USDC"):
        import_freqtrade(ft_dir, store=tmp_path / "s", pairs=["BTC", "DOGE"], progress=False)
    with pytest.raises(FormatError, match=r"for intervals \['4h'\]"):
        import_freqtrade(ft_dir, store=tmp_path / "s", intervals="4h", progress=False)
    with pytest.raises(FormatError, match="both one of pairs"):
        import_freqtrade(ft_dir, store=tmp_path / "s", pairs="ETH", intervals="1h",
                         progress=False)
    with pytest.raises(InvalidIntervalError):
        import_freqtrade(ft_dir, store=tmp_path / "s", intervals="7m", progress=False)
    assert not (tmp_path / "s").exists()


def test_bad_files_do_not_stop_the_others(ft_dir, tmp_path):
    (ft_dir / "ARB_USDT-1h.feather").write_bytes(b"not a feather file")
    (ft_dir / "OP_USDT-1h.json").write_text('{"not": "rows"}')
    write_freqtrade(ft_dir / "XRP_USDT-1h.json", hours(3)[[0, 1, 1]],
                    rows=[[1, 2, 0.5, 1, 1], [1, 2, 0.5, 1, 1], [1, 3, 0.5, 1, 1]])
    write_freqtrade(ft_dir / "ADA_USDT-1h.feather", hours(2),
                    rows=[[1, 2, 0.5, 1, 1], [1, 0.5, 2, 1, 1]])  # high < low
    (ft_dir / "LTC_USDT-7m.feather").write_bytes(b"")  # an interval candlekit lacks
    store = Store(tmp_path / "s")
    with pytest.raises(FormatError) as info:
        import_freqtrade(ft_dir, store=store, now=LATE, progress=False)
    message = str(info.value)
    for name in ("ARB_USDT-1h.feather", "OP_USDT-1h.json", "XRP_USDT-1h.json",
                 "ADA_USDT-1h.feather", "LTC_USDT-7m.feather"):
        assert f"- {name}: " in message
    assert "5 of 9 freqtrade file(s)" in message
    assert "The other 4 file(s) were stored (96 candles inserted)" in message
    assert "conflicting duplicate" in message and "invalid candle" in message
    assert "Invalid interval" in message
    assert {f for f, _ in info.value.value} >= {"ARB_USDT-1h.feather", "ADA_USDT-1h.feather"}
    assert sorted(store.symbols()) == ["BTC", "ETH", "SOL"]
    stored_equals_file(store, ft_dir / "futures" / "BTC_USDC_USDC-1h-futures.feather")


def test_bad_files_with_errors_warn(ft_dir, tmp_path):
    (ft_dir / "ARB_USDT-1h.feather").write_bytes(b"not a feather file")
    write_freqtrade(ft_dir / "ADA_USDT-1h.feather", hours(2),
                    rows=[[1, 2, 0.5, 1, 1], [1, 0.5, 2, 1, 1]])
    with pytest.warns(UserWarning, match="2 of 6 freqtrade file"):
        summary = import_freqtrade(ft_dir, store=tmp_path / "s", errors="warn", now=LATE,
                                   progress=False)
    assert list(summary.columns) == [*SUMMARY_COLUMNS, "error"]
    bad = summary[summary["error"].notna()]
    assert bad["file"].tolist() == ["ADA_USDT-1h.feather", "ARB_USDT-1h.feather"]
    assert bad["inserted"].tolist() == [0, 0]
    assert bad["candles"].tolist() == [2, 0]  # ADA was read, then refused by the store
    assert "Cannot read freqtrade file" in bad["error"].iloc[1]
    assert summary["error"].isna().sum() == 4


def test_errors_warn_without_problems_has_an_empty_error_column(ft_dir, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = import_freqtrade(ft_dir, store=tmp_path / "s", errors="warn", now=LATE,
                                   progress=False)
    assert summary["error"].isna().all()
    with pytest.raises(FormatError, match="errors must be"):
        import_freqtrade(ft_dir, errors="ignore")


def test_a_directory_without_candle_files(tmp_path):
    (tmp_path / "README.md").write_text("hi")
    with pytest.raises(FormatError, match=r"No freqtrade candle files.*named "
                       r"\{pair\}-\{timeframe\}\[-\{candle_type\}\]\.\{ext\}"):
        import_freqtrade(tmp_path, progress=False)
    write_freqtrade(tmp_path / "BTC_USDC_USDC-1h-mark.feather", hours(2))
    with pytest.raises(FormatError, match=r"candle type \['mark'\].*candle_types="):
        import_freqtrade(tmp_path, progress=False)
    with pytest.raises(FormatError, match="No directory"):
        import_freqtrade(tmp_path / "missing", progress=False)


def test_two_files_for_one_series_raise_before_writing(tmp_path):
    d = tmp_path / "ft"
    write_freqtrade(d / "BTC_USDC-1h.feather", hours(3))
    write_freqtrade(d / "futures" / "BTC_USDC_USDC-1h-futures.feather", hours(3), )
    store = Store(tmp_path / "s")
    with pytest.raises(FormatError, match=r"same store series.*BTC 1h.*pairs="):
        import_freqtrade(d, store=store, progress=False)
    assert store.series() == []
    summary = import_freqtrade(d, store=store, pairs="BTC/USDC:USDC", now=LATE,
                               progress=False)
    assert summary["file"].tolist() == ["futures/BTC_USDC_USDC-1h-futures.feather"]


@pytest.mark.shared
def test_real_hyperliquid_directory(freqtrade_dir, tmp_path):
    store = Store(tmp_path / "s")
    summary = import_freqtrade(freqtrade_dir, store=store, now=LATE, progress=False)
    files = sorted(p.name for p in freqtrade_dir.glob("*.feather"))
    assert sorted(summary["file"]) == files
    assert (summary["inserted"] == summary["candles"]).all()
    assert summary["symbol"].tolist() == sorted(summary["symbol"])
    btc = summary[summary["symbol"] == "BTC"]
    assert btc["interval"].tolist() == ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h",
                                        "8h", "12h", "1d", "3d", "1w", "1M"]
    for name in ("BTC_USDC_USDC-5m-futures.feather", "ETH_USDC_USDC-1w-futures.feather",
                 "BTC_USDC_USDC-1Mo-futures.feather"):
        stored_equals_file(store, freqtrade_dir / name)
    assert store.read("ETH", "1w").attrs["alignment"] == "hyperliquid"


# --- read_candles ------------------------------------------------------------------------


def canonical(n: int = 24, interval: str = "1h", alignment: str = "calendar",
              start_ordinal: int | None = None) -> pd.DataFrame:
    """A valid frame with every column known, for writing out as files."""
    first = start_ordinal if start_ordinal is not None else T0 // HOUR
    ms = ordinal_to_ms(np.arange(first, first + n), interval, alignment=alignment)
    rows = ohlcv(ms, seed=n)
    return make_frame(ms, *rows.T, quote_volume=rows[:, 4] * 100,
                      trades=np.arange(n) * 3, closed=True, symbol="BTC", interval=interval,
                      alignment=alignment, source="file")


def as_table(df: pd.DataFrame, **rename) -> pd.DataFrame:
    """The frame as a flat file table (time column first), columns renamed."""
    out = df.reset_index()
    out["quote_volume"] = out["quote_volume"].astype(float)
    out["trades"] = out["trades"].astype(float)
    return out.rename(columns=rename)


def test_csv_with_aliases_and_epoch_seconds(tmp_path):
    df = canonical()
    table = as_table(df, time="timestamp", open="o", high="h", low="l", close="c",
                     volume="v").drop(columns=["quote_volume", "trades", "closed"])
    table["timestamp"] = df.index.asi8 // 1000
    path = tmp_path / "btc.csv"
    table.iloc[::-1].to_csv(path, index=False)  # unsorted on purpose
    got = read_candles(path, symbol="BTC", interval="1h", now=LATE)
    assert validate(got) is got
    pd.testing.assert_frame_equal(got, make_frame(
        df.index, df["open"], df["high"], df["low"], df["close"], df["volume"], closed=True,
        symbol="BTC", interval="1h", source="file"))


@pytest.mark.parametrize("unit, factor", [("s", 0.001), ("ms", 1), ("us", 1000),
                                          ("ns", 1_000_000)])
@pytest.mark.parametrize("infer", [True, False])
def test_epoch_units(tmp_path, unit, factor, infer):
    df = canonical(5)
    table = as_table(df)
    table["time"] = (df.index.asi8 * factor).astype(np.int64)
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    got = read_candles(path, symbol="BTC", interval="1h", now=LATE,
                       time_unit=None if infer else unit)
    assert got.index.equals(df.index)


def test_float_epoch_seconds(tmp_path):
    df = canonical(5)
    table = as_table(df)
    table["time"] = df.index.asi8 / 1000.0
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    assert read_candles(path, symbol="BTC", interval="1h", now=LATE).index.equals(df.index)
    with pytest.raises(FormatError, match="fractions of a millisecond.*time_unit"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, time_unit="ns")


@pytest.mark.parametrize("style", ["Z", "offset", "naive", "date-space"])
def test_iso_times(tmp_path, style):
    df = canonical(5)
    table = as_table(df, time="date")
    idx = df.index
    table["date"] = {
        "Z": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "offset": idx.tz_convert("Asia/Tokyo").strftime("%Y-%m-%dT%H:%M:%S%z"),
        "naive": idx.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "date-space": idx.strftime("%Y-%m-%d %H:%M:%S"),
    }[style]
    path = tmp_path / "c.csv.gz"
    table.to_csv(path, index=False)
    got = read_candles(path, symbol="BTC", interval="1h", now=LATE)
    pd.testing.assert_frame_equal(got, df)


def test_parquet_roundtrip_keeps_every_column(tmp_path):
    df = canonical(30)
    df.loc[df.index[3], "quote_volume"] = pd.NA
    df.loc[df.index[4], "trades"] = pd.NA
    df.loc[df.index[-1], "closed"] = False
    path = tmp_path / "btc.parquet"
    df.reset_index().to_parquet(path)
    now = int(df.index.asi8[-1])  # the last candle is still open
    got = read_candles(path, symbol="BTC", interval="1h", now=now)
    pd.testing.assert_frame_equal(got, df)
    assert got["quote_volume"].isna().tolist()[3] and got["trades"].isna().tolist()[4]


def test_explicit_column_mapping(tmp_path):
    df = canonical(6)
    table = as_table(df, time="ts", open="first", high="max", low="min", close="last",
                     volume="base", quote_volume="quote", trades="count", closed="final")
    path = tmp_path / "c.pq"
    table.to_parquet(path)
    got = read_candles(path, symbol="BTC", interval="1h", now=LATE, columns={
        "time": "ts", "open": "first", "high": "max", "low": "min", "close": "last",
        "volume": "base", "quote_volume": "quote", "trades": "count", "closed": "final"})
    pd.testing.assert_frame_equal(got, df)


def test_case_insensitive_names(tmp_path):
    df = canonical(4, "1d", start_ordinal=T0 // DAY)
    table = as_table(df, time="Date", open="Open", high="High", low="Low", close="Close",
                     volume="Volume").drop(columns=["quote_volume", "trades", "closed"])
    table["Date"] = df.index.strftime("%Y-%m-%d")
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    got = read_candles(path, symbol="BTC", interval="1d", now=LATE)
    assert got["open"].tolist() == df["open"].tolist()
    assert got["trades"].isna().all() and got["quote_volume"].isna().all()


def test_missing_column_error_names_file_column_and_fix(tmp_path):
    table = as_table(canonical(3)).drop(columns=["open"])
    path = tmp_path / "prices.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"column for 'open' not found in prices.csv.*"
                       r"columns are \['time', 'high'.*pass columns=\{'open': '<name>'\}"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)
    with pytest.raises(FormatError, match=r"column 'Opn' \(for 'open'\) not found in "
                       r"prices.csv.*columns=\{'open': '<name>'\}"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, columns={"open": "Opn"})
    with pytest.raises(FormatError, match=r"did you mean 'high'"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, columns={"open": "HIGH"})
    with pytest.raises(FormatError, match=r"Unknown canonical column name\(s\) \['opn'\]"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, columns={"opn": "high"})


def test_single_letter_aliases_are_case_sensitive(tmp_path):
    df = canonical(3)
    table = as_table(df, time="T")  # a close-time column is not an open time
    table["T"] = close_ms(df.index.asi8, "1h")
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match="column for open time not found"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)
    got = read_candles(path, symbol="BTC", interval="1h", now=LATE, time_is="close")
    pd.testing.assert_frame_equal(got, df)


@pytest.mark.parametrize("interval, alignment", [
    ("1m", "calendar"), ("1h", "calendar"), ("3d", "hyperliquid"), ("1w", "calendar"),
    ("1w", "hyperliquid"), ("1M", "calendar"), ("1M", "hyperliquid")])
@pytest.mark.parametrize("convention", ["last-ms", "end-exclusive"])
def test_close_times_become_open_times(tmp_path, interval, alignment, convention):
    df = canonical(8, interval, alignment, start_ordinal={"1m": T0 // 60_000, "1h": T0 // HOUR,
                                                          "3d": 6700, "1w": 2900,
                                                          "1M": 650}[interval])
    table = as_table(df, time="close_time")
    t_close = close_ms(df.index.asi8, interval, alignment=alignment)
    table["close_time"] = t_close + (1 if convention == "end-exclusive" else 0)
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    got = read_candles(path, symbol="BTC", interval=interval, now=LATE, time_is="close")
    pd.testing.assert_frame_equal(got, df)
    assert got.attrs["alignment"] == (alignment if interval in ("1w", "1M") else "calendar")


def test_close_times_fitting_neither_convention(tmp_path):
    df = canonical(4)
    table = as_table(df)
    table["time"] = close_ms(df.index.asi8, "1h") - 999  # ...:59:59.000, the last second
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"does not hold 1h close times.*data row 0.*"
                       r"last millisecond.*bucket end"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, time_is="close")


def test_misaligned_open_times_suggest_close_times(tmp_path):
    df = canonical(4)
    table = as_table(df)
    table["time"] = close_ms(df.index.asi8, "1h")
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"does not hold 1h open times.*time_is='close'"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)


def test_week_alignment_recognised_or_checked(tmp_path):
    thursdays = canonical(5, "1w", "hyperliquid", start_ordinal=2900)
    path = tmp_path / "w.csv"
    as_table(thursdays).to_csv(path, index=False)
    got = read_candles(path, symbol="BTC", interval="1w", now=LATE)
    assert got.attrs["alignment"] == "hyperliquid"
    with pytest.raises(FormatError, match=r"under 'calendar' alignment.*"
                       r"pass alignment='hyperliquid'"):
        read_candles(path, symbol="BTC", interval="1w", now=LATE, alignment="calendar")


def test_identical_duplicates_dropped_conflicting_ones_listed(tmp_path):
    df = canonical(6)
    table = as_table(df)
    path = tmp_path / "c.csv"
    pd.concat([table, table.iloc[[2, 4]]]).to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_candles(path, symbol="BTC", interval="1h", now=LATE),
                                  df)
    changed = table.iloc[[1, 4]].copy()
    changed["close"] = changed["low"]
    pd.concat([table, changed, table.iloc[[1]]]).to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"different candles at the same open time \(2 "
                       r"time\(s\)\): 2025-01-01 01:00:00\+00:00, 2025-01-01 04:00:00"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)


def test_closed_column_never_closes_an_unfinished_candle(tmp_path):
    df = canonical(4)
    table = as_table(df)
    table["closed"] = ["true", "False", "1", "TRUE"]
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    now = int(df.index.asi8[-1]) + 5  # the last candle has not ended
    got = read_candles(path, symbol="BTC", interval="1h", now=now)
    assert got["closed"].tolist() == [True, False, True, False]
    mapped = read_candles(path, symbol="BTC", interval="1h", now=now,
                          columns={"closed": "closed"})
    assert mapped["closed"].tolist() == [True, False, True, False]
    table.drop(columns=["closed"]).to_csv(path, index=False)
    by_time = read_candles(path, symbol="BTC", interval="1h", now=now)
    assert by_time["closed"].tolist() == [True, True, True, False]


def test_bad_closed_values(tmp_path):
    table = as_table(canonical(2))
    table["closed"] = ["yes", "maybe"]
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"'closed'.*true/false.*'maybe' at data row 1"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)


def test_candles_from_the_future_raise(tmp_path):
    df = canonical(4)
    path = tmp_path / "c.csv"
    as_table(df).to_csv(path, index=False)
    with pytest.raises(InvalidTimeError, match="2 candle.*open after now"):
        read_candles(path, symbol="BTC", interval="1h", now=int(df.index.asi8[1]) + 1)


def test_invalid_candles_name_the_file(tmp_path):
    table = as_table(canonical(3))
    table.loc[1, "high"] = table.loc[1, "low"] - 1
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CandleValidationError, match="bad.csv.*invalid candle") as info:
        read_candles(path, symbol="BTC", interval="1h", now=LATE)
    assert info.value.failures["position"].tolist()[0] == 1


@pytest.mark.parametrize("column, value, match", [
    ("open", "abc", r"column 'open' \(for 'open'\) is not numeric: 'abc' at data row 1"),
    ("trades", 2.5, r"not a whole number: 2.5 at data row 1"),
    ("time", "yesterday", "neither an ISO 8601 time nor an epoch number: 'yesterday' at data"),
    ("time", None, r"time column 'time' has 1 empty value"),
])
def test_bad_values_name_column_and_row(tmp_path, column, value, match):
    table = as_table(canonical(3))
    table[column] = table[column].astype(object)
    table.loc[1, column] = value
    path = tmp_path / "c.csv"
    table.to_csv(path, index=False)
    with pytest.raises(FormatError, match=match):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)


def test_formats_and_unreadable_files(tmp_path):
    df = canonical(3)
    path = tmp_path / "c.txt"
    as_table(df).to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"suffix.*\.csv.*format='csv'"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE)
    pd.testing.assert_frame_equal(
        read_candles(path, symbol="BTC", interval="1h", now=LATE, format="csv"), df)
    with pytest.raises(FormatError, match="as parquet"):
        read_candles(path, symbol="BTC", interval="1h", now=LATE, format="parquet")
    with pytest.raises(FormatError, match="format must be"):
        read_candles(path, symbol="BTC", interval="1h", format="xlsx")
    with pytest.raises(FormatError, match="no such file"):
        read_candles(tmp_path / "missing.csv", symbol="BTC", interval="1h")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="is empty"):
        read_candles(empty, symbol="BTC", interval="1h")


def test_header_only_file_gives_an_empty_frame(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("time,open,high,low,close,volume\n")
    got = read_candles(path, symbol="BTC", interval="1h", source="archive")
    assert len(got) == 0 and validate(got) is got
    assert got.attrs == {"symbol": "BTC", "interval": "1h", "alignment": "calendar",
                         "source": "archive"}


def test_option_checks(tmp_path):
    path = tmp_path / "c.csv"
    as_table(canonical(2)).to_csv(path, index=False)
    with pytest.raises(FormatError, match="time_is must be"):
        read_candles(path, symbol="BTC", interval="1h", time_is="middle")
    with pytest.raises(FormatError, match="time_unit must be"):
        read_candles(path, symbol="BTC", interval="1h", time_unit="min")
    with pytest.raises(FormatError, match="symbol must be"):
        read_candles(path, symbol="", interval="1h")
    with pytest.raises(InvalidIntervalError):
        read_candles(path, symbol="BTC", interval="60m")


def test_import_candles_writes_to_the_store(tmp_path):
    df = canonical(48)
    path = tmp_path / "btc.parquet"
    as_table(df).to_parquet(path)
    store = Store(tmp_path / "s")
    stats = import_candles(path, store=store, symbol="BTC", interval="1h", now=LATE,
                           source="archive")
    assert isinstance(stats, WriteStats) and stats.inserted == 48
    pd.testing.assert_frame_equal(store.read("BTC", "1h", source="archive"),
                                  _with_source(df, "archive"))
    again = import_candles(path, store=str(tmp_path / "s"), symbol="BTC", interval="1h",
                           now=LATE, source="archive")
    assert again.unchanged == 48 and again.inserted == 0
    import_candles(path, symbol="ETH", interval="1h", now=LATE)  # default store
    assert Store().symbols() == ["ETH"]


def _with_source(df: pd.DataFrame, source: str) -> pd.DataFrame:
    out = df.copy()
    out.attrs["source"] = source
    return out


@pytest.mark.parametrize(("file_interval", "asked", "n"), [
    ("1h", "1m", 48), ("1h", "15m", 5), ("1d", "1h", 10), ("3d", "1d", 4)])
def test_a_file_spaced_like_a_coarser_interval_is_refused(tmp_path, file_interval, asked, n):
    df = canonical(n, interval=file_interval,
                   start_ordinal=int(T0 // parse_interval(file_interval).nominal_ms))
    path = tmp_path / "candles.csv"
    as_table(df).to_csv(path, index=False)
    store = Store(tmp_path / "s")
    with pytest.raises(FormatError, match=f"looks like {file_interval} candles") as err:
        import_candles(path, store=store, symbol="BTC", interval=asked, now=LATE)
    assert f"--interval {file_interval}" in str(err.value)
    assert store.series() == []  # nothing stored
    assert len(read_candles(path, symbol="BTC", interval=file_interval, now=LATE)) == n


def test_sparse_candles_of_the_right_interval_are_kept(tmp_path):
    """Gaps alone are no evidence: minutes 7 apart fit no coarser interval's boundaries."""
    df = canonical(6, interval="1m", start_ordinal=int(T0 // 60_000) + 1)
    sparse = canonical(40, interval="1m", start_ordinal=int(T0 // 60_000) + 1).iloc[::7]
    for frame in (df, sparse):
        path = tmp_path / "m.csv"
        as_table(frame).to_csv(path, index=False)
        assert len(read_candles(path, symbol="BTC", interval="1m", now=LATE)) == len(frame)


def test_cli_import_refuses_hourly_candles_as_minutes(tmp_path, capsys):
    from candlekit.cli import main

    path = tmp_path / "btc_1h.csv"
    as_table(canonical(24)).to_csv(path, index=False)
    code = main(["import", str(path), "--symbol", "BTC", "--interval", "1m",
                 "--data", str(tmp_path / "s")])
    assert code == 2
    err = capsys.readouterr().err
    assert "looks like 1h candles" in err and "--interval 1h" in err
