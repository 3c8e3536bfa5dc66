"""The emulator's weight budget counts what the client's limiter assumes, so default pacing
never meets a 429: weight per candle *returned*, stamped at the request's arrival."""

from __future__ import annotations

import pytest
import requests

from candlekit.emulator import Emulator, Faults
from candlekit.emulator.budget import WeightBudget
from candlekit.sources import Hyperliquid
from candlekit.sources.ratelimit import WeightLimiter
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00Z"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_charge_stamped_at_arrival_expires_with_it():
    clock = Clock()
    b = WeightBudget(200, window_s=10, clock=clock)
    arrived = b.now()
    assert b.admit(20, at=arrived) is None
    clock.t += 3  # the answer took 3 s (the slow fault) ...
    b.charge(84, at=arrived)  # ... its candles are charged as of the arrival
    other = b.now()
    b.admit(20, at=other)
    clock.t += 7  # arrival + window: both charges of the slow request are gone
    assert b.used() == 20
    clock.t += 3
    assert b.used() == 0


def test_the_client_mirror_never_frees_weight_before_the_emulator():
    """Same clock, same window: every stamp the client keeps is no earlier than the server's."""
    clock = Clock()
    server = WeightBudget(1200, window_s=60, clock=clock)
    def wait(cond, timeout):  # the limiter's sleep moves the fake clock
        clock.t += timeout or 0.0

    client = WeightLimiter(1200, 60, clock=clock, wait=wait)
    for _ in range(200):
        res = client.acquire(104)
        arrived = server.now()
        assert server.admit(20, at=arrived) is None  # never a 429
        clock.t += 2.5  # a slow answer
        server.charge(84, at=arrived)
        client.settle(res, 104, at=clock())
        clock.t += 0.5
        assert client.used() >= server.used()


def _emptied_answer_weight(emu: Emulator) -> int:
    emu.faults = Faults(empty=1.0)
    emu.reset_stats()
    r = requests.post(emu.url + "/info", json={"type": "candleSnapshot", "req": {
        "coin": "BTC", "interval": "1m", "startTime": to_ms("2026-10-31"),
        "endTime": to_ms(NOW)}}, timeout=10)
    assert r.json() == []
    return emu.stats.weight_used


def test_an_emptied_answer_costs_the_base_weight():
    with Emulator(now=NOW) as emu:
        assert _emptied_answer_weight(emu) == 20  # not 20 + 1440 / 60


@pytest.mark.parametrize("fault_seed", [3, 11])
def test_default_pacing_gets_no_429_under_faults(fault_seed):
    """Half the answers emptied, some slow, some failing, at a short window and full budget:
    the client paced by the same budget is never refused (it was, before the fix)."""
    window = 0.4
    faults = Faults(empty=0.5, slow=0.1, slow_seconds=0.15, server_error=0.05)
    with Emulator(now=NOW, window=200_000, budget=1200, budget_window=window,
                  faults=faults, fault_seed=fault_seed) as emu:
        src = Hyperliquid(emu.url, weight_budget=1200, weight_window=window,
                          backoff_factor=0.005, backoff_max=0.05, max_retries=8,
                          confirm_empty=24)  # half the answers are emptied: ask on
        end = to_ms(NOW)
        df = src.candles("BTC", "1m", end - 150_000 * 60_000, end, progress=False)
        stats = emu.stats
    # (how many candles it got is the runner's business: empty answers, issue 8 section 1)
    assert len(df) >= 40_000 and stats.requests > 30
    assert stats.faults_injected.get("empty", 0) > 10
    assert stats.rate_limited == 0, stats
