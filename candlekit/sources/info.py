"""The ``POST /info`` protocol Hyperliquid and Hydromancer share.

One logical request (:meth:`InfoSource._request`) is:

1. reserve an upper bound of its weight from the host's limiter (waiting if needed);
2. ``session.post``: urllib3 retries transport failures and 429/5xx inside, each retry
   accounted through :class:`_Attempts` (limiter and statistics);
3. stamp the receive time; read the server's clock (``Date``) and whether it is the
   candlekit emulator (``X-Candlekit-Emulator``);
4. an error status raises (4xx: the upstream's message verbatim); a body that is cut
   off, not JSON, not the expected shape, or with invalid candles is asked again with
   jittered exponential backoff, up to ``max_retries`` times, then
   :class:`~candlekit.errors.SourceError` says what came back and what to do;
5. settle the reservation to the actual weight at the receive time.
"""

from __future__ import annotations

import abc
import email.utils
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from ..errors import (
    CandleValidationError,
    FormatError,
    InvalidTimeError,
    RateLimitError,
    SourceError,
    UpstreamError,
)
from ..intervals import Interval
from ..timeutil import to_timestamp, utc_now_ms
from ..wire import from_wire
from .base import Page, RequestStats, Source, SourceConfigError, check_not_before_epoch
from .http import RETRY_STATUSES, attempt_hooks, backoff_delay, make_session
from .listing import build_listing, check_answer, dex_names
from .ratelimit import BASE_WEIGHT, Reservation, WeightLimiter, limiter_for

__all__ = ["InfoSource"]

T = TypeVar("T")
EMULATOR_HEADER = "X-Candlekit-Emulator"


