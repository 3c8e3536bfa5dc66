"""Coverage and gap tables over a store with deliberate holes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlekit.coverage import (
    COVERAGE_TABLE_COLUMNS,
    GAP_TABLE_COLUMNS,
    coverage_summary_html,
    coverage_table,
    format_coverage,
    gap_table,
    open_store,
)
from candlekit.errors import FormatError, InvalidIntervalError, InvalidTimeError
from candlekit.frame import make_frame
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

START, END = "2026-10-01", "2026-10-04"
HOLE_1M = (pd.Timestamp("2026-10-02T03:00Z"), pd.Timestamp("2026-10-02T04:30Z"))
HOLE_1H = (pd.Timestamp("2026-10-02T10:00Z"), pd.Timestamp("2026-10-02T12:00Z"))


def _without(df: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    out = df[(df.index < lo) | (df.index >= hi)]
    out.attrs = dict(df.attrs)
    return out


@pytest.fixture
def store(tmp_path) -> Store:
    """BTC and ETH at 1m and 1h over three days; ETH has one hole in each interval."""
    st = Store(tmp_path / "store")
    for symbol in ("BTC", "ETH"):
        for interval, hole in (("1m", HOLE_1M), ("1h", HOLE_1H)):
            df = synthetic_candles(symbol, interval, START, END, seed=7)
            st.write(_without(df, *hole) if symbol == "ETH" else df)
    return st


def _row(table: pd.DataFrame, symbol: str, interval: str) -> pd.Series:
    rows = table[(table["symbol"] == symbol) & (table["interval"] == interval)]
    assert len(rows) == 1
    return rows.iloc[0]


def _minutes(lo: pd.Timestamp, hi: pd.Timestamp, step: str) -> int:
    return int((hi - lo) / pd.Timedelta(step))


def test_coverage_over_the_whole_span_counts_stored_and_missing_candles(store):
    cov = coverage_table(store)
    assert tuple(cov.columns) == COVERAGE_TABLE_COLUMNS
    assert list(zip(cov["symbol"], cov["interval"])) == [("BTC", "1m"), ("BTC", "1h"),
                                                         ("ETH", "1m"), ("ETH", "1h")]
    days = (pd.Timestamp(END) - pd.Timestamp(START)).days
    btc = _row(cov, "BTC", "1m")
    assert btc["expected_candles"] == btc["total_candles"] == days * 1440
    assert btc["completeness_pct"] == 100.0 and btc["missing_candles"] == 0
    eth = _row(cov, "ETH", "1m")
    missing = _minutes(*HOLE_1M, "1min")
    assert eth["expected_candles"] == days * 1440
    assert eth["missing_candles"] == missing
    assert eth["total_candles"] == days * 1440 - missing
    assert eth["completeness_pct"] == pytest.approx(100 * (1 - missing / (days * 1440)))
    assert _row(cov, "ETH", "1h")["missing_candles"] == _minutes(*HOLE_1H, "1h")
    assert cov["synthetic"].all() and cov["synthetic"].dtype == bool
    assert (cov["open_candles"] == 0).all()
    assert (cov["start"] == pd.Timestamp(START, tz="UTC")).all()
    assert (cov["end"] == pd.Timestamp(END, tz="UTC")).all()  # the last bucket's end


def test_reading_a_span_agrees_with_the_footer_statistics(store):
    whole = coverage_table(store)
    read = coverage_table(store, window=(START, END))  # same span, read row by row
    cols = ["earliest", "latest", "total_candles", "expected_candles", "missing_candles",
            "open_candles", "completeness_pct"]
    pd.testing.assert_frame_equal(whole[cols], read[cols])


def test_window_is_the_latest_stretch_and_exposes_a_series_that_stopped(store, tmp_path):
    sol = synthetic_candles("SOL", "1m", START, "2026-10-03", seed=7)  # stops a day early
    store.write(sol)
    cov = coverage_table(store, window="1d")
    last_day = (pd.Timestamp("2026-10-03", tz="UTC"), pd.Timestamp(END, tz="UTC"))
    assert (cov["start"] == last_day[0]).all() and (cov["end"] == last_day[1]).all()
    assert _row(cov, "BTC", "1m")["expected_candles"] == 1440
    assert _row(cov, "BTC", "1h")["expected_candles"] == 24
    sol_row = _row(cov, "SOL", "1m")
    assert sol_row["total_candles"] == 0 and sol_row["missing_candles"] == 1440
    assert sol_row["completeness_pct"] == 0.0 and pd.isna(sol_row["earliest"])
    # the same window as explicit bounds, and a window holding the ETH hole
    pd.testing.assert_frame_equal(cov, coverage_table(store, window=last_day))
    day2 = coverage_table(store, symbols="ETH", window=("2026-10-02", "2026-10-03"))
    assert _row(day2, "ETH", "1m")["missing_candles"] == _minutes(*HOLE_1M, "1min")


def test_now_extends_spans_to_show_the_missing_tail(store):
    now = pd.Timestamp("2026-10-05", tz="UTC")
    cov = coverage_table(store, symbols="BTC", now=now)
    row = _row(cov, "BTC", "1h")
    assert row["end"] == now and row["missing_candles"] == 24
    gaps = gap_table(store, symbols="BTC", now=now)
    assert (gaps["start"] == pd.Timestamp(END, tz="UTC")).all()
    assert (gaps["end"] == now).all()


def test_gap_table_lists_holes_largest_first_with_exclusive_ends(store):
    gaps = gap_table(store)
    assert tuple(gaps.columns) == GAP_TABLE_COLUMNS
    assert len(gaps) == 2
    first, second = gaps.iloc[0], gaps.iloc[1]
    assert (first["interval"], first["start"], first["end"]) == ("1h", *HOLE_1H)
    assert (second["interval"], second["start"], second["end"]) == ("1m", *HOLE_1M)
    assert first["duration"] == HOLE_1H[1] - HOLE_1H[0]
    assert second["missing_candles"] == _minutes(*HOLE_1M, "1min")
    assert gaps["duration"].is_monotonic_decreasing


@pytest.mark.parametrize("window", [None, "1d", "2d", ("2026-10-02T02:00", "2026-10-02T11:00")])
def test_gap_table_adds_up_to_the_coverage_table(store, window):
    cov = coverage_table(store, window=window)
    gaps = gap_table(store, window=window)
    per_series = gaps.groupby(["symbol", "interval", "source"])["missing_candles"].sum()
    for row in cov.itertuples(index=False):
        assert per_series.get((row.symbol, row.interval, row.source), 0) == row.missing_candles


def test_a_gap_clipped_by_the_window_starts_at_the_window(store):
    window = (HOLE_1M[0] + pd.Timedelta("30min"), "2026-10-03")
    gaps = gap_table(store, symbols="ETH", intervals="1m", window=window)
    assert gaps["start"].tolist() == [window[0]]
    assert gaps["end"].tolist() == [HOLE_1M[1]]


def test_open_candles_are_counted(tmp_path):
    st = Store(tmp_path)
    st.write(synthetic_candles("BTC", "1h", START, END, seed=7, now="2026-10-03T12:30Z"))
    cov = coverage_table(st)
    assert cov["open_candles"].tolist() == [1]
    assert cov["latest"].tolist() == [pd.Timestamp("2026-10-03T12:00Z")]


def test_calendar_months_are_counted_as_calendar_months(tmp_path):
    months = pd.date_range("2025-01-01", periods=12, freq="MS", tz="UTC")
    kept = months.delete(4)  # no May
    ones = np.ones(len(kept))
    st = Store(tmp_path)
    st.write(make_frame(kept, ones, ones * 2, ones / 2, ones, ones, symbol="BTC",
                        interval="1M", source="hyperliquid"))
    cov = coverage_table(st)
    assert cov[["expected_candles", "missing_candles"]].values.tolist() == [[12, 1]]
    assert not cov["synthetic"].any()
    gaps = gap_table(st)
    assert (gaps["start"].tolist(), gaps["end"].tolist()) == ([months[4]], [months[5]])


def test_filters_select_series(store):
    assert coverage_table(store, symbols="ETH")["symbol"].unique().tolist() == ["ETH"]
    assert coverage_table(store, intervals=["1h"])["interval"].unique().tolist() == ["1h"]
    assert coverage_table(store, sources="hyperliquid").empty
    assert gap_table(store, symbols=["BTC"]).empty


def test_bad_arguments_raise_errors_that_say_what_to_do(store):
    with pytest.raises(InvalidIntervalError):
        coverage_table(store, intervals="7m")
    for window in ("1M", "-1d", "soon", ("2026-10-03", "2026-10-02"), ("2026-10-02",)):
        with pytest.raises(InvalidTimeError, match="window|Window"):
            coverage_table(store, window=window)
    with pytest.raises(FormatError, match="symbols"):
        coverage_table(store, symbols=[1])
    with pytest.raises(FormatError, match="Store"):
        open_store(42)


def test_an_empty_store_gives_empty_tables_and_says_how_to_fill_it(tmp_path):
    st = Store(tmp_path / "nothing-here")
    cov = coverage_table(st, window="30d")
    gaps = gap_table(st, window="30d")
    assert cov.empty and tuple(cov.columns) == COVERAGE_TABLE_COLUMNS
    assert gaps.empty and tuple(gaps.columns) == GAP_TABLE_COLUMNS
    message = coverage_summary_html(st, cov)
    assert "empty" in message and "make demo" in message and "candlekit backfill" in message
    assert format_coverage(cov).empty


def test_summary_names_what_a_selection_missed(store):
    message = coverage_summary_html(store, coverage_table(store, symbols="DOGE"))
    assert "No stored series match" in message and "ETH 1m (synthetic)" in message
    summary = coverage_summary_html(store, coverage_table(store))
    assert "4 series" in summary and "synthetic" in summary


def test_format_coverage_never_rounds_an_incomplete_series_up_to_100(store):
    cov = coverage_table(store)
    cov.loc[0, "completeness_pct"] = 99.9999
    shown = format_coverage(cov)
    assert shown.loc[0, "completeness %"] == 99.99
    assert list(shown.columns[:7]) == ["symbol", "interval", "source", "earliest", "latest",
                                       "total candles", "expected candles"]
    with pytest.raises(FormatError, match="coverage table"):
        format_coverage(cov.drop(columns="completeness_pct"))


def test_default_store_is_candlekit_data(store, monkeypatch):
    monkeypatch.setenv("CANDLEKIT_DATA", str(store.root))
    assert open_store(None).root == store.root
    assert len(coverage_table(None)) == 4
