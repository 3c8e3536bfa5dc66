"""Coverage and gap tables over a store with deliberate holes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from candlekit.coverage import (
    COVERAGE_TABLE_COLUMNS,
    GAP_TABLE_COLUMNS,
    InProcessScan,
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
    assert eth["total_candles"] == eth["window_candles"] == days * 1440 - missing
    assert eth["completeness_pct"] == pytest.approx(100 * (1 - missing / (days * 1440)))
    assert _row(cov, "ETH", "1h")["missing_candles"] == _minutes(*HOLE_1H, "1h")
    assert cov["synthetic"].all() and cov["synthetic"].dtype == bool
    assert (cov["open_candles"] == 0).all()
    assert (cov["start"] == pd.Timestamp(START, tz="UTC")).all()
    assert (cov["end"] == pd.Timestamp(END, tz="UTC")).all()  # the last bucket's end


def test_reading_a_span_agrees_with_the_footer_statistics(store):
    whole = coverage_table(store)
    read = coverage_table(store, window=(START, END))  # same span, read row by row
    cols = ["earliest", "latest", "total_candles", "window_candles", "expected_candles",
            "missing_candles", "open_candles", "completeness_pct"]
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
    assert sol_row["window_candles"] == 0 and sol_row["missing_candles"] == 1440
    assert sol_row["completeness_pct"] == 0.0
    # beside the window, the whole stored series (the seed's coverage fields)
    assert sol_row["total_candles"] == 2 * 1440
    assert sol_row["earliest"] == pd.Timestamp(START, tz="UTC")
    assert sol_row["latest"] == pd.Timestamp("2026-10-02T23:59Z")
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
    with pytest.raises(FormatError, match="not both"):
        coverage_table(store, client=object(), scan=InProcessScan())


def test_the_rows_are_built_from_what_the_scan_counts(store):
    """scan= is the only part that reads candles: the same code builds the rows."""
    from candlekit.intervals import count_buckets

    class Blind(InProcessScan):
        def stored_before(self, store, rows, pieces, points, bad):
            return [np.zeros(len(p), np.int64) for p in points]

        def gaps(self, store, rows, bad):
            return [(np.array([r.start.value // 10**6]), np.array([r.end.value // 10**6]),
                     np.array([count_buckets(r.start, r.end, r.interval)]))
                    for r in rows]

    window = ("2026-10-02", "2026-10-03")
    cov = coverage_table(store, window=window, scan=Blind())
    assert (cov["window_candles"] == 0).all() and (cov["completeness_pct"] == 0).all()
    assert (cov["missing_candles"] == cov["expected_candles"]).all()
    assert (cov["total_candles"] == coverage_table(store)["total_candles"]).all()  # footers
    gaps = gap_table(store, window=window, scan=Blind())
    assert len(gaps) == 4 and (gaps["missing_candles"] > 0).all()
    assert (gaps["end"] - gaps["start"] == pd.Timedelta(days=1)).all()


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
                                       "total candles", "open candles"]
    assert {"window from", "window to", "candles in window", "expected candles",
            "missing candles"} <= set(shown)
    with pytest.raises(FormatError, match="coverage table"):
        format_coverage(cov.drop(columns="completeness_pct"))


def test_default_store_is_candlekit_data(store, monkeypatch):
    monkeypatch.setenv("CANDLEKIT_DATA", str(store.root))
    assert open_store(None).root == store.root
    assert len(coverage_table(None)) == 4


def test_the_seed_fields_are_the_whole_stored_span_whatever_the_window(store):
    whole = coverage_table(store)
    for window in ("1d", ("2026-10-02T02:00", "2026-10-02T11:00")):
        cov = coverage_table(store, window=window)
        for c in ("earliest", "latest", "total_candles", "open_candles"):
            assert cov[c].tolist() == whole[c].tolist()
        assert (cov["window_candles"] < cov["total_candles"]).all()
        assert (cov["window_candles"] + cov["missing_candles"]
                == cov["expected_candles"]).all()


def _task(store, symbols, intervals, start, end, *, earliest=None, source="synthetic"):
    from candlekit.backfill.registry import TaskRegistry
    from candlekit.timeutil import to_ms

    reg = TaskRegistry(store)
    reg.create(symbols, intervals, start=to_ms(start), end=None if end is None else to_ms(end),
               source=source)
    if earliest is not None:
        for sym in symbols:
            for iv in intervals:
                reg.set_earliest_available(source, sym, iv, to_ms(earliest),
                                           observed_ms=to_ms(END))
    return reg


def test_a_backfill_asking_for_history_the_upstream_no_longer_has_is_not_100pct(store):
    # asked from 2026-09-30; the upstream serves 1m only from 2026-10-02, 1h from earlier
    _task(store, ["BTC"], ["1m"], "2026-09-30", None, earliest="2026-10-02")
    reg = _task(store, ["BTC"], ["1h"], "2026-09-30", END, earliest="2026-09-30")
    before = reg.list()
    cov = coverage_table(store)
    m = _row(cov, "BTC", "1m")
    assert m["completeness_pct"] == 100.0  # the stored span is whole ...
    assert m["requested_start"] == pd.Timestamp("2026-09-30", tz="UTC")
    assert m["requested_end"] == pd.Timestamp(END, tz="UTC")  # no end: up to the latest
    assert m["requested_candles"] == 4 * 1440
    assert m["requested_stored"] == 3 * 1440
    # ... but the day before the first stored candle was gone upstream; candles stored
    # before the upstream's earliest time (2026-10-01) do not count as unavailable
    assert m["unavailable_upstream"] == 1440
    assert m["requested_pct"] == pytest.approx(75.0)
    h = _row(cov, "BTC", "1h")
    assert (h["requested_candles"], h["requested_stored"], h["unavailable_upstream"]) == (
        4 * 24, 3 * 24, 0)  # missing, but not for want of upstream history
    eth = _row(cov, "ETH", "1m")
    assert eth["requested_candles"] == 0 and pd.isna(eth["requested_pct"])
    assert pd.isna(eth["requested_start"])
    shown = format_coverage(cov)
    assert {"requested", "stored of requested", "unavailable upstream",
            "requested %"} <= set(shown)
    assert "unavailable upstream" in coverage_summary_html(store, cov)
    pd.testing.assert_frame_equal(reg.list(), before)  # read through the registry only


def _corrupt_store(tmp_path) -> tuple[Store, Path]:
    st = Store(tmp_path / "store")
    st.write(synthetic_candles("BTC", "1h", "2025-12-30", "2026-01-03", seed=1))
    st.write(synthetic_candles("ETH", "1h", "2025-12-30", "2026-01-03", seed=2))
    bad = st.series_path("ETH", "1h", source="synthetic") / "period=2025-01-01" / "part-0.parquet"
    assert bad.exists()
    bad.write_bytes(b"PAR1 this is not a parquet file any more")
    return st, bad



@pytest.mark.parametrize("window", [None, ("2025-12-30", "2026-01-03")])
def test_a_corrupted_file_is_named_once_and_its_period_is_unreadable_not_missing(
        tmp_path, window):
    import warnings

    st, bad = _corrupt_store(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw Python warning line
        cov = coverage_table(st, window=window)
        gaps = gap_table(st, window=window)
    btc, eth = _row(cov, "BTC", "1h"), _row(cov, "ETH", "1h")
    assert btc["total_candles"] == 96 and btc["missing_candles"] == 0 and btc["note"] == ""
    assert eth["total_candles"] == 48 and eth["missing_candles"] == 0
    assert eth["earliest"] == pd.Timestamp("2026-01-01", tz="UTC")
    assert str(bad) in eth["note"] and eth["note"].count(str(bad)) == 1
    assert eth["unreadable_candles"] == (48 if window else 0)
    assert eth["completeness_pct"] == (50.0 if window else 100.0)
    warn = gaps[gaps["status"] == "unreadable"]
    assert len(warn) == 1 and warn.iloc[0]["symbol"] == "ETH"
    assert str(bad) in warn.iloc[0]["note"] and warn.iloc[0]["missing_candles"] == 0
    if window:
        assert (warn.iloc[0]["start"], warn.iloc[0]["end"]) == (
            pd.Timestamp("2025-12-30", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC"))
    assert (gaps["status"] == "missing").sum() == 0  # the unreadable period is no gap
    assert "unreadable candles" in format_coverage(cov) and "note" in format_coverage(cov)
    assert "unreadable files" in coverage_summary_html(st, cov)


def test_a_series_whose_every_file_is_corrupted_still_gets_a_row(tmp_path):
    st = Store(tmp_path / "store")
    st.write(synthetic_candles("BTC", "1h", "2026-01-01", "2026-01-02", seed=1))
    st.write(synthetic_candles("SOL", "1h", "2026-01-01", "2026-01-02", seed=3))
    bad = st.series_path("SOL", "1h", source="synthetic") / "period=2026-01-01" / "part-0.parquet"
    bad.write_bytes(b"garbage")
    cov = coverage_table(st)
    sol = _row(cov, "SOL", "1h")
    assert sol["total_candles"] == 0 and pd.isna(sol["earliest"]) and str(bad) in sol["note"]
    assert sol["missing_candles"] == 0 and sol["unreadable_candles"] == 365 * 24
    assert _row(cov, "BTC", "1h")["total_candles"] == 24
    gaps = gap_table(st)
    assert gaps["status"].tolist() == ["unreadable"] and gaps["symbol"].tolist() == ["SOL"]
