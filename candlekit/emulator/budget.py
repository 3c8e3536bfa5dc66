"""A sliding-window weight budget, as Hyperliquid rate-limits its ``/info`` endpoint.

Every request is charged its weight *as of its arrival*: the base weight when it arrives,
and the weight of the candles it returns (known only once the answer is built) stamped
with the same arrival time, so that a slow answer is never counted later than the client
could see it. A request arriving while the weight charged during the last ``window_s``
seconds (of real, monotonic time) plus its own base weight would exceed the budget is
refused, with the number of seconds after which it would fit.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable

from ..errors import EmulatorConfigError

__all__ = ["BASE_WEIGHT", "WeightBudget", "candle_weight"]

BASE_WEIGHT = 20


def candle_weight(n: int) -> int:
    """Weight of a ``candleSnapshot`` returning ``n`` candles: ``20 + ceil(n / 60)``."""
    return BASE_WEIGHT + -(-n // 60)


class WeightBudget:
    """Weight allowed per sliding window.

    Parameters
    ----------
    limit : int or None
        Weight allowed per window; ``None`` disables the limit.
    window_s : float, default 60.0
        Window length in seconds.
    clock : callable, default time.monotonic
        Seconds, monotonic.

    Notes
    -----
    Thread-safe.
    """

    def __init__(self, limit: int | None, *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < BASE_WEIGHT):
            raise EmulatorConfigError("budget", limit, f"use an integer >= {BASE_WEIGHT} (the "
                                      "weight of one request), or None for no limit")
        if isinstance(window_s, bool) or not isinstance(window_s, (int, float)) or not (
                math.isfinite(window_s) and window_s > 0):
            raise EmulatorConfigError("budget_window", window_s, "use a number of seconds > 0")
        self.limit = limit
        self.window_s = float(window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._charges: list[tuple[float, int]] = []  # (stamp, weight), sorted by stamp
        self._used = 0

    def now(self) -> float:
        """The budget's clock (seconds, monotonic): stamp a request's arrival with it."""
        return self._clock()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        k = bisect.bisect_right(self._charges, (horizon, math.inf))
        if k:
            self._used -= sum(w for _, w in self._charges[:k])
            del self._charges[:k]

    def used(self) -> int:
        """Weight charged during the current window."""
        with self._lock:
            self._expire(self._clock())
            return self._used

    def admit(self, weight: int = BASE_WEIGHT, *, at: float | None = None) -> float | None:
        """Charge ``weight`` for a request arriving now (or at ``at``), or refuse it.

        Returns
        -------
        float or None
            ``None`` when admitted (and charged); otherwise the seconds until a request of
            this weight would be admitted (nothing is charged).
        """
        with self._lock:
            now = self._clock() if at is None else at
            self._expire(now)
            if self.limit is None or self._used + weight <= self.limit:
                self._charge(now, weight)
                return None
            freed = 0
            for stamp, w in self._charges:
                freed += w
                if self._used - freed + weight <= self.limit:
                    return max(stamp + self.window_s - now, 0.0)
            return self.window_s  # heavier than the whole budget: it never fits

    def charge(self, weight: int, *, at: float | None = None) -> None:
        """Charge extra weight (e.g. per candle returned), even past the limit.

        Parameters
        ----------
        weight : int
        at : float, optional
            The stamp to charge it at (the request's arrival, from :meth:`now`);
            default: now.
        """
        if weight <= 0:
            return
        with self._lock:
            self._charge(self._clock() if at is None else at, weight)

    def _charge(self, stamp: float, weight: int) -> None:
        if self.limit is None:
            return
        bisect.insort(self._charges, (stamp, weight))
        self._used += weight

    def reset(self) -> None:
        """Forget every charge."""
        with self._lock:
            self._charges.clear()
            self._used = 0
