"""The HTTP side: a threaded HTTP/1.1 server with ``POST /info`` and ``POST /emulator``.

Every answer carries ``Content-Length`` (connections are kept alive), a ``Date`` header
from the *market* clock (RFC 7231, whole seconds) and ``X-Candlekit-Emulator: <mode>``
so that clients know the data is synthetic.

``POST /info``, in this order: the API key (Hydromancer mode with a key: ``Authorization:
Bearer <key>``, else 401 ``{"error": "Invalid API key"}``, no weight); the weight budget
(429 with ``Retry-After`` in whole seconds and a JSON body, no weight; otherwise 20 is
charged on arrival); the body (:mod:`.protocol`); then the answer. A ``candleSnapshot``
is charged ``ceil(n / 60)`` more for the ``n`` candles it returns (after faults: an
answer emptied by the ``empty`` fault costs 20), stamped at its arrival however long the
answer takes (the ``slow`` fault), and may get faults (:mod:`.faults`).

``POST /emulator`` (the control endpoint; no key, no weight, no faults, not counted)
takes a JSON object with any of ``set_time`` (epoch ms or ISO time), ``advance_ms``
(milliseconds), ``faults`` (rates by name, as :class:`Faults` takes them),
``stats: true`` and ``reset_stats: true``, applied in that order, and answers
``{"mode", "now_ms", "now", "running"}`` plus ``"stats"`` and ``"faults"`` when asked.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import CandlekitError
from . import catalog
from .budget import BASE_WEIGHT, candle_weight
from .faults import Faults, perturb_open
from .protocol import ApiError, CandleQuery, parse_info

if TYPE_CHECKING:  # pragma: no cover
    from .emulator import Emulator

__all__ = ["EmulatorServer", "Reply", "handle_control", "handle_info"]

log = logging.getLogger(__name__)

_MAX_BODY = 1 << 20
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_CONTROL_KEYS = ("set_time", "advance_ms", "faults", "stats", "reset_stats")


@dataclass
class Reply:
    """One answer to send (or, with ``drop``, the connection to close instead).

    Attributes
    ----------
    status : int
    body : bytes
    content_type : str
    headers : list of (str, str)
        Extra headers.
    candles : int
        Candle records in the body (for the counters).
    drop : bool
        Close the connection without answering.
    """

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    candles: int = 0
    drop: bool = False


def _json(status: int, payload: Any, **kw: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode("utf-8"), **kw)


# --- POST /info --------------------------------------------------------------------------


def handle_info(app: Emulator, body: bytes, authorization: str | None) -> Reply:
    """The answer to a ``POST /info`` request (see the module notes).

    Parameters
    ----------
    app : Emulator
        Whose clock, market, budget, faults and counters to use.
    body : bytes
        The request body.
    authorization : str or None
        The ``Authorization`` header.

    Returns
    -------
    Reply
    """
    app.counters.request()
    if app.mode == "hydromancer" and app.api_key is not None and (
            authorization != f"Bearer {app.api_key}"):
        return _json(401, {"error": "Invalid API key"})
    arrived = app.budget.now()
    wait = app.budget.admit(BASE_WEIGHT, at=arrived)
    if wait is not None:
        retry = max(1, math.ceil(wait))
        return _json(429, {"error": f"Too many requests: more than {app.budget.limit} weight "
                           f"in {app.budget.window_s:g} s. Retry after {retry} s."},
                     headers=[("Retry-After", str(retry))])
    app.counters.weight(BASE_WEIGHT)
    try:
        query = parse_info(body, mode=app.mode, intervals=app.market.intervals,
                           has_coin=app.market.has_coin)
    except ApiError as exc:
        return Reply(exc.status, exc.body, exc.content_type)
    if isinstance(query, CandleQuery):
        return _candles(app, query, arrived)
    if query.kind == "spotMeta":
        return _json(200, catalog.spot_meta())
    if query.kind == "perpDexs":
        return _json(200, catalog.perp_dexs())
    meta = catalog.meta(query.dex)
    if meta is None:
        return Reply(422, f"Unknown dex: {query.dex}".encode(), "text/plain; charset=utf-8")
    return _json(200, meta)


def _candles(app: Emulator, q: CandleQuery, arrived: float) -> Reply:
    faults = app.faults
    drawn = app.injector.draw(faults)
    if "dropped" in drawn:
        app.counters.fault("dropped")
        return Reply(drop=True)
    if "server_error" in drawn:
        app.counters.fault("server_error")
        status = app.injector.server_error()
        return Reply(status, _REASONS[status].encode(), "text/plain; charset=utf-8")
    if "slow" in drawn:
        app.counters.fault("slow")
        time.sleep(faults.slow_seconds)
    now = app.clock.now_ms()
    market = app.market
    page = market.page(q.coin, q.interval, q.lo_ms, q.hi_ms, now, limit=q.limit)
    records: list[bytes] | None = None
    if "empty" in drawn and page.count:
        app.counters.fault("empty")
        records = []
    else:
        if "stale_open" in drawn and page.open_row is not None:
            app.counters.fault("stale_open")
            records = page.records()
            records[-1] = market.encode_open(q.coin, q.interval,
                                             perturb_open(q.coin, page.open_row))
        if "duplicates" in drawn:
            before = market.preceding(q.coin, q.interval, q.lo_ms, now, 3)
            if page.count or before:
                app.counters.fault("duplicates")
                records = app.injector.duplicate(
                    page.records() if records is None else records, before)
        if "out_of_order" in drawn and (page.count if records is None else len(records)) > 1:
            app.counters.fault("out_of_order")
            records = app.injector.shuffle(page.records() if records is None else records)
    if records is None:
        body, count = page.body(), page.count
    else:
        body, count = b"[" + b",".join(records) + b"]", len(records)
    # Weight per candle *returned* (an emptied answer costs the base weight only), stamped
    # at the arrival, as the client's limiter assumes (see .budget)
    extra = candle_weight(count) - BASE_WEIGHT
    app.budget.charge(extra, at=arrived)
    app.counters.weight(extra)
    if "truncated" in drawn:
        app.counters.fault("truncated")
        body, count = body[: len(body) // 2], 0
    return Reply(200, body, candles=count)


# --- POST /emulator ----------------------------------------------------------------------


def handle_control(app: Emulator, body: bytes) -> Reply:
    """The answer to a ``POST /emulator`` control request (see the module notes).

    Returns
    -------
    Reply
        200 with the clock (and stats/faults when asked), or 422 ``{"error": ...}``.
    """
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return _json(422, {"error": "The control body must be a JSON object such as "
                           '{"advance_ms": 60000} or {"stats": true}.'})
    unknown = sorted(set(payload) - set(_CONTROL_KEYS))
    if unknown:
        return _json(422, {"error": f"Unknown control field(s) {', '.join(unknown)}: use "
                           f"{', '.join(_CONTROL_KEYS)}."})
    out: dict[str, Any] = {}
    try:
        if payload.get("set_time") is not None:
            app.set_time(payload["set_time"])
        if payload.get("advance_ms") is not None:
            step = payload["advance_ms"]
            if type(step) is not int:
                raise ApiError.json(422, f"advance_ms must be an integer number of "
                                    f"milliseconds, got {step!r}.")
            app.advance(step)
        if payload.get("faults") is not None:
            spec = payload["faults"]
            if not isinstance(spec, dict) or not set(spec) <= set(Faults().to_dict()):
                raise ApiError.json(422, "faults must be an object of rates by name: "
                                    + ", ".join(Faults().to_dict()))
            app.faults = Faults(**spec)
        if payload.get("stats"):
            out["stats"] = app.stats.to_dict()
        if payload.get("reset_stats"):
            app.reset_stats()
    except ApiError as exc:
        return Reply(exc.status, exc.body, exc.content_type)
    except CandlekitError as exc:
        return _json(422, {"error": str(exc)})
    now = app.now_ms
    out = {"mode": app.mode, "now_ms": now,
           "now": pd.Timestamp(now, unit="ms", tz="UTC").isoformat(),
           "running": app.clock.running, **out}
    if "faults" in payload:
        out["faults"] = app.faults.to_dict()
    return _json(200, out)


# --- HTTP plumbing -----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server_version = "candlekit-emulator"
    sys_version = ""
    server: _HTTPServer

    def version_string(self) -> str:
        """The ``Server`` header."""
        return self.server_version

    def send_response(self, code: int, message: str | None = None) -> None:
        """Used by the stdlib's own error answers (e.g. 501): add the emulator header."""
        super().send_response(code, message)
        self.send_header("X-Candlekit-Emulator", self.server.app.mode)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the market clock, not the wall clock."""
        return self.server.app.clock.http_date()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(Reply(411, b"Send the JSON body with a Content-Length, not chunked.",
                             "text/plain; charset=utf-8"), count=False)
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._send(Reply(413 if length > _MAX_BODY else 400,
                             b"Send a JSON body (at most 1 MiB) with a Content-Length.",
                             "text/plain; charset=utf-8"), count=False)
            return None
        return self.rfile.read(length)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/info":
            try:
                reply = handle_info(app, body, self.headers.get("Authorization"))
            except Exception as exc:  # a bug here: say so loudly rather than drop the client
                log.exception("candlekit emulator: error answering %r", body[:200])
                reply = Reply(500, f"candlekit emulator internal error: {exc!r}".encode(),
                              "text/plain; charset=utf-8")
            self._send(reply)
        elif path == "/emulator":
            self._send(handle_control(app, body), count=False)
        else:
            self._send(_json(404, {"error": f"No such endpoint {path}: use POST /info "
                                   "(or POST /emulator to drive the emulator)."}), count=False)

    def do_GET(self) -> None:
        self._send(_json(405, {"error": "Use POST /info with a JSON body, as the Hyperliquid "
                               "API; POST /emulator drives the clock."}), count=False)

    def _send(self, reply: Reply, *, count: bool = True) -> None:
        app = self.server.app
        if reply.drop:
            self.close_connection = True
            return
        reason = self.responses.get(reply.status, ("",))[0]
        head = [f"HTTP/1.1 {reply.status} {reason}",
                f"Date: {app.clock.http_date()}",
                f"Server: {self.server_version}",
                f"Content-Type: {reply.content_type}",
                f"Content-Length: {len(reply.body)}",
                f"X-Candlekit-Emulator: {app.mode}",
                *(f"{k}: {v}" for k, v in reply.headers)]
        if self.close_connection:
            head.append("Connection: close")
        if count:  # before sending: a client reading the stats after the answer sees it
            app.counters.response(reply.status, candles=reply.candles)
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        except OSError:  # the client went away (e.g. gave up on a slow answer)
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: Emulator):
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is normal; anything else is logged."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("candlekit emulator: connection from %s lost", client_address)
            return
        log.exception("candlekit emulator: error serving %s", client_address)

    def process_request(self, request, client_address):
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorServer:
    """The emulator's HTTP server, serving from a daemon thread.

    Parameters
    ----------
    app : Emulator
    host : str
    port : int
        0 picks a free port.

    Raises
    ------
    OSError
        When the address cannot be bound (e.g. the port is taken).
    """

    def __init__(self, app: Emulator, host: str, port: int):
        self._httpd = _HTTPServer((host, port), app)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"candlekit-emulator-{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self._thread.join(timeout=5)
