"""The offline demo: emulator -> backfill -> advance the clock -> backfill -> reports."""

import pandas as pd
import pytest

from candlekit.demo import run_demo
from candlekit.emulator import Emulator
from candlekit.store import Store

SYMBOLS = ("BTC", "xyz:NVDA")
INTERVALS = ("1m", "1d")
NOW = "2026-11-01T00:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("demo-store"))
    kw = {"symbols": SYMBOLS, "intervals": INTERVALS, "start": "2026-10-20", "now": NOW,
          "advance": "2d", "reports_dir": None, "progress": False}
    return run_demo(store, **kw), kw


def test_demo_stores_the_emulators_truth_past_its_window(demo):
    result, _ = demo
    assert result.clock == (pd.Timestamp(NOW), pd.Timestamp("2026-11-03T00:00Z"))
    # the same clock history as the demo's emulator: what a perfect client could have stored
    with Emulator("hyperliquid", seed=7, now=result.clock[0], budget=None) as emu:
        emu.set_time(result.clock[1])
        for symbol in SYMBOLS:
            for interval in INTERVALS:
                stored = result.store.read(symbol, interval, source="emulator")
                truth = emu.truth(symbol, interval, "2026-10-20", "2026-11-03")
                pd.testing.assert_frame_equal(stored, truth, check_like=True)
    one_min = result.store.read("BTC", "1m", source="emulator")
    assert len(one_min) == 5000 + 2 * 1440  # more than the upstream's window ever holds


def test_demo_reports_where_history_ends(demo):
    result, _ = demo
    up = result.upstream.set_index(["symbol", "interval"])
    first_window = pd.Timestamp(NOW) - pd.Timedelta(minutes=5000)
    for symbol in SYMBOLS:
        earliest = up.loc[(symbol, "1m"), "earliest_available"]
        # learned by the first task; re-checked by the second (due an hour later): the
        # window slid on by the two days the clock advanced
        assert earliest == first_window + pd.Timedelta(days=2)
        before = (first_window - pd.Timestamp("2026-10-20", tz="UTC")) // pd.Timedelta("1min")
        assert up.loc[(symbol, "1m"), "unavailable"] == before  # not requested again
        assert pd.isna(up.loc[(symbol, "1d"), "earliest_available"])
    gaps = result.gaps
    assert set(gaps["interval"]) == {"1m"}  # only the history the upstream never had
    assert (gaps["start"] == pd.Timestamp("2026-10-20", tz="UTC")).all()
    assert (gaps["end"] == first_window).all()


def test_demo_twice_stores_nothing_twice(demo):
    result, kw = demo
    before = result.coverage.sort_values(["symbol", "interval"]).reset_index(drop=True)
    again = run_demo(result.store, **kw)
    after = again.coverage.sort_values(["symbol", "interval"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    fetched = [t.status().candles_fetched for t in again.tasks]
    assert fetched == [0, 0]
