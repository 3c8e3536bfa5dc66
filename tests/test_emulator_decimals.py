"""The emulator spells prices and sizes as the exchange does: exact decimals on the coin's
tick and lot grids, never float noise such as ``1881.3980899999997``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests

from candlekit.emulator import Emulator
from candlekit.synthetic import coin_profile
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:30Z"  # inside an hour: the open candles are checked too
COINS = ("BTC", "ETH", "xyz:NVDA", "@107", "PURR/USDC")
INTERVALS = ("1m", "1h", "4h", "1d", "1w", "1M")


def _places(text: str) -> int:
    assert "e" not in text.lower() and text.strip() == text, text
    return len(text.partition(".")[2])


@pytest.mark.parametrize("mode", ["hyperliquid", "hydromancer"])
def test_every_decimal_is_on_the_coins_grid(mode):
    with Emulator(mode, now=NOW, budget=None) as emu:
        for coin in COINS:
            prof = coin_profile(coin)
            grids = {"o": prof.price_decimals, "h": prof.price_decimals,
                     "l": prof.price_decimals, "c": prof.price_decimals,
                     "v": prof.size_decimals, "q": prof.price_decimals + prof.size_decimals}
            for iv in INTERVALS:
                records = requests.post(emu.url + "/info", json={
                    "type": "candleSnapshot", "req": {
                        "coin": coin, "interval": iv, "startTime": to_ms("2026-05-01"),
                        "endTime": emu.now_ms}}, timeout=30).json()
                assert records, (coin, iv)
                for field, places in grids.items():
                    texts = [r[field] for r in records if r.get(field) is not None]
                    if field == "q" and mode == "hyperliquid":
                        assert texts == []
                        continue
                    assert texts, (coin, iv, field)
                    worst = max(texts, key=_places)
                    assert _places(worst) <= max(places, 1), (coin, iv, field, worst)
                    # each string is the shortest spelling of the float it reads as
                    assert all(repr(float(t)) == t or float(t).is_integer() for t in texts)
                truth = emu.truth(coin, iv, to_ms("2026-05-01"), emu.now_ms,
                                  source="emulator-hydromancer" if mode == "hydromancer"
                                  else "emulator")
                want = truth["volume"].reindex(
                    pd.to_datetime([r["t"] for r in records], unit="ms", utc=True))
                served = np.array([float(r["v"]) for r in records])
                assert np.array_equal(served, want.to_numpy())  # the truth says the same


def test_a_coarse_volume_is_the_exact_decimal_sum_of_its_parts():
    with Emulator(now=NOW, budget=None) as emu:
        day = emu.truth("BTC", "1d", "2026-10-30", "2026-10-31")
        minutes = emu.truth("BTC", "1m", "2026-10-30", "2026-10-31")
    lot = 10 ** coin_profile("BTC").size_decimals
    assert round(day["volume"].iloc[0] * lot) == int(np.round(minutes["volume"] * lot).sum())
    assert repr(float(day["volume"].iloc[0])) == f"{day['volume'].iloc[0]:.5f}".rstrip("0")
