"""The offline demo: synthetic market -> store -> resample -> coverage and gaps."""

import pandas as pd
import pytest

from candlekit.demo import run_demo
from candlekit.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("demo-store"))
    kw = {"symbols": ("BTC", "xyz:NVDA"), "start": "2026-10-01", "end": "2026-10-08",
          "intervals": ("1h", "1d", "1w"),
          "outage": ("BTC", "2026-10-03T01:00Z", "2026-10-03T02:30Z"), "progress": False}
    return run_demo(store, **kw), kw


def test_demo_coverage_lists_every_series_as_synthetic(demo):
    result, kw = demo
    cov = result.coverage
    assert set(cov["source"]) == {"synthetic"}
    assert set(zip(cov["symbol"], cov["interval"])) == {
        (s, i) for s in kw["symbols"] for i in ("1m", "1h", "1d", "1w")}
    row = cov[(cov.symbol == "xyz:NVDA") & (cov.interval == "1m")].iloc[0]
    assert row["total_candles"] == 7 * 1440
    assert row["earliest"] == pd.Timestamp("2026-10-01", tz="UTC")
    assert row["latest"] == pd.Timestamp("2026-10-07T23:59", tz="UTC")
    btc = cov[(cov.symbol == "BTC") & (cov.interval == "1m")].iloc[0]
    assert btc["total_candles"] == 7 * 1440 - 90


def test_demo_gap_table_finds_exactly_the_outage(demo):
    result, _ = demo
    gaps = result.gaps
    one_min = gaps[(gaps.symbol == "BTC") & (gaps.interval == "1m")]
    assert len(one_min) == 1
    g = one_min.iloc[0]
    assert g["start"] == pd.Timestamp("2026-10-03T01:00", tz="UTC")
    assert g["end"] == pd.Timestamp("2026-10-03T02:29", tz="UTC")
    assert g["missing_candles"] == 90
    # hours still have candles (partially filled), and NVDA has no gaps at all
    assert gaps[gaps.symbol == "xyz:NVDA"].empty


def test_demo_marks_incomplete_buckets_not_closed(demo):
    result, _ = demo
    hours = result.store.read("BTC", "1h", source="synthetic")
    partial = hours.loc[pd.Timestamp("2026-10-03T02:00", tz="UTC")]
    assert not partial["closed"]
    assert hours.drop(index=[pd.Timestamp("2026-10-03T01:00", tz="UTC"),
                             pd.Timestamp("2026-10-03T02:00", tz="UTC")],
                      errors="ignore")["closed"].sum() >= 7 * 24 - 3


def test_demo_twice_stores_nothing_twice(demo):
    result, kw = demo
    before = result.coverage.sort_values(["symbol", "interval"]).reset_index(drop=True)
    again = run_demo(result.store, **kw).coverage.sort_values(
        ["symbol", "interval"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before[["symbol", "interval", "total_candles"]],
                                  again[["symbol", "interval", "total_candles"]])
