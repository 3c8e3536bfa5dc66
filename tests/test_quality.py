"""Data-quality findings on frames with planted problems, and on clean synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlekit.errors import CandleValidationError, FormatError
from candlekit.quality import (
    FINDING_COLUMNS,
    FINDING_KINDS,
    quality_findings,
    store_findings,
    summarize_findings,
)
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles


@pytest.fixture(scope="module")
def minutes() -> pd.DataFrame:
    """Two clean days of BTC 1m candles."""
    return synthetic_candles("BTC", "1m", "2026-10-01", "2026-10-03", seed=7)


def _copy(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.attrs = dict(df.attrs)
    return out


def _set(df: pd.DataFrame, rows, column: str, value) -> None:
    df.iloc[rows, df.columns.get_loc(column)] = value


def _kind(found: pd.DataFrame, kind: str) -> pd.DataFrame:
    return found[found["kind"] == kind]


def test_clean_synthetic_candles_give_no_findings(minutes):
    found = quality_findings(minutes)
    assert tuple(found.columns) == FINDING_COLUMNS
    assert found.empty
    assert str(found["time"].dtype) == "datetime64[ms, UTC]"
    assert found.attrs["symbol"] == "BTC" and found.attrs["interval"] == "1m"


@pytest.mark.parametrize(("symbol", "interval", "start", "end"), [
    ("ETH", "1m", "2026-10-01", "2026-10-05"),
    ("SOL", "5m", "2026-08-01", "2026-09-01"),
    ("HYPE", "4h", "2026-01-01", "2026-07-01"),
    ("BTC", "1d", "2025-01-01", "2026-01-01"),
])
def test_clean_synthetic_candles_give_no_jumps_at_the_default_threshold(symbol, interval,
                                                                        start, end):
    found = quality_findings(synthetic_candles(symbol, interval, start, end, seed=3))
    assert _kind(found, "jump").empty and _kind(found, "open_gap").empty


def test_jumps_are_rare_on_a_year_of_hourly_synthetic_candles():
    # hourly candles are the hardest case: the synthetic market's volatility clusters with
    # a one-hour memory, so a few extreme hours stand out from their neighbours, as news
    # hours do in real markets; they exceed 8 local sigmas, but rarely
    candles = flagged = 0
    for symbol in ("BTC", "ETH", "SOL"):
        df = synthetic_candles(symbol, "1h", "2025-01-01", "2026-01-01", seed=11)
        candles += len(df)
        flagged += len(_kind(quality_findings(df), "jump"))
    assert candles == 3 * 365 * 24
    assert flagged <= candles / 5000


def test_a_level_shift_is_a_jump_and_an_open_gap(minutes):
    df = _copy(minutes)
    at = 1000
    for col in ("open", "high", "low", "close"):
        _set(df, slice(at, None), col, df[col].iloc[at:] * 1.05)
    found = quality_findings(df)
    jump, gap = _kind(found, "jump"), _kind(found, "open_gap")
    assert jump["time"].tolist() == [df.index[at]] and gap["time"].tolist() == [df.index[at]]
    closes = df["close"].to_numpy()
    assert jump["value"].iloc[0] == pytest.approx(np.log(closes[at] / closes[at - 1]))
    assert gap["value"].iloc[0] == pytest.approx(np.log(df["open"].iloc[at] / closes[at - 1]))
    assert "robust sigmas" in jump["detail"].iloc[0]
    assert len(found) == 2


def test_a_bad_tick_is_a_jump_there_and_back(minutes):
    df = _copy(minutes)
    at = 2000
    _set(df, at, "close", df["close"].iloc[at] * 1.03)
    _set(df, at, "high", max(df["high"].iloc[at], df["close"].iloc[at]))
    found = quality_findings(df)
    jumps = _kind(found, "jump")
    assert jumps["time"].tolist() == [df.index[at], df.index[at + 1]]
    assert jumps["value"].iloc[0] > 0 > jumps["value"].iloc[1]
    # the next candle opens where the bad close left off: that is an open gap too
    assert _kind(found, "open_gap")["time"].tolist() == [df.index[at + 1]]


def test_missing_candles_are_not_mistaken_for_jumps(minutes):
    df = minutes[(minutes.index < "2026-10-01T10:00Z") | (minutes.index >= "2026-10-01T16:00Z")]
    df.attrs = dict(minutes.attrs)
    after = df.index.get_loc(pd.Timestamp("2026-10-01T16:00Z"))
    raw = abs(np.log(df["close"].iloc[after] / df["close"].iloc[after - 1]))
    assert raw > 0  # the price moved across the hole
    assert quality_findings(df).empty


def test_zero_volume_and_flat_runs(minutes):
    df = _copy(minutes)
    _set(df, slice(500, 510), "volume", 0.0)  # 10 candles without volume
    _set(df, slice(700, 704), "volume", 0.0)  # 4: below the default run of 5
    for col in ("open", "high", "low", "close"):  # 8 copies of candle 899, with volume
        _set(df, slice(900, 908), col, df[col].iloc[899])
    found = quality_findings(df)
    zero = _kind(found, "zero_volume")
    assert zero["time"].tolist() == [df.index[500]] and zero["value"].tolist() == [10.0]
    flat = _kind(found, "flat")
    assert flat["time"].tolist() == [df.index[899]] and flat["value"].tolist() == [9.0]
    assert "stale" in flat["detail"].iloc[0]
    assert quality_findings(df, zero_volume_run=4)["kind"].tolist().count("zero_volume") == 2


def test_a_run_of_no_trade_candles_is_zero_volume_only(minutes):
    df = _copy(minutes)
    rows = slice(300, 320)
    price = df["close"].iloc[299]
    for col in ("open", "high", "low", "close"):
        _set(df, rows, col, price)
    _set(df, rows, "volume", 0.0)
    _set(df, rows, "quote_volume", 0.0)
    _set(df, rows, "trades", 0)
    _set(df, 320, "open", price)  # the next candle opens at the last close, as it would
    _set(df, 320, "low", min(df["low"].iloc[320], price))
    _set(df, 320, "high", max(df["high"].iloc[320], price))
    found = quality_findings(df)
    assert found["kind"].tolist() == ["zero_volume"]
    assert found["value"].tolist() == [20.0]


def test_invalid_and_open_candles(minutes):
    df = _copy(minutes)
    _set(df, 100, "high", df["low"].iloc[100] * 0.99)  # high below low, open and close
    _set(df, 200, "closed", False)
    _set(df, len(df) - 1, "closed", False)
    found = quality_findings(df)
    invalid = _kind(found, "invalid")
    assert set(invalid["time"]) == {df.index[100]}
    assert any("high < max(open, close)" in d for d in invalid["detail"])
    opened = _kind(found, "open")
    assert opened["time"].tolist() == [df.index[200], df.index[-1]]
    assert "should have closed" in opened["detail"].iloc[0]
    assert "still forming" in opened["detail"].iloc[1]


def test_unsorted_and_duplicated_rows_are_invalid_and_still_audited(minutes):
    df = minutes.iloc[:400]
    shuffled = pd.concat([df.iloc[200:], df.iloc[:200], df.iloc[[199]]])
    shuffled.attrs = dict(minutes.attrs)
    found = quality_findings(shuffled)
    checks = set(_kind(found, "invalid")["detail"])
    assert any("not increasing" in c for c in checks) and any("duplicate" in c for c in checks)
    assert set(found["kind"]) == {"invalid"}


def test_findings_are_in_time_order_with_known_kinds(minutes):
    df = _copy(minutes)
    _set(df, 50, "closed", False)
    _set(df, slice(40, 47), "volume", 0.0)
    found = quality_findings(df)
    assert found["time"].is_monotonic_increasing
    assert set(found["kind"]) <= set(FINDING_KINDS)


def test_bad_options_and_frames_raise(minutes):
    for options in ({"jump_sigma": 0}, {"jump_sigma": float("nan")}, {"flat_run": -1},
                    {"window": True}):
        with pytest.raises(FormatError, match="positive"):
            quality_findings(minutes, **options)
    df = minutes.copy()
    df.attrs = {}
    with pytest.raises(CandleValidationError, match="interval"):
        quality_findings(df)
    with pytest.raises(CandleValidationError, match="missing candle columns"):
        quality_findings(minutes.drop(columns="volume"))


def test_store_findings_name_the_series_and_respect_the_window(tmp_path, minutes):
    st = Store(tmp_path)
    st.write(minutes)
    eth = synthetic_candles("ETH", "1m", "2026-10-01", "2026-10-03", seed=7)
    shifted = _copy(eth)
    for col in ("open", "high", "low", "close"):
        _set(shifted, slice(600, None), col, eth[col].iloc[600:] * 0.9)
    st.write(shifted)
    found = store_findings(st)
    assert list(found.columns) == ["symbol", "interval", "source", *FINDING_COLUMNS]
    assert set(found["symbol"]) == {"ETH"}
    assert set(found["kind"]) == {"jump", "open_gap"}
    assert (found["time"] == eth.index[600]).all()
    assert store_findings(st, window="1d").empty  # the shift is on the first day
    empty = store_findings(Store(tmp_path / "empty"))
    assert empty.empty and list(empty.columns) == list(found.columns)


def test_summary_counts_findings_per_series_and_kind(tmp_path, minutes):
    st = Store(tmp_path)
    df = _copy(minutes)
    for start in (100, 300, 500):
        _set(df, slice(start, start + 6), "volume", 0.0)
    _set(df, len(df) - 1, "closed", False)
    st.write(df)
    st.write(synthetic_candles("ETH", "1h", "2026-10-01", "2026-10-03", seed=7))
    summary = summarize_findings(store_findings(st))
    assert list(summary.columns) == ["symbol", "interval", "source", "kind", "findings",
                                     "first", "last", "example"]
    assert summary[["symbol", "kind", "findings"]].values.tolist() == [
        ["BTC", "open", 1], ["BTC", "zero_volume", 3]]
    zero = summary.iloc[1]
    assert (zero["first"], zero["last"]) == (df.index[100], df.index[500])
    assert zero["example"].startswith("6 consecutive candles with zero volume")
    per_kind = summarize_findings(quality_findings(df))
    assert per_kind["kind"].tolist() == ["open", "zero_volume"]
    empty = summarize_findings(store_findings(Store(tmp_path / "none")))
    assert empty.empty and str(empty["first"].dtype) == "datetime64[ms, UTC]"
    with pytest.raises(FormatError, match="findings table"):
        summarize_findings(pd.DataFrame({"time": []}))


def test_store_findings_name_a_corrupted_file_and_audit_the_rest(tmp_path):
    from candlekit.quality import store_findings
    from candlekit.store import Store
    from candlekit.synthetic import synthetic_candles

    st = Store(tmp_path / "store")
    st.write(synthetic_candles("BTC", "1h", "2025-12-30", "2026-01-03", seed=1))
    st.write(synthetic_candles("ETH", "1h", "2025-12-30", "2026-01-03", seed=2))
    bad = st.series_path("ETH", "1h", source="synthetic") / "period=2025-01-01" / "part-0.parquet"
    bad.write_bytes(b"not parquet")
    found = store_findings(st, window=("2025-12-30", "2026-01-03"))
    unreadable = found[found["kind"] == "unreadable"]
    assert len(unreadable) == 1 and unreadable.iloc[0]["symbol"] == "ETH"
    assert str(bad) in unreadable.iloc[0]["detail"]