def _failure_kind(error: BaseException | None) -> str:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, NewConnectionError):  # a ConnectTimeoutError subclass
            return "connection"
        if isinstance(error, (ReadTimeoutError, ConnectTimeoutError, requests.Timeout,
                              TimeoutError)):
            return "timeout"
        if isinstance(error, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
            return "dropped"
        if isinstance(error, MaxRetryError):
            error = error.reason
            continue
        nxt = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        error = nxt or error.__cause__ or error.__context__
    return "connection"


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        when = email.utils.parsedate_tz(value)
        return None if when is None else max(email.utils.mktime_tz(when) - time.time(), 0.0)


class _Attempts:
    """Limiter and statistics accounting of every HTTP attempt of one logical request.

    It is the :class:`~candlekit.sources.http.AttemptHooks` of the request's retries.
    """

    def __init__(self, limiter: WeightLimiter, stats: RequestStats, weight: int):
        self.limiter = limiter
        self.stats = stats
        self.weight = weight
        self.count = 0
        self._reservation: Reservation | None = None
        self._received_at: float | None = None
        self._recorded = True

    def start(self) -> None:
        """Reserve the weight of a new attempt (waiting for the budget) and count it."""
        reservation = self.limiter.acquire(self.weight)
        self._reservation, self._received_at, self._recorded = reservation, None, False
        self.count += 1
        self.stats.add(requests=1, wait_seconds=reservation.waited)

    def _settle(self, weight: int | None) -> None:
        res = self._reservation
        if res is not None and not res.settled:
            charged = res.weight if weight is None else weight
            self.limiter.settle(res, charged, at=self._received_at)
            self.stats.add(weight=charged)

    def attempt_failed(self, *, response: Any = None, error: BaseException | None = None
                       ) -> None:
        """An attempt failed (status to retry, or transport error): charge its reservation."""
        self._settle(None)
        if self._recorded:
            return
        self._recorded = True
        if response is not None:
            self.stats.add(status=int(response.status))
            if response.status == 429:
                self.limiter.hold(_retry_after(response) or 0.0)
        else:
            self.stats.add(failure=_failure_kind(error))

    def attempt_starting(self) -> None:
        """urllib3 retries: a new attempt."""
        self.stats.add(retries=1)
        self.start()

    def received(self) -> None:
        """The response arrived now: the time its weight is charged from."""
        self._received_at = self.limiter.clock()

    def finish(self, *, status: int, weight: int | None = None, failure: str | None = None
               ) -> None:
        """The attempt's response was read: charge ``weight`` (default: the reservation)."""
        self._settle(weight)
        if not self._recorded:
            self._recorded = True
            self.stats.add(status=status, failure=failure)


@dataclass(frozen=True)
class _Failure:
    """Why the last round of a request failed: ``kind`` is ``transport`` (urllib3 gave up
    without an answer), ``status`` (429/5xx after urllib3's retries) or ``body``."""

    kind: str = "body"
    text: str = ""
    status: int | None = None
    body: str | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class _Reply:
    attempts: int
    server_now_ms: int


def _check_url(url: Any) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceConfigError(f"base_url must be an http(s) URL such as "
                                f"'https://api.hyperliquid.xyz', got {url!r}.")
    return url.rstrip("/")


def _check_number(name: str, value: Any, *, minimum: float, integer: bool = False) -> Any:
    ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
    if not ok or not math.isfinite(value) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise SourceConfigError(f"{name} must be {kind} >= {minimum}, got {value!r}.")
    return value


def _check_timeout(timeout: Any) -> float | tuple[float, float]:
    if isinstance(timeout, tuple) and len(timeout) == 2:
        return (float(_check_number("timeout[0]", timeout[0], minimum=0.001)),
                float(_check_number("timeout[1]", timeout[1], minimum=0.001)))
    return float(_check_number("timeout", timeout, minimum=0.001))


def _check_ms(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTimeError(f"{name} must be epoch milliseconds (an int), got {value!r}: "
                               "use candlekit.timeutil.to_ms to convert.", value)
    return int(value)


def _error_text(response: requests.Response) -> str:
    """The upstream's error message: ``{"error": ...}``'s value, else the body text."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:1000]
    if isinstance(body, Mapping):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return body[key]
    return text[:1000]


class InfoSource(Source):
    """A source speaking ``POST {base_url}/info`` (Hyperliquid's info API).

    Parameters
    ----------
    base_url : str
        Server root, e.g. ``"https://api.hyperliquid.xyz"``.
    timeout : float or (float, float), default 10.0
        Connect and read timeouts in seconds.
    max_retries : int, default 5
        Retries of one request: transport failures and 429/5xx (by urllib3), then,
        separately, unusable bodies (cut off, not JSON, invalid candles).
    backoff_factor : float, default 0.25
        Exponential backoff base in seconds, jittered (see
        :func:`~candlekit.sources.http.backoff_delay`); ``Retry-After`` wins when sent.
    backoff_max : float, default 30.0
        Longest single backoff wait in seconds.
    weight_budget : int, optional
        Rate-limit weight per window for this host (default 1200, Hyperliquid's per-IP
        budget). Clients talking to the same host share one limiter; giving a value
        reconfigures it, leaving it out keeps the host's current settings.
    weight_window : float, optional
        Window length in seconds (default 60).
    confirm_empty : int, default 3
        Re-asks of an empty page whose range should hold data.
    fill_budget : bool, default False
        When the budget binds, ask :meth:`iter_pages` for shorter pages that fit the weight
        whole pages leave over (Hyperliquid: 1200 - 11 * 104 = 56 per window), so a busy
        client uses close to 100% of the budget instead of at most 95.3%, at the cost of
        more requests than ``ceil(candles / 5000) + 1``.
    session : requests.Session, optional
        Session to use; candlekit mounts its retrying adapter on it.
    """

    default_url: ClassVar[str]
    info_weight: ClassVar[int] = BASE_WEIGHT
    partial_tolerance: ClassVar[float] = 0.02

    def __init__(self, base_url: str | None = None, *, timeout: float | tuple[float, float]
                 = 10.0, max_retries: int = 5, backoff_factor: float = 0.25,
                 backoff_max: float = 30.0, weight_budget: int | None = None,
                 weight_window: float | None = None, confirm_empty: int = 3,
                 fill_budget: bool = False, session: requests.Session | None = None):
        super().__init__(confirm_empty=confirm_empty)
        self.fill_budget = bool(fill_budget)
        self.base_url = _check_url(base_url if base_url is not None else self.default_url)
        self.url = f"{self.base_url}/info"
        self.timeout = _check_timeout(timeout)
        self.max_retries = _check_number("max_retries", max_retries, minimum=0, integer=True)
        self.backoff_factor = float(_check_number("backoff_factor", backoff_factor, minimum=0))
        self.backoff_max = float(_check_number("backoff_max", backoff_max, minimum=0))
        self.limiter = limiter_for(self.base_url, budget=weight_budget, window=weight_window)
        self.session = make_session(max_retries=self.max_retries,
                                    backoff_factor=self.backoff_factor,
                                    backoff_max=self.backoff_max, session=session)
        self._listing: pd.DataFrame | None = None
        self._listing_lock = threading.Lock()
        self._observed_at: float | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    # --- hooks of the two upstreams ------------------------------------------------------

    @abc.abstractmethod
    def _candle_payload(self, coin: str, iv: Interval, start_ms: int, end_ms: int
                        ) -> dict[str, Any]:
        """The ``candleSnapshot`` request body for ``[start_ms, end_ms)``."""

    @abc.abstractmethod
    def _candle_weight(self, n: int) -> int:
        """Weight of a ``candleSnapshot`` that returned ``n`` records."""

    def _upper_weight(self, n: int) -> int:
        """Weight to reserve for a ``candleSnapshot`` that may return up to ``n`` records."""
        return self._candle_weight(n)

    @abc.abstractmethod
    def _candles_for_weight(self, weight: int) -> int:
        """Most candles one ``candleSnapshot`` can ask for within a reservation of ``weight``."""

    def _headers(self) -> dict[str, str]:
        return {}

    def _status_hint(self, status: int) -> str:
        return ("Check the coin (`candlekit symbols --upstream SOURCE`), the interval and the time range; "
                "if they are right, the upstream changed its API: report it.")

    # --- one logical request -------------------------------------------------------------

    def _describe(self, payload: Mapping[str, Any]) -> str:
        return f"POST {self.url} {json.dumps(payload, separators=(',', ':'))}"

    def _read_headers(self, response: requests.Response) -> int | None:
        date = response.headers.get("Date")
        server_now = None
        if date:
            try:
                when = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError):
                when = None
            if when is not None and when.tzinfo is not None:
                server_now = math.floor(when.timestamp()) * 1000
        self._observed_at = time.monotonic()
        self._observe(server_now, emulated=EMULATOR_HEADER.lower()
                      in (k.lower() for k in response.headers))
        return server_now

    def _server_now_bound(self) -> int | None:
        """An upper bound of the server's clock now, from the last response, or None."""
        if self._server_now is None or self._observed_at is None:
            return None
        elapsed = (time.monotonic() - self._observed_at) * 1000.0
        return self._server_now + int(elapsed) + 1000

    def _request(self, payload: dict[str, Any], *, weight: int,
                 read: Callable[[Any, int, str], tuple[T, int]]) -> tuple[T, _Reply]:
        """POST ``payload``; ``read(body, server_now_ms, label) -> (value, actual weight)``.

        urllib3 retries transport failures and 429/5xx up to ``max_retries`` times within
        one round; a round that still failed that way, or whose body was unusable, is
        repeated after a jittered backoff, up to ``max_retries`` more rounds. An
        unreachable host (connection refused, unknown name) fails after one round; an
        error answer (4xx) at once.
        """
        attempts = _Attempts(self.limiter, self.stats, weight)
        failure = _Failure()
        for round_ in range(self.max_retries + 1):
            if round_:
                self.stats.add(retries=1)
                time.sleep(backoff_delay(round_, factor=self.backoff_factor,
                                         maximum=self.backoff_max))
            attempts.start()
            try:
                with attempt_hooks(attempts):
                    response = self.session.post(self.url, json=payload, timeout=self.timeout,
                                                 headers=self._headers())
            except requests.RequestException as exc:
                attempts.attempt_failed(error=exc)
                kind = _failure_kind(exc)
                gave_up = bool(exc.args) and isinstance(exc.args[0], MaxRetryError)
                failure = _Failure("transport" if gave_up else "body",
                                   f"{kind}: {exc}" if gave_up else
                                   f"the body was cut off ({kind}: {exc})", error=exc)
                if gave_up and kind == "connection":
                    break
                continue
            attempts.received()
            server_now = self._read_headers(response)
            status = response.status_code
            if status != 200:
                attempts.finish(status=status)
                if status not in RETRY_STATUSES:
                    self._raise_for_status(response, payload)
                failure = _Failure("status", _error_text(response), status=status,
                                   body=response.text[:1000])
                continue
            try:
                body = response.json()
                value, actual = read(body, utc_now_ms() if server_now is None else server_now,
                                     self.label)
            except requests.exceptions.JSONDecodeError as exc:
                attempts.finish(status=status, failure="truncated")
                problem = f"a body that is not complete JSON ({exc})"
            except (FormatError, CandleValidationError) as exc:
                attempts.finish(status=status, failure="invalid")
                problem = f"unusable data: {exc}"
            else:
                attempts.finish(status=status, weight=actual)
                return value, _Reply(attempts.count,
                                     utc_now_ms() if server_now is None else server_now)
            failure = _Failure("body", problem, status=status, body=response.text[:300])
        raise self._give_up(failure, payload, attempts.count)

    def _give_up(self, failure: _Failure, payload: Mapping[str, Any], attempts: int
                 ) -> SourceError:
        """The error after the last retry, saying what came back and what to do."""
        request = self._describe(payload)
        if failure.kind == "status" and failure.status == 429:
            return RateLimitError(
                f"{self.label} still answered 429 (rate limited) after {attempts} attempts: "
                f"{failure.text}. Request: {request}. Something else is using this IP's "
                "budget: lower weight_budget= to match, or wait a minute and retry.",
                status=429, body=failure.body)
        if failure.kind == "status":
            return SourceError(
                f"{self.label} kept failing: HTTP {failure.status} after {attempts} attempts "
                f"({failure.text!r}). Request: {request}. The upstream is having trouble: "
                "retry later, or raise max_retries= to wait longer.",
                status=failure.status, body=failure.body)
        if failure.kind == "transport":
            err = SourceError(
                f"Could not get an answer from {self.label} at {self.url} after {attempts} "
                f"attempts ({failure.text}). Request: {request}. Check the network and "
                "base_url, or retry later (raise timeout= or max_retries= for a slow "
                "upstream).")
            err.__cause__ = failure.error
            return err
        return SourceError(
            f"{self.label} kept sending unusable answers: after {attempts} attempts the last "
            f"was {failure.text}"
            + (f" (HTTP {failure.status}, body starts {failure.body!r})" if failure.body
               else "")
            + f". Request: {request}. Nothing was returned or stored. Retry later; if it "
            "persists, the upstream is faulty: report it.",
            status=failure.status, body=failure.body)

    def _raise_for_status(self, response: requests.Response, payload: Mapping[str, Any]
                          ) -> None:
        """Raise for an error answer that retrying cannot fix (4xx other than 429)."""
        status = response.status_code
        message = _error_text(response)
        body = response.text[:1000]
        request = self._describe(payload)
        if 400 <= status < 500:
            req = payload.get("req")
            coin = req.get("coin") if isinstance(req, Mapping) else None
            if isinstance(coin, str) and "unknown coin" in message.lower():
                raise self._unknown_symbol(coin, upstream=message)
            raise UpstreamError(
                f"{self.label} answered HTTP {status}: {message} (request: {request}). "
                f"{self._status_hint(status)}", status=status, body=body)
        raise SourceError(
            f"{self.label} answered an unexpected HTTP {status} ({message!r}) to {request}. "
            "Check base_url points at the API root.", status=status, body=body)

    # --- candles ---------------------------------------------------------------------------

    def _candle_upper(self, iv: Interval, start_ms: int, end_ms: int) -> int:
        """Upper bound of a page's weight: buckets in range up to the server's clock."""
        bound = self._server_now_bound()
        edge = end_ms if bound is None else min(end_ms, self._bucket_after(bound, iv))
        return self._upper_weight(min(self.page_limit, self._count_buckets(start_ms, edge, iv)))

    def _next_page_end(self, interval: Interval, cursor: int, end_ms: int, *,
                       dense: bool) -> int:
        """With ``fill_budget``: a shorter page when the budget would make a whole one wait.

        Inside dense data (the previous page reached ``cursor``): when a whole page's
        weight is not free and will not be for a while (``partial_tolerance`` of the
        window), ask for as many candles as the free weight pays for. The budget left over
        by whole pages then buys candles instead of idling, so a busy client keeps the
        whole budget in use.
        """
        if not (self.fill_budget and dense):
            return end_ms
        full = self._candle_upper(interval, cursor, end_ms)
        tolerance = self.limiter.window * self.partial_tolerance
        while True:
            until_fits, available, next_expiry = self.limiter.outlook(full)
            if until_fits == 0.0:
                return end_ms
            if available > BASE_WEIGHT and (until_fits is None or until_fits > tolerance):
                k = min(self._candles_for_weight(available), self.page_limit)
                return min(end_ms, self._advance(cursor, k, interval))
            waits = [w for w in (until_fits, next_expiry) if w is not None]
            self.stats.add(wait_seconds=self.limiter.pause(min(waits) if waits else None))

    def fetch_page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Page:
        """One ``candleSnapshot`` (retried inside) for candles opening in ``[start_ms, end_ms)``.

        Parameters
        ----------
        symbol : str
            Coin as the upstream names it.
        interval : str
            One of :attr:`intervals`.
        start_ms, end_ms : int
            Epoch ms, end exclusive.

        Returns
        -------
        Page
            Duplicates resolved, records outside the range dropped, ``closed`` decided by
            the server's clock (the ``Date`` of this response).

        Raises
        ------
        InvalidIntervalError, InvalidTimeError, UnknownSymbolError
            For bad arguments, before any request.
        UpstreamError
            When the upstream answers with an error message (verbatim in the text).
        SourceError
            When no usable answer came after every retry.
        """
        symbol = self._check_symbol_name(symbol)
        iv = self.check_interval(interval)
        start_ms, end_ms = _check_ms("start_ms", start_ms), _check_ms("end_ms", end_ms)
        check_not_before_epoch(start_ms)
        if end_ms <= start_ms:
            raise InvalidTimeError(f"end_ms ({to_timestamp(end_ms)}) must be after start_ms "
                                   f"({to_timestamp(start_ms)}).", (start_ms, end_ms))
        payload = self._candle_payload(symbol, iv, start_ms, end_ms)

        def read(body: Any, server_now: int, label: str
                 ) -> tuple[tuple[pd.DataFrame, int, bool], int]:
            if not isinstance(body, list):
                raise FormatError(f"candleSnapshot answer is not a list but "
                                  f"{type(body).__name__}: {str(body)[:200]}", body)
            frame = from_wire(body, symbol=symbol, interval=iv.name, now=server_now,
                              alignment=self.alignment, source=label)
            t = frame.index.asi8
            inside = (t >= start_ms) & (t < end_ms)
            if not inside.all():
                attrs = dict(frame.attrs)
                frame = frame[inside]
                frame.attrs = attrs
            full = len(body) >= self.page_limit
            if full and not len(frame):
                raise FormatError(f"a full page of {len(body)} records without one candle "
                                  "in the requested range", None)
            return (frame, len(body), full), self._candle_weight(len(body))

        (frame, records, full), reply = self._request(
            payload, weight=self._candle_upper(iv, start_ms, end_ms), read=read)
        return Page(symbol=symbol, interval=iv.name, start_ms=start_ms, end_ms=end_ms,
                    frame=frame, records=records, full=full, requests=reply.attempts,
                    server_now_ms=reply.server_now_ms)

    # --- listing ---------------------------------------------------------------------------

    def _info(self, payload: dict[str, Any]) -> Any:
        def read(body: Any, server_now: int, label: str) -> tuple[Any, int]:
            return check_answer(payload["type"], body), self.info_weight

        return self._request(payload, weight=self.info_weight, read=read)[0]

    def symbols(self) -> pd.DataFrame:
        """Every coin the upstream lists (fetched once per client, then cached).

        Returns
        -------
        pandas.DataFrame
            Columns ``symbol`` (what to pass to :meth:`candles`), ``kind`` (``perp``,
            ``hip3`` or ``spot``), ``dex`` (the HIP-3 dex, else ``""``) and ``name``
            (spot pairs as ``BASE/QUOTE``, e.g. ``@107`` is ``HYPE/USDC``).

        Raises
        ------
        SourceError
            When a listing request fails after every retry.
        """
        with self._listing_lock:
            if self._listing is None:
                meta = self._info({"type": "meta"})
                dexes = dex_names(self._info({"type": "perpDexs"}))
                dex_metas = {d: self._info({"type": "meta", "dex": d}) for d in dexes}
                spot = self._info({"type": "spotMeta"})
                self._listing = build_listing(meta, dex_metas, spot)
            return self._listing.copy()

    def identify(self) -> str:
        """The data label, asking the server (one ``meta`` request) if no response came yet.

        Returns
        -------
        str
            :attr:`label`: ``name``, or the emulator's label for the candlekit emulator.
        """
        if self._emulated is None:
            try:
                self._info({"type": "meta"})
            except UpstreamError:
                pass  # the answer's headers were read before its status
        return self.label
