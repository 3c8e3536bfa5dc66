"""Weight-based pacing: one sliding-window limiter per upstream host, shared process-wide.

Hyperliquid allows a weight budget per IP (1200 per 60 s): an info request such as
``meta`` weighs 20, a ``candleSnapshot`` 20 plus one per 60 candles returned. The server
charges a request when it *arrives* and forgets it ``window`` seconds later. The client
cannot see arrival times, so it keeps a conservative mirror:

1. before sending, :meth:`WeightLimiter.acquire` reserves an upper bound of the weight,
   waiting until the weight stamped in the last ``window`` seconds plus the reservations
   still in flight leaves room for it;
2. when the response (or the failure) is received, :meth:`WeightLimiter.settle` stamps the
   entry with that receive time and the actual weight.

A receive time is never earlier than the server's arrival time, so every entry the server
still counts is also counted here, and a client alone on its IP never gets a 429. Waiting
is exact: the limiter sleeps until the oldest entry it needs expires (a condition variable
with a timeout, no polling), so a busy client keeps the budget close to fully used.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .base import SourceConfigError

__all__ = [
    "BASE_WEIGHT",
    "CANDLES_PER_WEIGHT",
    "DEFAULT_BUDGET",
    "DEFAULT_WINDOW",
    "Reservation",
    "WeightLimiter",
    "candle_weight",
    "host_key",
    "limiter_for",
]

DEFAULT_BUDGET = 1200
DEFAULT_WINDOW = 60.0
BASE_WEIGHT = 20
CANDLES_PER_WEIGHT = 60

Waiter = Callable[[threading.Condition, float | None], object]


def candle_weight(n: int) -> int:
    """Weight Hyperliquid charges for a ``candleSnapshot`` returning ``n`` candles.

    >>> candle_weight(0), candle_weight(1), candle_weight(5000)
    (20, 21, 104)
    """
    return BASE_WEIGHT + -(-max(int(n), 0) // CANDLES_PER_WEIGHT)


def _wait_on(cond: threading.Condition, timeout: float | None) -> object:
    return cond.wait(timeout)


@dataclass(eq=False)
class Reservation:
    """Weight reserved for one HTTP attempt, until :meth:`WeightLimiter.settle`.

    Attributes
    ----------
    weight : int
        The reserved (upper-bound) weight.
    waited : float
        Seconds :meth:`WeightLimiter.acquire` waited before granting it.
    settled : bool
        Whether the attempt has been stamped.
    """

    weight: int
    waited: float = 0.0
    settled: bool = field(default=False)


class WeightLimiter:
    """A thread-safe sliding-window weight budget.

    Parameters
    ----------
    budget : int, default 1200
        Weight allowed per ``window``.
    window : float, default 60.0
        Window length in seconds.
    clock : callable, default time.monotonic
        Seconds, monotonic. Tests pass a fake clock.
    wait : callable, optional
        ``wait(condition, timeout)`` blocks (the condition's lock held) for at most
        ``timeout`` seconds, or until notified when ``timeout`` is None. Default:
        ``condition.wait(timeout)``. Tests pass one that advances a fake clock.
    margin : float, default 0.001
        Seconds an entry is kept beyond ``window``, against clock granularity.

    Raises
    ------
    SourceConfigError
        For a budget below 1 or a window that is not a positive number of seconds.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET, window: float = DEFAULT_WINDOW, *,
                 clock: Callable[[], float] = time.monotonic, wait: Waiter | None = None,
                 margin: float = 0.001):
        self._budget, self._window = _check_budget(budget, window)
        self.clock = clock
        self._wait = wait or _wait_on
        self._margin = float(margin)
        self._cond = threading.Condition()
        self._stamps: list[float] = []   # receive times, sorted
        self._weights: list[int] = []    # weight of each stamped entry
        self._stamped = 0                 # sum of self._weights
        self._pending = 0                 # weight reserved by attempts still in flight
        self._hold_until = -math.inf

    # --- configuration ------------------------------------------------------------------

    @property
    def budget(self) -> int:
        """Weight allowed per window."""
        return self._budget

    @property
    def window(self) -> float:
        """Window length in seconds."""
        return self._window

    def configure(self, *, budget: int | None = None, window: float | None = None) -> None:
        """Change the budget and/or the window; entries already stamped are kept.

        Parameters
        ----------
        budget : int, optional
        window : float, optional
        """
        with self._cond:
            self._budget, self._window = _check_budget(
                self._budget if budget is None else budget,
                self._window if window is None else window)
            self._cond.notify_all()

    # --- state --------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        horizon = now - self._window - self._margin
        k = bisect.bisect_right(self._stamps, horizon)
        if k:
            self._stamped -= sum(self._weights[:k])
            del self._stamps[:k], self._weights[:k]

    def used(self) -> int:
        """Weight stamped within the window plus the weight reserved in flight."""
        with self._cond:
            self._expire(self.clock())
            return self._stamped + self._pending

    def available(self) -> int:
        """Weight that could be reserved right now without waiting (0 while held)."""
        with self._cond:
            now = self.clock()
            if now < self._hold_until:
                return 0
            self._expire(now)
            return max(0, self._budget - self._stamped - self._pending)

    def _delay(self, weight: int, now: float) -> float | None:
        """Seconds until ``weight`` fits; 0 when it fits now; None when only a settle helps."""
        if now < self._hold_until:
            return self._hold_until - now
        excess = self._stamped + self._pending + weight - self._budget
        if excess <= 0:
            return 0.0
        if excess > self._stamped:
            return None
        freed = 0
        for stamp, w in zip(self._stamps, self._weights):
            freed += w
            if freed >= excess:
                return max(stamp + self._window + self._margin - now, 0.0)
        return None  # unreachable: excess <= self._stamped

    # --- the protocol -------------------------------------------------------------------

    def acquire(self, weight: int) -> Reservation:
        """Reserve ``weight``, waiting exactly as long as the window requires.

        Parameters
        ----------
        weight : int
            Upper bound of the attempt's weight. A weight above the budget is reserved
            as the whole budget (it then waits for an empty window).

        Returns
        -------
        Reservation
            Pass it to :meth:`settle` when the attempt's response or failure arrives.
        """
        with self._cond:
            weight, waited = self._wait_for(weight)
            self._pending += weight
            return Reservation(weight=weight, waited=waited)

    def _wait_for(self, weight: int) -> tuple[int, float]:
        """Block (lock held) until ``weight`` fits; the clamped weight and the wait."""
        start = self.clock()
        while True:
            now = self.clock()
            self._expire(now)
            weight = min(max(int(weight), 0), self._budget)  # the budget may change
            delay = self._delay(weight, now)
            if delay == 0.0:
                return weight, now - start
            self._wait(self._cond, delay)

    def outlook(self, weight: int) -> tuple[float | None, int, float | None]:
        """What waiting would bring, without waiting or reserving.

        Parameters
        ----------
        weight : int
            A weight one might reserve (clamped to the budget).

        Returns
        -------
        until_fits : float or None
            Seconds until ``weight`` fits (0 now; None: only a settle can make room).
        available : int
            Weight that could be reserved now.
        next_expiry : float or None
            Seconds until the oldest stamped entry expires (None: nothing stamped).
        """
        with self._cond:
            now = self.clock()
            self._expire(now)
            w = min(max(int(weight), 0), self._budget)
            held = now < self._hold_until
            available = 0 if held else max(0, self._budget - self._stamped - self._pending)
            nxt = (self._stamps[0] + self._window + self._margin - now) if self._stamps else None
            if held:
                nxt = self._hold_until - now if nxt is None else max(nxt, self._hold_until - now)
            return self._delay(w, now), available, nxt

    def pause(self, seconds: float | None) -> float:
        """Wait up to ``seconds`` (None: until something is settled); wake on any settle.

        Returns
        -------
        float
            Seconds waited.
        """
        with self._cond:
            start = self.clock()
            self._wait(self._cond, None if seconds is None else max(seconds, 0.0))
            return self.clock() - start

    def settle(self, reservation: Reservation, weight: int | None = None, *,
               at: float | None = None) -> None:
        """Stamp an attempt: its actual weight, charged from ``at`` (default: now).

        Settling twice is a no-op, so every path that ends an attempt may call it.

        Parameters
        ----------
        reservation : Reservation
        weight : int, optional
            The actual weight (default: the reserved weight).
        at : float, optional
            When the response or failure was received, on :attr:`clock`.
        """
        with self._cond:
            if reservation.settled:
                return
            reservation.settled = True
            self._pending -= reservation.weight
            w = reservation.weight if weight is None else max(int(weight), 0)
            if w:
                stamp = self.clock() if at is None else at
                k = bisect.bisect_right(self._stamps, stamp)
                self._stamps.insert(k, stamp)
                self._weights.insert(k, w)
                self._stamped += w
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (the upstream answered 429 with ``Retry-After``)."""
        with self._cond:
            self._hold_until = max(self._hold_until, self.clock() + max(float(seconds), 0.0))
            self._cond.notify_all()


def _check_budget(budget: int, window: float) -> tuple[int, float]:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise SourceConfigError(f"weight_budget must be a positive integer, got {budget!r}: "
                                "Hyperliquid allows 1200 per 60 s per IP.")
    if (isinstance(window, bool) or not isinstance(window, (int, float))
            or not math.isfinite(window) or window <= 0):
        raise SourceConfigError(f"weight_window must be a positive number of seconds, got "
                                f"{window!r} (Hyperliquid's is 60).")
    return int(budget), float(window)


_LIMITERS: dict[str, WeightLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def host_key(base_url: str) -> str:
    """The key limiters are shared by: the URL's ``host:port``, lower case.

    >>> host_key("https://API.hyperliquid.xyz/info")
    'api.hyperliquid.xyz:443'
    """
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def limiter_for(base_url: str, *, budget: int | None = None,
                window: float | None = None) -> WeightLimiter:
    """The process-wide limiter of ``base_url``'s host, created on first use.

    Every client talking to the same host shares it (the upstream's budget is per IP).

    Parameters
    ----------
    base_url : str
    budget, window : optional
        When given, (re)configure the host's limiter; when omitted, keep its settings
        (1200 per 60 s for a new one).

    Returns
    -------
    WeightLimiter
    """
    key = host_key(base_url)
    with _REGISTRY_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = WeightLimiter(DEFAULT_BUDGET if budget is None else budget,
                                    DEFAULT_WINDOW if window is None else window)
            _LIMITERS[key] = limiter
        elif budget is not None or window is not None:
            limiter.configure(budget=budget, window=window)
        return limiter
