"""``Emulator.truth``: the candles a perfect client could have stored, served at some time."""

from __future__ import annotations

import pandas as pd

from candlekit.emulator import Emulator

NOW = pd.Timestamp("2026-11-01T00:00Z")
MIN = pd.Timedelta(1, "min")


def test_truth_is_the_union_of_the_windows_the_clock_has_been_at():
    with Emulator(now=NOW) as emu:
        first = emu.truth("BTC", "1m", "2026-09-01", "2026-12-01")
        assert len(first) == 5000 and first.index[0] == NOW - 5000 * MIN
        emu.advance("2d")
        both = emu.truth("BTC", "1m", "2026-09-01", "2026-12-01")
        assert len(both) == 5000 + 2880 and both.index[0] == first.index[0]  # the demo's 7,880
        everything = emu.truth("BTC", "1m", "2026-09-01", "2026-12-01", served=False)
        assert everything.index[0] < both.index[0]  # the market has more than was served
        emu.advance("10d")  # a jump past the window: the days in between were never served
        holed = emu.truth("BTC", "1m", "2026-09-01", "2026-12-01")
        assert len(holed) == 5000 + 2880 + 5000
        skipped = (holed.index > NOW + pd.Timedelta(days=2)) & (
            holed.index < NOW + pd.Timedelta(days=12) - 5000 * MIN)
        assert not skipped.any()
        assert holed["closed"].all()  # the clock is at a bucket boundary


def test_a_running_clock_serves_everything_it_ran_through():
    with Emulator(now=None) as emu:
        t = emu.truth("BTC", "1h", "2020-01-01", "2100-01-01")
        assert len(t) == 5000 and not t["closed"].iloc[-1]


def test_a_window_longer_than_the_history_serves_it_all():
    with Emulator(now=NOW) as emu:
        daily = emu.truth("BTC", "1d", "2000-01-01", NOW)
        assert daily.index.asi8[0] == emu.earliest("BTC", "1d")  # the listing
        assert len(emu.truth("BTC", "1d", "2000-01-01", NOW, served=False)) == len(daily)
