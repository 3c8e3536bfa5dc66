"""Response and request shapes, for ``/openapi.json`` only.

The routes return bytes serialised from columns (:mod:`.encode`); these pydantic models
only describe them, through the ``responses=`` of each route, so that the OpenAPI document
lists every endpoint, every field and every error answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnalysisCreated",
    "AnalysisDetail",
    "AnalysisRow",
    "BackfillCreated",
    "BackfillRequest",
    "BackfillStatus",
    "CandleRecord",
    "CoverageRow",
    "ErrorBody",
    "GapRecord",
    "Gaps",
    "HyperliquidCandleRecord",
    "InfoErrorBody",
    "Kline",
    "Ok",
    "Symbols",
    "error_responses",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Open):
    """An error of the kline REST API."""

    error: str = Field(description="A short error code, e.g. invalid_interval.")
    message: str = Field(description="What was wrong and what to do next.")


class InfoErrorBody(_Open):
    """An error of ``POST /info`` in Hydromancer's dialect (``code``/``msg`` for the SDK)."""

    error: str = Field(description="The message, e.g. 'Invalid interval'.")
    code: int | str
    msg: str


class Kline(_Open):
    """One candle of ``GET /api/klines/data``."""

    timestamp: str = Field(description="Open time, ISO 8601 UTC with Z.",
                           examples=["2026-04-01T00:00:00Z"])
    open: float
    high: float
    low: float
    close: float
    volume: float = Field(description="Volume in the base asset.")
    quote_volume: float | None = Field(None, description="Null when unknown.")
    trades: int | None = Field(None, description="Null when unknown.")
    closed: bool = Field(True, description="False while the candle can still change.")


class CoverageRow(_Open):
    symbol: str
    interval: str
    earliest: str
    latest: str
    total_candles: int
    source: str | None = None
    open_candles: int | None = None
    synthetic: bool | None = Field(None, description="True for synthetic (emulator) data.")


class Symbols(_Open):
    symbols: list[str]


class BackfillRequest(BaseModel):
    """``POST /api/klines/backfill``."""

    symbol: str = Field(description="Coin as the upstream names it: BTC, xyz:NVDA, @107.")
    interval: str = Field(description="One of the 15 intervals (1m minute, 1M month).")
    start_date: str | None = Field(
        None, description="First open time (ISO 8601). Default: the upstream's last 5000 "
                          "candles.")
    end_date: str | None = Field(None, description="End (exclusive). Default: up to now.")


class BackfillCreated(_Open):
    id: str
    status: str


class BackfillStatus(_Open):
    id: str
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress_pct: float
    candles_fetched: int
    symbol: str | None = None
    interval: str | None = None
    error: str | None = None
    note: str | None = None
    synthetic: bool | None = None


class Ok(_Open):
    status: Literal["ok"]


class GapRecord(_Open):
    start: str = Field(description="Open time of the first missing candle.")
    end: str = Field(description="Exclusive end: open time after the last missing candle.")
    missing_candles: int
    interval: str | None = None


class Gaps(_Open):
    symbol: str
    gaps: list[GapRecord]


class AnalysisCreated(_Open):
    analysis_id: str
    status: str


class AnalysisRow(_Open):
    id: str
    symbol: str
    status: str
    created_at: str | None


class AnalysisDetail(_Open):
    id: str
    symbol: str
    status: str
    analysis: str
    created_at: str | None


class HyperliquidCandleRecord(_Open):
    """A ``candleSnapshot`` record as Hyperliquid sends it."""

    t: int = Field(description="Open time, epoch ms.")
    T: int = Field(description="Close time: the candle's last millisecond.")
    s: str
    i: str
    o: str
    h: str
    l: str
    c: str
    v: str
    n: int | None


class CandleRecord(HyperliquidCandleRecord):
    """A ``candleSnapshot`` record as Hydromancer sends it (``q`` and ``x`` added)."""

    q: str | None = Field(None, description="Quote volume; null when unknown.")
    x: bool = Field(True, description="True when the candle is closed.")


_ERROR_TEXT = {400: "Bad input: the message says what to fix.",
               401: "Missing or wrong bearer token.",
               404: "Not found: the message lists what exists.",
               409: "Conflicts with the store's state.",
               413: "Request body too large.",
               422: "The request does not have the documented shape.",
               500: "A corrupted store file (the message names it) or an internal error; "
                    "the store is unchanged."}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the kline REST API's errors."""
    return {c: {"model": ErrorBody, "description": _ERROR_TEXT.get(c, "Error.")}
            for c in (*codes, 401, 413, 422, 500)}
