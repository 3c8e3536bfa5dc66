"""A scripted local ``POST /info`` server for testing source clients without a network.

:class:`FakeUpstream` answers ``candleSnapshot``, ``meta``, ``perpDexs`` and ``spotMeta`` the
way Hyperliquid (or Hydromancer) does, from deterministic formula candles, on
``127.0.0.1`` in a background thread. Tests push :class:`Action` objects that change how
the next ``candleSnapshot`` requests are answered (an error status, a dropped connection,
a slow or cut-off body, edited records), and read back what the server received. It is
deliberately small; the full market simulation with fault rates is
:mod:`candlekit.emulator`.
"""

from __future__ import annotations

import collections
import email.utils
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import numpy as np
import pandas as pd

from ..intervals import bucket_ordinal, close_ms, ordinal_to_ms, parse_interval
from ..timeutil import TimeLike, to_ms
from ..wire import format_decimal, from_wire

__all__ = ["Action", "FakeUpstream", "Received"]

LISTED = {"BTC": "2023-01-01", "ETH": "2023-01-01", "xyz:NVDA": "2025-10-01",
          "PURR/USDC": "2024-01-01", "@107": "2024-01-01"}
META = {"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "ETH", "szDecimals": 4}]}
DEX_META = {"universe": [{"name": "xyz:NVDA", "szDecimals": 2}]}
PERP_DEXS = [None, {"name": "xyz", "fullName": "XYZ"}]
SPOT_META = {"universe": [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0},
                          {"name": "@107", "tokens": [150, 0], "index": 107}],
             "tokens": [{"name": "USDC", "index": 0}, {"name": "PURR", "index": 1},
                        {"name": "HYPE", "index": 150}]}


