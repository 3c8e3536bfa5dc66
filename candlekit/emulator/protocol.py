"""Reading ``POST /info`` bodies, and the errors each emulated API answers with.

Both modes take ``{"type": "candleSnapshot", "req": {"coin", "interval", "startTime",
"endTime"}}`` (``endTime`` optional: up to the clock), ``{"type": "meta"}`` (optionally
with ``"dex"``), ``{"type": "spotMeta"}`` and ``{"type": "perpDexs"}``.

Hyperliquid mode (as the exchange's typed deserializer)
    A body that is not JSON, an unknown ``type``, a missing or mistyped field, an interval
    it does not have (``1s`` included) or a negative time: HTTP 422, text
    ``Failed to deserialize the JSON body into the target type``. ``endTime`` is
    inclusive; ``startTime > endTime`` gives ``[]``.
Hydromancer mode
    Checks fields itself: HTTP 400 with ``{"error": msg}`` for ``Missing required field:
    coin`` (or ``interval``, ``startTime``, ``req``), ``Invalid interval``, ``endTime must
    be greater than startTime`` and ``limit must be between 1 and 5000``; a body that is
    not JSON or a mistyped time: 422 as above. ``endTime`` is exclusive; ``limit``
    (default 5000) caps the candles returned.
Both
    An unknown coin: HTTP 422, text ``Unknown coin: <name>``; an unknown dex in ``meta``:
    422, text ``Unknown dex: <name>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DESERIALIZE_ERROR", "MAX_LIMIT", "ApiError", "CandleQuery", "MetaQuery",
           "parse_info"]

DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"
MAX_LIMIT = 5000
_TIME_CAP = 2**62
META_TYPES = ("meta", "spotMeta", "perpDexs")


class ApiError(Exception):
    """An HTTP error answer.

    Attributes
    ----------
    status : int
    body : bytes
    content_type : str
    """

    def __init__(self, status: int, body: bytes, content_type: str):
        self.status = status
        self.body = body
        self.content_type = content_type
        super().__init__(f"{status} {body[:200]!r}")

    @classmethod
    def text(cls, status: int, message: str) -> ApiError:
        """An error with a plain-text body."""
        return cls(status, message.encode("utf-8"), "text/plain; charset=utf-8")

    @classmethod
    def json(cls, status: int, message: str) -> ApiError:
        """An error with a ``{"error": message}`` body."""
        return cls(status, json.dumps({"error": message}).encode("utf-8"), "application/json")


@dataclass(frozen=True)
class CandleQuery:
    """A ``candleSnapshot`` request: candles with open time in ``[lo_ms, hi_ms)``."""

    coin: str
    interval: str
    lo_ms: int
    hi_ms: int
    limit: int = MAX_LIMIT


@dataclass(frozen=True)
class MetaQuery:
    """A metadata request: ``kind`` is ``meta``, ``spotMeta`` or ``perpDexs``."""

    kind: str
    dex: str = ""


def _is_int(v: Any) -> bool:
    return type(v) is int


def _deserialize() -> ApiError:
    return ApiError.text(422, DESERIALIZE_ERROR)


def parse_info(body: bytes, *, mode: str, intervals: tuple[str, ...],
               has_coin: Callable[[object], bool]) -> CandleQuery | MetaQuery:
    """Read one ``POST /info`` body.

    Parameters
    ----------
    body : bytes
    mode : {"hyperliquid", "hydromancer"}
    intervals : tuple of str
        Intervals served.
    has_coin : callable
        Whether a coin name is served.

    Returns
    -------
    CandleQuery or MetaQuery

    Raises
    ------
    ApiError
        The answer to send instead (see the module notes).
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _deserialize() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise _deserialize()
    kind = payload["type"]
    if kind in META_TYPES:
        dex = payload.get("dex", "")
        if kind != "meta" or dex is None:
            dex = ""
        elif not isinstance(dex, str):
            raise _deserialize()
        return MetaQuery(kind, dex)
    if kind != "candleSnapshot":
        raise _deserialize()
    if mode == "hydromancer":
        return _hydromancer_candles(payload, intervals, has_coin)
    return _hyperliquid_candles(payload, intervals, has_coin)


def _hyperliquid_candles(payload: dict, intervals: tuple[str, ...],
                         has_coin: Callable[[object], bool]) -> CandleQuery:
    req = payload.get("req")
    if not isinstance(req, dict):
        raise _deserialize()
    coin, interval = req.get("coin"), req.get("interval")
    start, end = req.get("startTime"), req.get("endTime")
    if not isinstance(coin, str) or interval not in intervals or not _is_int(start):
        raise _deserialize()
    if start < 0 or (end is not None and (not _is_int(end) or end < 0)):
        raise _deserialize()
    if not has_coin(coin):
        raise ApiError.text(422, f"Unknown coin: {coin}")
    hi = _TIME_CAP if end is None else min(end, _TIME_CAP) + 1  # endTime inclusive
    return CandleQuery(coin, interval, min(start, _TIME_CAP), hi)


def _hydromancer_candles(payload: dict, intervals: tuple[str, ...],
                         has_coin: Callable[[object], bool]) -> CandleQuery:
    req = payload.get("req")
    if req is None:
        raise ApiError.json(400, "Missing required field: req")
    if not isinstance(req, dict):
        raise _deserialize()
    for name in ("coin", "interval", "startTime"):
        if req.get(name) is None:
            raise ApiError.json(400, f"Missing required field: {name}")
    coin, interval = req["coin"], req["interval"]
    start, end, limit = req["startTime"], req.get("endTime"), req.get("limit")
    if not isinstance(coin, str) or not _is_int(start) or not (end is None or _is_int(end)):
        raise _deserialize()
    if interval not in intervals:
        raise ApiError.json(400, "Invalid interval")
    if end is not None and end <= start:
        raise ApiError.json(400, "endTime must be greater than startTime")
    if limit is None:
        limit = MAX_LIMIT
    elif not _is_int(limit) or not 1 <= limit <= MAX_LIMIT:
        raise ApiError.json(400, f"limit must be between 1 and {MAX_LIMIT}")
    if not has_coin(coin):
        raise ApiError.text(422, f"Unknown coin: {coin}")
    hi = _TIME_CAP if end is None else min(end, _TIME_CAP)
    return CandleQuery(coin, interval, max(min(start, _TIME_CAP), 0), hi, limit)
