"""The source interface: one logical request (:meth:`Source.fetch_page`) and the paging on top.

A source answers one question, "the candles of this coin and interval with open time in
``[start_ms, end_ms)``", one page (one upstream request, retried inside) at a time.
:meth:`Source.iter_pages` and :meth:`Source.candles` are template methods over that hook:

* the first page starts at ``start``; a *full* page (``records >= page_limit``) is
  followed by a page starting one bucket after the newest candle received (whichever
  candles the upstream chose to send); a page with fewer records covered its whole range;
* no candle opens after the server's clock, so paging stops at the bucket after it;
* an empty page for a range that should hold data (it starts more than a bucket before
  the server's clock) is asked again up to ``confirm_empty`` times (twice that for the
  first page, or right after a page whose data reached it). An empty answer is never
  believed: the first page is then asked once more up to the clock (an answer that starts
  after the range shows the history starts later: the range is empty), and a page that
  stays empty raises :class:`~candlekit.errors.SourceError`;
* an empty first page makes the source check the coin against its listing, so a typo
  raises :class:`~candlekit.errors.UnknownSymbolError` instead of returning nothing.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import (
    InvalidIntervalError,
    InvalidTimeError,
    SourceConfigError,
    SourceError,
    UnknownSymbolError,
)
from ..frame import empty_frame
from ..intervals import Interval, bucket_ordinal, ordinal_to_ms, parse_interval
from ..schema import validate
from ..timeutil import TimeLike, to_ms, to_timestamp, utc_now_ms
from .listing import unknown_symbol_message

__all__ = ["Page", "RequestStats", "Source", "SourceConfigError", "check_not_before_epoch"]


def check_not_before_epoch(ms: int, given: Any = None) -> None:
    """Refuse a start before 1970-01-01: no upstream has candles that early.

    Raises
    ------
    InvalidTimeError
        Saying where history starts, instead of the upstream's own rejection (HTTP 422)
        of a negative ``startTime``.
    """
    if ms < 0:
        raise InvalidTimeError(
            f"start {to_timestamp(ms).isoformat()} is before 1970-01-01: no upstream has "
            "candles that early (times are milliseconds since 1970; Hyperliquid's candle "
            "history starts in 2023, and it keeps only the last 5000 candles of each coin "
            "and interval). Pass a later start, e.g. 2023-01-01: where a series' history "
            "really starts is recorded and reported as not available upstream.",
            given if given is not None else ms)


@dataclass(frozen=True)
class Page:
    """One page of candles: the answer to one logical upstream request.

    Attributes
    ----------
    symbol, interval : str
    start_ms, end_ms : int
        The requested open-time range ``[start_ms, end_ms)`` (epoch ms).
    frame : pandas.DataFrame
        Canonical, validated candles with open time in the range, ``closed`` decided by
        the server's clock; ``attrs["source"]`` is the source's label.
    records : int
        Raw records the upstream returned (before duplicates and out-of-range records
        were dropped).
    full : bool
        ``records >= page_limit``: more candles may follow the newest one.
    requests : int
        HTTP attempts this page took (1 + retries, including re-asks of an empty page).
    server_now_ms : int
        The server's clock when it answered (its ``Date`` header, whole seconds), or the
        local clock when the response had none.
    """

    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    frame: pd.DataFrame
    records: int
    full: bool
    requests: int
    server_now_ms: int


@dataclass
class RequestStats:
    """Counters of one source's traffic (thread-safe through :meth:`add`).

    Attributes
    ----------
    requests : int
        HTTP attempts sent, retries included.
    retries : int
        Attempts beyond the first of each logical request (transport and status retries,
        unusable bodies, re-asked empty pages).
    weight : int
        Rate-limit weight charged to the budget.
    rate_limited : int
        Responses with status 429.
    by_status : dict of int to int
        Responses by HTTP status.
    failures : dict of str to int
        Attempts without a usable answer, by kind (``timeout``, ``connection``,
        ``truncated``, ``invalid``, ``empty``).
    wait_seconds : float
        Time spent waiting for the rate-limit budget.
    """

    requests: int = 0
    retries: int = 0
    weight: int = 0
    rate_limited: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    wait_seconds: float = 0.0
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, weight: int = 0,
            wait_seconds: float = 0.0, status: int | None = None,
            failure: str | None = None) -> None:
        """Add to the counters.

        Parameters
        ----------
        requests, retries, weight : int
            Added to the counters of the same name.
        wait_seconds : float
            Added to :attr:`wait_seconds`.
        status : int, optional
            One more response with this status (429 also counts in :attr:`rate_limited`).
        failure : str, optional
            One more attempt that failed this way.
        """
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.weight += weight
            self.wait_seconds += wait_seconds
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1
                self.rate_limited += status == 429
            if failure is not None:
                self.failures[failure] = self.failures.get(failure, 0) + 1

    def snapshot(self) -> RequestStats:
        """A copy of the counters."""
        with self._lock:
            return RequestStats(self.requests, self.retries, self.weight, self.rate_limited,
                                dict(self.by_status), dict(self.failures), self.wait_seconds)

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.requests = self.retries = self.weight = self.rate_limited = 0
            self.by_status.clear()
            self.failures.clear()
            self.wait_seconds = 0.0


@dataclass(frozen=True)
class _Plan:
    symbol: str
    interval: Interval
    start_ms: int
    end_ms: int
    open_end: bool


class Source(abc.ABC):
    """An upstream of candles.

    Subclasses set :attr:`name`, :attr:`intervals` and :attr:`alignment`, and implement
    :meth:`fetch_page` and :meth:`symbols`; paging, argument checks, the empty-page rules
    and :meth:`candles` come from here.

    Parameters
    ----------
    confirm_empty : int, default 3
        Times an empty page is asked again when its range should hold data.
    """

    name: ClassVar[str]
    intervals: ClassVar[tuple[str, ...]]
    alignment: ClassVar[str]
    emulator_label: ClassVar[str] = "emulator"
    page_limit: int = 5000

    def __init__(self, *, confirm_empty: int = 3):
        if isinstance(confirm_empty, bool) or not isinstance(confirm_empty, int) \
                or confirm_empty < 0:
            raise SourceConfigError(f"confirm_empty must be an integer >= 0, got "
                                    f"{confirm_empty!r} (3 re-asks are the default).")
        self.confirm_empty = confirm_empty
        self.stats = RequestStats()
        self._server_now: int | None = None
        self._emulated: bool | None = None
        self._earliest: dict[tuple[str, str], int | None] = {}

    # --- identity and clock --------------------------------------------------------------

    @property
    def label(self) -> str:
        """Store label of the data: :attr:`name`, or the emulator's label once a response
        said it came from the candlekit emulator (header ``X-Candlekit-Emulator``)."""
        return self.emulator_label if self._emulated else self.name

    @property
    def synthetic(self) -> bool:
        """Whether the last response came from the candlekit emulator (synthetic data)."""
        return bool(self._emulated)

    def now_ms(self) -> int:
        """The server's clock from the last response (whole seconds), else the local UTC clock."""
        return self._server_now if self._server_now is not None else utc_now_ms()

    def _observe(self, server_now_ms: int | None, *, emulated: bool) -> None:
        """Record what a response said about the server: its clock and whether it emulates."""
        if server_now_ms is not None:
            self._server_now = server_now_ms
        self._emulated = emulated

    # --- the hooks -----------------------------------------------------------------------

    @abc.abstractmethod
    def fetch_page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Page:
        """One logical request (retried inside) for the candles opening in ``[start_ms, end_ms)``.

        Parameters
        ----------
        symbol : str
            Coin as the upstream names it (``"BTC"``, ``"xyz:NVDA"``, ``"@107"``).
        interval : str
            One of :attr:`intervals`.
        start_ms, end_ms : int
            Open-time range in epoch ms, end exclusive.

        Returns
        -------
        Page
        """

    @abc.abstractmethod
    def symbols(self) -> pd.DataFrame:
        """Coins the source lists: columns ``symbol, kind, dex, name``."""

    def _next_page_end(self, interval: Interval, cursor: int, end_ms: int, *,
                       dense: bool) -> int:
        """End of the next page's range; ``dense``: the data so far reached ``cursor``."""
        return end_ms

    def _interval_hint(self, name: str) -> str:
        """Extra advice when ``name`` is not one of :attr:`intervals`."""
        return ""

    # --- checks ----------------------------------------------------------------------------

    def check_interval(self, interval: str | Interval) -> Interval:
        """The :class:`~candlekit.intervals.Interval` named, if this source serves it.

        Raises
        ------
        InvalidIntervalError
            For a name that is not one of :attr:`intervals`.
        """
        name = interval.name if isinstance(interval, Interval) else interval
        if name not in self.intervals:
            err = InvalidIntervalError(name, self.intervals)
            hint = self._interval_hint(name) if isinstance(name, str) else ""
            if hint:
                err.args = (f"{err} {hint}",)
            raise err
        return parse_interval(name)

    def check_symbol(self, symbol: str) -> None:
        """Raise :class:`~candlekit.errors.UnknownSymbolError` if the listing lacks ``symbol``.

        The listing (:meth:`symbols`) is fetched once, lazily; when it cannot be fetched
        the coin is given the benefit of the doubt.
        """
        try:
            listing = self.symbols()
        except SourceError:
            return
        if symbol not in set(listing["symbol"]):
            raise self._unknown_symbol(symbol, listing=listing)

    def _unknown_symbol(self, symbol: str, *, listing: pd.DataFrame | None = None,
                        upstream: str | None = None) -> UnknownSymbolError:
        if listing is None:
            try:
                listing = self.symbols()
            except SourceError:
                listing = None
        return UnknownSymbolError(unknown_symbol_message(symbol, self.label, listing,
                                                         upstream=upstream), symbol)

    def _check_symbol_name(self, symbol: Any) -> str:
        if not isinstance(symbol, str) or not symbol.strip():
            raise UnknownSymbolError(f"Empty or missing coin {symbol!r}: pass a coin name such "
                                     "as 'BTC' (`candlekit symbols --upstream SOURCE` lists them).", symbol)
        return symbol

    def _plan(self, symbol: Any, interval: Any, start: TimeLike, end: TimeLike | None
              ) -> _Plan:
        symbol = self._check_symbol_name(symbol)
        iv = self.check_interval(interval)
        if start is None:
            raise InvalidTimeError("start is required: pass an ISO 8601 time such as "
                                   "'2025-01-01' or epoch milliseconds.", start)
        start_ms = to_ms(start)
        check_not_before_epoch(start_ms, start)
        if end is None:
            end_ms = self._bucket_after(max(utc_now_ms(), self._server_now or 0), iv)
            return _Plan(symbol, iv, start_ms, max(end_ms, start_ms), True)
        end_ms = to_ms(end)
        if end_ms <= start_ms:
            raise InvalidTimeError(
                f"end ({to_timestamp(end_ms)}) must be after start ({to_timestamp(start_ms)}): "
                "swap them, widen the range, or leave end out to fetch up to now.",
                (start, end))
        return _Plan(symbol, iv, start_ms, end_ms, False)

    # --- bucket arithmetic -------------------------------------------------------------

    def _bucket_after(self, ms: int, iv: Interval) -> int:
        """Open time of the bucket after the one holding ``ms``."""
        o = bucket_ordinal(np.array([ms], dtype=np.int64), iv, alignment=self.alignment)
        return int(ordinal_to_ms(o + 1, iv, alignment=self.alignment)[0])

    def _first_ordinal(self, ms: int, iv: Interval) -> int:
        """Ordinal of the first bucket opening at or after ``ms``."""
        o = int(bucket_ordinal(np.array([ms], dtype=np.int64), iv, alignment=self.alignment)[0])
        start = int(ordinal_to_ms(np.array([o]), iv, alignment=self.alignment)[0])
        return o if start >= ms else o + 1

    def _count_buckets(self, start_ms: int, end_ms: int, iv: Interval) -> int:
        """Buckets opening in ``[start_ms, end_ms)``."""
        if end_ms <= start_ms:
            return 0
        return max(0, self._first_ordinal(end_ms, iv) - self._first_ordinal(start_ms, iv))

    def _advance(self, start_ms: int, n: int, iv: Interval) -> int:
        """Open time of the ``n``-th bucket after the first one opening at or after ``start_ms``."""
        o = self._first_ordinal(start_ms, iv) + n
        return int(ordinal_to_ms(np.array([o]), iv, alignment=self.alignment)[0])

    # --- paging ------------------------------------------------------------------------

    def _walk(self, plan: _Plan) -> Iterator[tuple[Page, int, int]]:
        """Pages with the cursor and end after each (for progress)."""
        iv, symbol = plan.interval, plan.symbol
        cursor, end_ms = plan.start_ms, plan.end_ms
        first, dense = True, False
        key = (symbol, iv.name)
        self._earliest[key] = None
        while cursor < end_ms:
            page_end = self._next_page_end(iv, cursor, end_ms, dense=dense)
            page = self.fetch_page(symbol, iv.name, cursor, page_end)
            if page.records == 0:
                page = self._confirm_empty(page, iv, first=first, dense=dense)
            first = False
            if len(page.frame) and self._earliest[key] is None:
                self._earliest[key] = int(page.frame.index.asi8[0])
            edge = self._bucket_after(page.server_now_ms, iv)  # no candle opens at or after
            end_ms = edge if plan.open_end else min(plan.end_ms, edge)
            if len(page.frame):
                after_last = self._bucket_after(int(page.frame.index.asi8[-1]), iv)
                dense = after_last >= page.end_ms or page.full
            else:
                dense = False
            if page.full:
                if not len(page.frame) or after_last <= cursor:
                    raise SourceError(
                        f"{self.label} returned a full page of {page.records} records for "
                        f"{symbol} {iv.name} from {to_timestamp(cursor)} without a candle "
                        "after that time, so paging cannot advance. Report this upstream "
                        "behaviour; retry later.")
                cursor = after_last
            else:
                cursor = page.end_ms
            yield page, cursor, end_ms

    def _confirm_empty(self, page: Page, iv: Interval, *, first: bool, dense: bool) -> Page:
        """Re-ask an empty page whose range should hold data; check the coin if first.

        ``confirm_empty`` re-asks; twice as many where candles are expected: the first page
        of a listed coin (the range asked for), or right after data that reached the
        page's start (``dense``; candles rarely stop exactly at a page boundary).
        Believing a spurious empty answer there would lose the rest of the range.
        """
        if first:
            self.check_symbol(page.symbol)
        requests = page.requests
        for _ in range(self.confirm_empty * (2 if dense or first else 1)):
            if page.records or page.start_ms >= page.server_now_ms - iv.nominal_ms:
                break
            self.stats.add(retries=1, failure="empty")
            page = self.fetch_page(page.symbol, page.interval, page.start_ms, page.end_ms)
            requests += page.requests
        if page.records or page.start_ms >= page.server_now_ms - iv.nominal_ms:
            return dataclasses.replace(page, requests=requests)
        # still empty: an empty answer is not proof. Ask once up to the clock: an answer
        # that starts after the range says where history starts (retention, listing)
        probe = None
        if first:
            self.stats.add(retries=1, failure="empty")
            probe = self.fetch_page(page.symbol, page.interval, page.start_ms,
                                    max(page.end_ms, self._bucket_after(page.server_now_ms, iv)))
            requests += probe.requests
            if len(probe.frame) and int(probe.frame.index.asi8[0]) >= page.end_ms:
                return dataclasses.replace(page, requests=requests)  # nothing that early
            if len(probe.frame):
                t = probe.frame.index.asi8
                frame = probe.frame[t < page.end_ms]
                frame.attrs = dict(probe.frame.attrs)
                return dataclasses.replace(page, frame=frame, records=probe.records,
                                           full=probe.full and int(t[-1]) < page.end_ms,
                                           requests=requests,
                                           server_now_ms=probe.server_now_ms)
        raise SourceError(
            f"{self.label} kept answering an empty list for {page.symbol} {iv.name} from "
            f"{to_timestamp(page.start_ms)} to {to_timestamp(page.end_ms)} ({requests} "
            "requests), where candles should exist"
            + ("" if probe is None else " (also when asked up to now)")
            + ". An empty answer is not proof that there are none, so nothing was returned: "
            "retry later (raise confirm_empty= to ask more often), or use "
            "candlekit.backfill, which keeps what it got and resumes.")

    def iter_pages(self, symbol: str, interval: str, start: TimeLike,
                   end: TimeLike | None = None) -> Iterator[Page]:
        """Pages of candles from ``start`` until ``end`` (default: now).

        Parameters
        ----------
        symbol : str
            Coin as the upstream names it.
        interval : str
            One of :attr:`intervals`.
        start, end : time
            ISO 8601 string, datetime, Timestamp or epoch ms (naive = UTC); candles with
            open time in ``[start, end)``. ``end=None`` fetches up to the server's clock,
            the open candle included.

        Yields
        ------
        Page

        Raises
        ------
        InvalidIntervalError, InvalidTimeError, UnknownSymbolError
            For bad arguments, before any request.
        UnknownSymbolError
            When the first page is empty and the coin is not in the listing, or the
            upstream says it does not know the coin.
        SourceError
            When the upstream cannot be reached or keeps failing (see its subclasses).
        """
        plan = self._plan(symbol, interval, start, end)
        for page, _, _ in self._walk(plan):
            yield page

    def candles(self, symbol: str, interval: str, start: TimeLike,
                end: TimeLike | None = None, *, progress: bool = True) -> pd.DataFrame:
        """Every candle of ``symbol`` with open time in ``[start, end)``, one frame.

        Parameters
        ----------
        symbol : str
            Coin as the upstream names it (``"BTC"``, ``"xyz:NVDA"``, ``"@107"``).
        interval : str
            One of :attr:`intervals`.
        start, end : time
            See :meth:`iter_pages`; ``end=None`` means up to now.
        progress : bool, default True
            Show a ``tqdm`` bar (total: the buckets in the range).

        Returns
        -------
        pandas.DataFrame
            A validated canonical frame; ``attrs["source"]`` is :attr:`label`
            (``"emulator"`` for synthetic data from the candlekit emulator).

        Raises
        ------
        InvalidIntervalError, InvalidTimeError, UnknownSymbolError, SourceError
            As :meth:`iter_pages`.
        """
        plan = self._plan(symbol, interval, start, end)
        frames: list[pd.DataFrame] = []
        total = self._count_buckets(plan.start_ms, plan.end_ms, plan.interval)
        with tqdm(total=total, disable=not progress, unit="candle", dynamic_ncols=True,
                  desc=f"{plan.symbol} {plan.interval.name}") as bar:
            for page, cursor, end_ms in self._walk(plan):
                if len(page.frame):
                    frames.append(page.frame)
                bar.total = self._count_buckets(plan.start_ms, max(end_ms, cursor),
                                                plan.interval)
                bar.n = self._count_buckets(plan.start_ms, min(cursor, end_ms), plan.interval)
                bar.refresh()
            bar.n = bar.total
            bar.refresh()
        attrs = {"symbol": plan.symbol, "interval": plan.interval.name,
                 "alignment": self.alignment,
                 "source": frames[-1].attrs.get("source", self.label) if frames else self.label}
        if not frames:
            return empty_frame(**attrs)
        df = frames[0] if len(frames) == 1 else pd.concat(frames)
        df.attrs = attrs
        return validate(df)

    def earliest(self, symbol: str, interval: str) -> pd.Timestamp | None:
        """Open time of the oldest candle received by the last paging over this series.

        When the upstream keeps only recent candles (Hyperliquid: the last 5000 of each
        coin and interval), this shows where the data really starts.

        Returns
        -------
        pandas.Timestamp or None
            None when no paging ran or it received no candle.
        """
        iv = self.check_interval(interval)
        t = self._earliest.get((symbol, iv.name))
        return None if t is None else to_timestamp(t)