@dataclass
class Action:
    """How to answer one upcoming ``candleSnapshot`` request.

    Attributes
    ----------
    status : int, default 200
        HTTP status; with a ``body`` the body is sent as given.
    body : str or None
        Raw body instead of the candles.
    headers : dict
        Extra response headers (e.g. ``{"Retry-After": "1"}``).
    drop : bool
        Close the connection without answering.
    sleep : float
        Seconds to wait before answering.
    cut : int or None
        Send only the first ``cut`` bytes of the body. With ``lie_length`` the
        ``Content-Length`` announces the whole body (the connection drops mid-body),
        else the cut body's length (a complete response with broken JSON).
    lie_length : bool
    edit : callable or None
        ``edit(records) -> records`` applied to the candle records before sending.
    """

    status: int = 200
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    sleep: float = 0.0
    cut: int | None = None
    lie_length: bool = False
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class Received:
    """One request the server received: its JSON body, headers and arrival time."""

    payload: Any
    headers: dict[str, str]
    arrived: float


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out close their end; the late write failing is expected."""


class FakeUpstream:
    """A Hyperliquid-like (or Hydromancer-like) ``/info`` server on ``127.0.0.1``.

    Parameters
    ----------
    now : time, default "2026-11-01T00:00Z"
        Market clock: the ``Date`` header, and the open candle.
    mode : {"hyperliquid", "hydromancer"}
        Hydromancer: ``endTime`` exclusive, ``limit`` honoured, ``q``/``x`` fields,
        calendar alignment, bearer key checked when ``api_key`` is set.
    window : int, optional
        Serve only the last ``window`` candles of each coin and interval.
    emulator_header : bool, default False
        Send ``X-Candlekit-Emulator``.
    send_date : bool, default True
        Send the ``Date`` header.
    budget, budget_window : optional
        Enforce a sliding-window weight budget (charged at arrival; 429 with
        ``Retry-After`` when ``used + 20 > budget``).
    api_key : str, optional
        Hydromancer mode: require ``Authorization: Bearer <api_key>``.
    unknown_as_empty : bool, default False
        Answer ``[]`` (instead of 422 ``Unknown coin``) for coins it does not list.
    """

    def __init__(self, *, now: TimeLike = "2026-11-01T00:00Z", mode: str = "hyperliquid",
                 window: int | None = None, emulator_header: bool = False,
                 send_date: bool = True, budget: int | None = None,
                 budget_window: float = 60.0, api_key: str | None = None,
                 unknown_as_empty: bool = False):
        self.now_ms = to_ms(now)
        self.mode = mode
        self.window = window
        self.emulator_header = emulator_header
        self.send_date = send_date
        self.budget = budget
        self.budget_window = budget_window
        self.api_key = api_key
        self.unknown_as_empty = unknown_as_empty
        self.alignment = "calendar" if mode == "hydromancer" else "hyperliquid"
        self.actions: collections.deque[Action] = collections.deque()
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self._charges: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(self, *actions: Action) -> None:
        """Queue actions for the next ``candleSnapshot`` requests, in order."""
        self.actions.extend(actions)

    def candle_requests(self) -> list[dict[str, Any]]:
        """The ``req`` of every ``candleSnapshot`` received, in order."""
        return [r.payload["req"] for r in self.received
                if isinstance(r.payload, dict) and r.payload.get("type") == "candleSnapshot"]

    # --- the market --------------------------------------------------------------------

    def records(self, coin: str, interval: str, start: int, end: int) -> list[dict[str, Any]]:
        """Every record with open time in ``[start, end)`` the market has now (no window)."""
        iv = parse_interval(interval)
        first_ms = max(start, to_ms(LISTED[coin]))
        last_ms = min(end - 1, self.now_ms)
        if last_ms < first_ms:
            return []
        o0, o1 = bucket_ordinal(np.array([first_ms, last_ms]), iv, alignment=self.alignment)
        t = ordinal_to_ms(np.arange(o0, o1 + 1), iv, alignment=self.alignment)
        t = t[t >= first_ms]
        close = close_ms(t, iv, alignment=self.alignment)
        out = []
        for ti, ci in zip(t.tolist(), close.tolist()):
            k = (ti // iv.nominal_ms) % 997
            base = 100.0 + k / 8
            rec = {"t": ti, "T": ci, "s": coin, "i": iv.name, "o": format_decimal(base),
                   "c": format_decimal(base + 0.25), "h": format_decimal(base + 1.5),
                   "l": format_decimal(base - 1.0), "v": format_decimal(10.0 + k % 7),
                   "n": k % 13}
            if self.mode == "hydromancer":
                rec["q"] = format_decimal(1000.0 + k) if ti >= to_ms("2025-08-01") else None
                rec["x"] = ci < self.now_ms
            out.append(rec)
        return out

    def truth(self, coin: str, interval: str, start: TimeLike, end: TimeLike,
              *, source: str = "hyperliquid") -> pd.DataFrame:
        """The canonical frame of :meth:`records` (what a correct client returns)."""
        return from_wire(self.records(coin, interval, to_ms(start), to_ms(end)), symbol=coin,
                         interval=interval, now=self.now_ms, alignment=self.alignment,
                         source=source)

    def _served(self, req: dict[str, Any]) -> list[dict[str, Any]]:
        end = req["endTime"] if self.mode == "hydromancer" else req["endTime"] + 1
        records = self.records(req["coin"], req["interval"], req["startTime"], end)
        if self.window is not None:
            everything = self.records(req["coin"], req["interval"], 0, self.now_ms + 1)
            oldest = everything[-self.window]["t"] if len(everything) >= self.window else 0
            records = [r for r in records if r["t"] >= oldest]
        limit = min(5000, req.get("limit", 5000)) if self.mode == "hydromancer" else 5000
        return records[:limit]

    # --- HTTP --------------------------------------------------------------------------

    def _charge(self, weight: int) -> float | None:
        """Charge at arrival; the seconds to wait when over budget."""
        if self.budget is None:
            return None
        with self._lock:
            now = time.monotonic()
            self._charges = [(t, w) for t, w in self._charges if t > now - self.budget_window]
            used = sum(w for _, w in self._charges)
            if used + 20 > self.budget:
                return max(self._charges[0][0] + self.budget_window - now, 0.0)
            self._charges.append((now, weight))
            return None

    def _answer(self, payload: Any, headers: dict[str, str]
                ) -> tuple[int, Any, Action | None]:
        """(status, JSON body, action) for one request."""
        if self.mode == "hydromancer" and self.api_key is not None and \
                headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": "Invalid API key"}, None
        if not isinstance(payload, dict) or "type" not in payload:
            return 422, "Failed to deserialize the JSON body into the target type", None
        kind = payload["type"]
        if kind == "meta":
            return 200, (DEX_META if payload.get("dex") == "xyz" else META), None
        if kind == "perpDexs":
            return 200, PERP_DEXS, None
        if kind == "spotMeta":
            return 200, SPOT_META, None
        if kind != "candleSnapshot":
            return 422, "Failed to deserialize the JSON body into the target type", None
        req = payload.get("req", {})
        action = self.actions.popleft() if self.actions else None
        if req.get("coin") not in LISTED:
            if self.unknown_as_empty:
                return 200, [], action
            return 422, f"Unknown coin: {req.get('coin')}", action
        if self.mode == "hydromancer" and req.get("endTime", 0) <= req.get("startTime", 0):
            return 400, {"error": "endTime must be greater than startTime"}, action
        return 200, self._served(req), action

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.received.append(Received(payload, headers, arrived))
                status, body, action = fake._answer(payload, headers)
                action = action or Action()
                if action.sleep:
                    time.sleep(action.sleep)
                if action.drop:
                    self.close_connection = True
                    return
                if status == 200 and action.edit is not None:
                    body = action.edit(body)
                if action.status != 200:
                    status = action.status
                    body = action.body if action.body is not None else {"error": "injected"}
                elif action.body is not None:
                    body = action.body
                n = len(body) if isinstance(body, list) else 0
                wait = fake._charge(20 + -(-n // 60))
                if wait is not None:
                    status, body = 429, {"error": "rate limited"}
                    action = Action(headers={"Retry-After": str(max(1, int(wait + 0.999)))})
                text = body if isinstance(body, str) else json.dumps(body)
                data = text.encode()
                fake.statuses.append(status)
                sent = data if action.cut is None else data[:action.cut]
                self.send_response_only(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length",
                                 str(len(data) if action.lie_length else len(sent)))
                if fake.send_date:
                    self.send_header("Date", email.utils.formatdate(fake.now_ms / 1000,
                                                                    usegmt=True))
                if fake.emulator_header:
                    self.send_header("X-Candlekit-Emulator", fake.mode)
                for k, v in action.headers.items():
                    self.send_header(k, v)
                if action.cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(sent)
                if action.cut is not None:
                    self.close_connection = True

        return Handler
