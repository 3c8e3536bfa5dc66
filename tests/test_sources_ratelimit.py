"""The weight limiter: exact waits on a fake clock, shared per host, never over a server's window."""

import random
import threading

import pytest

from candlekit.sources import SourceConfigError
from candlekit.sources.ratelimit import (
    WeightLimiter,
    candle_weight,
    host_key,
    limiter_for,
)

MARGIN = 0.001


class FakeClock:
    """A clock that only moves when the limiter waits (or the test advances it)."""

    def __init__(self, start: float = 1000.0):
        self.t = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.t

    def wait(self, cond, timeout):
        if timeout is None:
            raise AssertionError("the limiter waited for a settle that can never come")
        self.waits.append(timeout)
        self.t += timeout

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make(budget=100, window=10.0):
    clock = FakeClock()
    return WeightLimiter(budget, window, clock=clock, wait=clock.wait, margin=MARGIN), clock


def test_candle_weight_is_20_plus_one_per_60_candles():
    assert [candle_weight(n) for n in (0, 1, 60, 61, 120, 5000)] == [20, 21, 21, 22, 22, 104]


def test_grants_without_waiting_while_the_budget_lasts():
    lim, clock = make(budget=100)
    a = lim.acquire(40)
    b = lim.acquire(60)
    assert clock.waits == []
    assert (a.waited, b.waited) == (0.0, 0.0)
    assert lim.used() == 100 and lim.available() == 0


def test_waits_exactly_until_the_oldest_needed_entry_expires():
    lim, clock = make(budget=100, window=10.0)
    first = lim.acquire(60)
    lim.settle(first, at=clock())            # stamped at t0
    clock.advance(2.0)
    second = lim.acquire(40)
    lim.settle(second, at=clock())           # stamped at t0 + 2
    clock.advance(1.0)
    third = lim.acquire(50)                  # needs the first (60) to expire: t0 + 10
    assert clock.waits == [pytest.approx(10.0 + MARGIN - 3.0)]
    assert third.waited == pytest.approx(7.0 + MARGIN)
    lim.settle(third, at=clock())
    clock.waits.clear()
    lim.acquire(60)                          # needs the second (40) and then the third (50)
    assert clock.waits == [pytest.approx(10.0 + MARGIN)]  # until the third expires


def test_settling_to_the_actual_weight_frees_the_difference_at_once():
    lim, clock = make(budget=120)
    res = lim.acquire(104)                   # upper bound of a page
    lim.settle(res, 25, at=clock())          # 300 candles came back
    assert lim.used() == 25
    lim.acquire(95)
    assert clock.waits == []


def test_settle_is_idempotent_and_a_weight_above_the_budget_waits_for_an_empty_window():
    lim, clock = make(budget=50, window=5.0)
    res = lim.acquire(10)
    lim.settle(res, at=clock())
    lim.settle(res, 999, at=clock())
    assert lim.used() == 10
    big = lim.acquire(104)                   # clamped to the whole budget
    assert big.weight == 50
    assert clock.waits == [pytest.approx(5.0 + MARGIN)]


def test_a_hold_blocks_every_grant_until_it_ends():
    lim, clock = make(budget=1000)
    lim.hold(3.0)
    assert lim.available() == 0
    lim.acquire(20)
    assert sum(clock.waits) == pytest.approx(3.0)


def test_a_reservation_in_flight_blocks_until_it_is_settled():
    lim = WeightLimiter(100, 60.0)
    held = lim.acquire(90)
    granted = threading.Event()

    def other():
        lim.acquire(20)
        granted.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert not granted.wait(0.05)            # only the settle can make room
    lim.settle(held, 30)                     # the response was small
    assert granted.wait(5.0)
    thread.join()
    assert lim.used() == 50


def test_the_client_window_always_covers_the_server_window():
    """Simulated requests with random latencies: at every arrival the server (charging at
    arrival, sliding window) has room, because the client stamps at receipt."""
    rng = random.Random(3)
    budget, window = 300, 2.0
    lim, clock = make(budget=budget, window=window)
    arrivals: list[tuple[float, int]] = []
    for _ in range(400):
        n = rng.choice([0, 5, 600, 2500, 5000])
        upper = candle_weight(5000)
        res = lim.acquire(upper)
        clock.advance(rng.uniform(0.0, 0.05))          # request travels
        arrival = clock()
        used = sum(w for t, w in arrivals if t > arrival - window)
        assert used + 20 <= budget, f"the server would answer 429 at {arrival}"
        actual = candle_weight(n)
        arrivals.append((arrival, actual))
        clock.advance(rng.uniform(0.0, 0.2))           # server works, response travels
        lim.settle(res, actual, at=clock())
        clock.advance(rng.uniform(0.0, 0.01))          # client parses


def test_a_busy_client_uses_the_budget_in_every_window():
    lim, clock = make(budget=1200, window=3.0)
    sends = []
    for _ in range(200):
        res = lim.acquire(104)
        sends.append(clock())
        lim.settle(res, at=clock())                    # instant responses
    # every full window after the first holds as many whole pages as fit: 11 * 104
    steady = [sum(1 for s in sends if t0 <= s < t0 + 3.0) for t0 in sends[20:100:11]]
    assert min(steady) == 1200 // 104


def test_limiters_are_shared_per_host_and_reconfigured_only_when_asked():
    a = limiter_for("http://127.0.0.1:1/", budget=300, window=2.0)
    b = limiter_for("http://127.0.0.1:1")
    c = limiter_for("http://127.0.0.1:2")
    assert a is b and a is not c
    assert (b.budget, b.window) == (300, 2.0)
    limiter_for("http://127.0.0.1:1", budget=500)
    assert (a.budget, a.window) == (500, 2.0)
    assert host_key("https://api.hyperliquid.xyz") == "api.hyperliquid.xyz:443"


@pytest.mark.parametrize("budget, window", [(0, 60.0), (1.5, 60.0), (True, 60.0),
                                            (1200, 0), (1200, float("nan"))])
def test_bad_budgets_are_refused_with_advice(budget, window):
    with pytest.raises(SourceConfigError, match="weight_"):
        WeightLimiter(budget, window)
