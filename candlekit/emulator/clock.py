"""The market clock: follows real UTC time, or stands still until moved.

``MarketClock(None)`` runs with the real clock (plus an offset that :meth:`advance` and
:meth:`set_time` change); ``MarketClock(t)`` is frozen at ``t`` until moved.
"""

from __future__ import annotations

import threading
from email.utils import formatdate
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidTimeError
from ..intervals import INTERVALS, parse_interval
from ..timeutil import TimeLike, to_ms, utc_now_ms

__all__ = ["MarketClock", "duration_ms"]


def duration_ms(value: Any) -> int:
    """A duration in milliseconds.

    Parameters
    ----------
    value : int, str, datetime.timedelta, numpy.timedelta64 or pandas.Timedelta
        Integers are milliseconds. Strings are an interval name (``"3d"``, ``"1w"``,
        ``"1M"`` = 30 days; ``"1m"`` is a minute) or anything :class:`pandas.Timedelta`
        reads (``"90s"``, ``"2 days"``).

    Raises
    ------
    InvalidTimeError
        If ``value`` is not a duration.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidTimeError(f"Not a duration: {value!r}. Pass milliseconds, '3d' or a "
                               "pandas.Timedelta.", value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str) and value in INTERVALS:
        return parse_interval(value).nominal_ms
    if isinstance(value, str) and value[:-1].isdigit() and value[-1:] == "d":
        return int(value[:-1]) * 86_400_000  # "2d": pandas is retiring lowercase days
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise InvalidTimeError(f"Not a duration: {value!r}. Pass milliseconds, an interval "
                               "such as '3d' or '1w', or a pandas.Timedelta.", value) from exc
    if td is pd.NaT:
        raise InvalidTimeError(f"Not a duration: {value!r}.", value)
    return int(td.value // 1_000_000)


def _check_time(ms: int, value: Any) -> int:
    if ms < 0:
        raise InvalidTimeError(f"The market clock starts at 1970-01-01, got {value!r}: pass a "
                               "later time.", value)
    return ms


class MarketClock:
    """The emulated market's time, in epoch milliseconds (UTC).

    Parameters
    ----------
    now : time, optional
        Freeze the clock at this time. ``None`` (the default) follows the real UTC clock.

    Notes
    -----
    Thread-safe.
    """

    def __init__(self, now: TimeLike | None = None):
        self._lock = threading.Lock()
        self._running = now is None
        self._offset = 0
        self._frozen = 0 if now is None else _check_time(to_ms(now), now)
        first = self.now_ms()
        self._spans: list[list[int]] = [[first, first]]  # clock times the market has been at

    @property
    def running(self) -> bool:
        """Whether the clock follows real time."""
        return self._running

    def now_ms(self) -> int:
        """The current market time (epoch ms)."""
        if self._running:
            return utc_now_ms() + self._offset
        return self._frozen

    def history(self) -> list[tuple[int, int]]:
        """The market times the clock has been at: ``(from, to)`` spans, oldest first.

        A frozen clock contributes the instants it was set to (and held), a running one
        the whole stretch it ran; the last span ends now. Spans that touch are merged.
        """
        with self._lock:
            spans = [list(sp) for sp in self._spans]
        spans[-1][1] = max(spans[-1][1], self.now_ms())
        return [(a, b) for a, b in spans]

    def _jump(self, before: int, after: int) -> None:
        """Record a move from ``before`` to ``after`` (lock held)."""
        last = self._spans[-1]
        last[1] = max(last[1], before)
        if last[0] <= after <= last[1]:
            return
        self._spans.append([after, after])
        if len(self._spans) > 4096:  # bounded: fold the oldest two together
            a, b = self._spans.pop(0), self._spans[0]
            b[0], b[1] = min(a[0], b[0]), max(a[1], b[1])

    def set_time(self, t: TimeLike, *, running: bool | None = None) -> int:
        """Move the clock to ``t``.

        Parameters
        ----------
        t : time
            Epoch ms, ISO string, datetime or Timestamp (naive = UTC).
        running : bool, optional
            ``True``: follow real time from ``t`` on; ``False``: freeze at ``t``. By
            default the clock keeps running or stays frozen, as it was.

        Returns
        -------
        int
            The new time (epoch ms).
        """
        ms = _check_time(to_ms(t), t)
        with self._lock:
            self._jump(self.now_ms(), ms)
            if running is not None:
                self._running = bool(running)
            if self._running:
                self._offset = ms - utc_now_ms()
            else:
                self._frozen = ms
        return ms

    def advance(self, delta: Any) -> int:
        """Move the clock forward by ``delta`` (see :func:`duration_ms`); return the new time.

        Raises
        ------
        InvalidTimeError
            For a negative duration (use :meth:`set_time` to go back).
        """
        ms = duration_ms(delta)
        if ms < 0:
            raise InvalidTimeError(f"Cannot advance the clock by a negative duration {delta!r}: "
                                   "use set_time to move it back.", delta)
        with self._lock:
            before = self.now_ms()
            if self._running:
                self._offset += ms
            else:
                self._frozen += ms
            self._jump(before, before + ms)
        return self.now_ms()

    def http_date(self) -> str:
        """The current market time as an HTTP ``Date`` (RFC 7231, whole seconds)."""
        return formatdate(self.now_ms() // 1000, usegmt=True)
