"""Importing freqtrade OHLCV files: every format, names, alignment recognition, duplicates."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import FormatError, InvalidIntervalError
from candlekit.freqtrade import parse_freqtrade_name, read_freqtrade
from candlekit.intervals import ordinal_to_ms
from candlekit.schema import validate

FORMATS = ["feather", "parquet", "json", "json.gz"]
DAY = 86_400_000


def write_freqtrade(path, ms, rows=None):
    """A file in freqtrade's layout for ``path``'s format (OHLCV rows derived from ms)."""
    ms = np.asarray(ms, dtype=np.int64)
    if rows is None:
        base = 100 + (ms // 60_000 % 97).astype(float)
        rows = np.column_stack([base, base + 2, base - 1, base + 1, np.full(len(ms), 3.5)])
    name = path.name
    if name.endswith((".json", ".json.gz")):
        data = [[int(t), *map(float, r)] for t, r in zip(ms, rows)]
        text = json.dumps(data)
        if name.endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            path.write_text(text)
        return
    raw = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
    raw.insert(0, "date", pd.to_datetime(ms, unit="ms", utc=True).as_unit("ns"))
    if name.endswith(".feather"):
        raw.to_feather(path)
    else:
        raw.to_parquet(path)


@pytest.mark.parametrize("name, pair, symbol, interval, candle_type, fmt", [
    ("BTC_USDC_USDC-1h-futures.feather", "BTC/USDC:USDC", "BTC", "1h", "futures", "feather"),
    ("ETH_USDT-5m.json", "ETH/USDT", "ETH", "5m", "spot", "json"),
    ("ETH_USDC_USDC-1Mo-futures.feather", "ETH/USDC:USDC", "ETH", "1M", "futures", "feather"),
    ("SOL_USDT-1w.json.gz", "SOL/USDT", "SOL", "1w", "spot", "json.gz"),
    ("1000PEPE_USDT_USDT-1s-mark.parquet", "1000PEPE/USDT:USDT", "1000PEPE", "1s", "mark",
     "parquet"),
    ("BTC_USDC-1M.parquet", "BTC/USDC", "BTC", "1M", "spot", "parquet"),
])
def test_parse_name(name, pair, symbol, interval, candle_type, fmt):
    assert parse_freqtrade_name(f"/some/dir/{name}") == {
        "pair": pair, "symbol": symbol, "interval": interval, "candle_type": candle_type,
        "format": fmt}


@pytest.mark.parametrize("name, error", [
    ("BTC_USDT.feather", FormatError),
    ("BTC_USDT-1h.csv", FormatError),
    ("BTC-1h.feather", FormatError),
    ("BTC_USDT-1h-futures.feather", FormatError),  # futures need a settle currency
    ("BTC_USDT-7m.feather", InvalidIntervalError),
])
def test_bad_names(name, error):
    with pytest.raises(error):
        parse_freqtrade_name(name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_every_format(tmp_path, fmt):
    path = tmp_path / f"ETH_USDC_USDC-1m-futures.{fmt}"
    ms = 1_735_689_600_000 + np.array([0, 1, 2, 4]) * 60_000
    write_freqtrade(path, ms)
    df = read_freqtrade(path, now=int(ms[-1]) + 30_000)
    assert df.index.asi8.tolist() == ms.tolist()
    assert df["open"].tolist() == (100 + (ms // 60_000 % 97)).astype(float).tolist()
    assert df["volume"].tolist() == [3.5] * 4
    assert df["quote_volume"].isna().all() and df["trades"].isna().all()
    assert df["closed"].tolist() == [True, True, True, False]  # the last closes later
    assert df.attrs == {"symbol": "ETH", "interval": "1m", "alignment": "calendar",
                        "source": "freqtrade", "pair": "ETH/USDC:USDC",
                        "candle_type": "futures"}
    validate(df)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sorts_and_drops_exact_duplicates(tmp_path, fmt):
    path = tmp_path / f"BTC_USDT-1h.{fmt}"
    ms = 1_735_689_600_000 + np.array([2, 0, 1, 0, 2]) * 3_600_000
    write_freqtrade(path, ms)
    df = read_freqtrade(path)
    assert df.index.asi8.tolist() == sorted(set(ms.tolist()))
    validate(df)


@pytest.mark.parametrize("fmt", FORMATS)
def test_conflicting_duplicates_raise(tmp_path, fmt):
    path = tmp_path / f"BTC_USDT-1h.{fmt}"
    ms = 1_735_689_600_000 + np.array([0, 1, 1]) * 3_600_000
    rows = np.array([[1, 2, 1, 2, 5], [2, 3, 2, 3, 5], [2, 3, 2, 3, 6]], dtype=float)
    write_freqtrade(path, ms, rows)
    with pytest.raises(FormatError, match="1 conflicting duplicate.*2025-01-01 01:00"):
        read_freqtrade(path)


def _starts(interval, alignment, first, count):
    return ordinal_to_ms(np.arange(first, first + count), interval, alignment=alignment)


@pytest.mark.parametrize("interval, timeframe, alignment, first", [
    ("1w", "1w", "hyperliquid", 2800),  # Thursdays
    ("1w", "1w", "calendar", 2800),  # Mondays
    ("1M", "1Mo", "hyperliquid", 670),  # 30-day months from the epoch
    ("1M", "1Mo", "calendar", 660),  # calendar months
])
def test_recognises_alignment(tmp_path, interval, timeframe, alignment, first):
    path = tmp_path / f"BTC_USDC_USDC-{timeframe}-futures.feather"
    write_freqtrade(path, _starts(interval, alignment, first, 5))
    df = read_freqtrade(path)
    assert df.attrs["alignment"] == alignment and df.attrs["interval"] == interval
    assert read_freqtrade(path, alignment=alignment).attrs["alignment"] == alignment
    other = "calendar" if alignment == "hyperliquid" else "hyperliquid"
    with pytest.raises(FormatError, match=f"not aligned to '{other}'.*alignment='{alignment}'"):
        read_freqtrade(path, alignment=other)
    validate(df)


@pytest.mark.parametrize("interval, timeframe, shift", [
    ("1w", "1w", 2 * DAY),  # Saturdays
    ("1M", "1Mo", 5 * DAY),  # neither the 1st nor a 30-day boundary
    ("3d", "3d", DAY),
    ("1h", "1h", 60_000),
])
def test_times_matching_neither_alignment_raise(tmp_path, interval, timeframe, shift):
    path = tmp_path / f"BTC_USDT-{timeframe}.json"
    write_freqtrade(path, _starts(interval, "calendar", 660, 3) + shift)
    with pytest.raises(FormatError, match="fit neither alignment"):
        read_freqtrade(path)


def test_three_day_is_the_same_under_both(tmp_path):
    path = tmp_path / "BTC_USDT-3d.json"
    write_freqtrade(path, _starts("3d", "calendar", 6000, 4))
    assert read_freqtrade(path).attrs["alignment"] == "calendar"
    assert read_freqtrade(path, alignment="hyperliquid").attrs["alignment"] == "hyperliquid"


def test_unreadable_files(tmp_path):
    path = tmp_path / "BTC_USDT-1h.json"
    path.write_text('{"not": "rows"}')
    with pytest.raises(FormatError, match="not a list of"):
        read_freqtrade(path)
    path = tmp_path / "BTC_USDT-1h.feather"
    path.write_bytes(b"garbage")
    with pytest.raises(FormatError, match="Cannot read freqtrade file"):
        read_freqtrade(path)
    path = tmp_path / "BTC_USDT-1h.parquet"
    pd.DataFrame({"date": [0], "open": [1.0]}).to_parquet(path)
    with pytest.raises(FormatError, match=r"lacks columns \['high'"):
        read_freqtrade(path)


def test_empty_json(tmp_path):
    path = tmp_path / "BTC_USDT-1h.json"
    path.write_text("[]")
    df = read_freqtrade(path)
    assert len(df) == 0 and df.attrs["pair"] == "BTC/USDT"
    validate(df)


@pytest.mark.shared
def test_every_shared_file(freqtrade_dir):
    """Each real Hyperliquid file reads into a valid frame; 1w/1M are recognised as HL's."""
    paths = sorted(freqtrade_dir.glob("*.feather"))
    assert len(paths) == 28
    for path in paths:
        df = read_freqtrade(path)
        raw = pd.read_feather(path)
        assert len(df) == len(raw), path.name
        assert np.array_equal(df["close"].to_numpy(), raw["close"].to_numpy()), path.name
        want = "hyperliquid" if df.attrs["interval"] in ("1w", "1M") else "calendar"
        assert df.attrs["alignment"] == want, path.name
        assert df.attrs["symbol"] in ("BTC", "ETH") and df.attrs["pair"].endswith("/USDC:USDC")
        validate(df)
