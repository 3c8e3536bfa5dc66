"""``POST /info``: ``candleSnapshot``, ``meta``, ``spotMeta`` and ``perpDexs`` over the store.

Two dialects (the request bodies are read by :func:`candlekit.emulator.protocol.parse_info`,
the same reader as the emulator's, so both speak one protocol):

``hydromancer`` (the default; Hydromancer's ``candleSnapshot`` page)
    15 intervals (``1s`` too), Monday weeks and calendar months, records with ``q``
    (``null`` where unknown) and ``x`` (closed), ``startTime`` inclusive, ``endTime``
    (required) exclusive and greater than ``startTime``, at most ``limit`` (default and max 5000)
    candles from ``startTime``, oldest first. Errors are 4xx JSON objects
    ``{"error": "Invalid interval", "code": 400, "msg": "Invalid interval"}``:
    Hydromancer's ``error``, and ``code``/``msg`` that the official SDK reads into its
    ``ClientError``.
``hyperliquid`` (the exchange's own shape)
    14 intervals (no ``1s``), Thursday weeks and 30-day months, no ``q``/``x``,
    ``endTime`` inclusive, at most 5000 candles; errors are 422 plain text.

Both answer a malformed body with Hyperliquid's 422 text ``Failed to deserialize the JSON
body into the target type``. ``meta``/``spotMeta``/``perpDexs`` list the store's symbols:
main-dex perps, HIP-3 ``dex:COIN`` under their dex, spot ``@N`` and ``BASE/QUOTE`` pairs.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..emulator.protocol import DESERIALIZE_ERROR, META_TYPES, ApiError, CandleQuery, parse_info
from ..errors import CandlekitError, SeriesNotFoundError
from ..intervals import INTERVALS, parse_interval
from .auth import INFO_PATHS, token_ok, unauthorized_body
from .encode import wire_json
from .responses import json_response
from .schemas import CandleRecord, HyperliquidCandleRecord, InfoErrorBody

__all__ = ["DIALECTS", "InfoService", "info_router", "openapi_models"]

DIALECTS = ("hydromancer", "hyperliquid")
_ALIGNMENT = {"hydromancer": "calendar", "hyperliquid": "hyperliquid"}
_INTERVALS = {"hydromancer": INTERVALS, "hyperliquid": tuple(i for i in INTERVALS if i != "1s")}
_TIME_CAP = 2**62


def _text(status: int, message: str) -> Response:
    return Response(message.encode("utf-8"), status_code=status,
                    media_type="text/plain; charset=utf-8")


def _hydro_error(status: int, message: str) -> Response:
    return json_response({"error": message, "code": status, "msg": message}, status)


def _size_decimals(volume: np.ndarray) -> int:
    """The fewest decimals (0 to 8) that every volume is a whole number of."""
    v = np.asarray(volume, dtype=np.float64)
    v = v[np.isfinite(v)]
    for d in range(9):
        scaled = v * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return d
    return 8


class InfoService:
    """Answers ``POST /info`` bodies from a :class:`~candlekit.server.series.CandleReader`.

    Parameters
    ----------
    reader : CandleReader
    dialect : {"hydromancer", "hyperliquid"}
    """

    def __init__(self, reader: Any, dialect: str = "hydromancer"):
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
        self.reader = reader
        self.dialect = dialect
        self._sz: dict[str, int] = {}

    # --- metadata --------------------------------------------------------------------------

    def _sz_decimals(self, symbol: str) -> int:
        """``szDecimals`` of a stored coin: the lot grid of its latest volumes (cached)."""
        if symbol not in self._sz:
            try:
                keys = self.reader._keys(symbol)
                k = min(keys, key=lambda k: INTERVALS.index(k.interval))
                cov = self.reader.store.coverage(symbol=symbol, interval=k.interval,
                                                 source=k.source)
                latest = int(cov["latest"].iloc[0].value // 1_000_000)
                step = parse_interval(k.interval).nominal_ms
                df = self.reader.store.read(symbol, k.interval, latest - 500 * step,
                                            latest + 1, source=k.source)
                self._sz[symbol] = _size_decimals(df["volume"].to_numpy()) if len(df) else 2
            except (CandlekitError, ValueError, IndexError):
                return 2
        return self._sz[symbol]

    def meta(self, dex: str = "") -> dict[str, Any] | None:
        """The ``meta`` payload of a perp dex (``""``: the main one); None for an unknown dex."""
        syms = self.reader.symbols()
        if dex:
            names = [s for s in syms if s.startswith(f"{dex}:")]
            if not names:
                return None
        else:
            names = [s for s in syms if ":" not in s and "/" not in s and not s.startswith("@")]
        universe = [{"szDecimals": self._sz_decimals(n), "name": n, "maxLeverage": 1,
                     "marginTableId": 1, **({"onlyIsolated": True} if dex else {})}
                    for n in names]
        return {"universe": universe,
                "marginTables": [[1, {"description": "", "marginTiers": [
                    {"lowerBound": "0.0", "maxLeverage": 1}]}]],
                "collateralToken": 0}

    def perp_dexs(self) -> list[Any]:
        """``null`` (the main dex), then one entry per HIP-3 dex prefix in the store."""
        syms = self.reader.symbols()
        dexes = sorted({s.split(":", 1)[0] for s in syms if ":" in s})
        return [None, *({"name": d, "fullName": d, "deployer": "0x" + "0" * 40,
                         "oracleUpdater": None, "feeRecipient": None,
                         "assetToStreamingOiCap": [[s, "0.0"] for s in syms
                                                   if s.startswith(f"{d}:")]}
                        for d in dexes)]

    def spot_meta(self) -> dict[str, Any]:
        """Spot pairs of the store: ``@N`` (index N) and ``BASE/QUOTE`` names, with tokens."""
        pairs = [s for s in self.reader.symbols() if s.startswith("@") or "/" in s]
        tokens: list[dict[str, Any]] = []
        token_index: dict[str, int] = {}

        def token(name: str, sz: int) -> int:
            if name not in token_index:
                token_index[name] = len(tokens)
                tokens.append({"name": name, "szDecimals": sz, "weiDecimals": 8,
                               "index": len(tokens), "tokenId": "0x" + f"{len(tokens):032x}",
                               "isCanonical": True, "evmContract": None, "fullName": None})
            return token_index[name]

        token("USDC", 8)
        used = {int(p[1:]) for p in pairs if p.startswith("@") and p[1:].isdigit()}
        free = (i for i in range(10**6) if i not in used)
        universe = []
        for p in pairs:
            sz = self._sz_decimals(p)
            if p.startswith("@") and p[1:].isdigit():
                index, base, quote, canonical = int(p[1:]), p, "USDC", False
            else:
                base, _, quote = p.partition("/")
                index, canonical = next(free), True
            universe.append({"tokens": [token(base, sz), token(quote or "USDC", 8)],
                             "name": p, "index": index, "isCanonical": canonical})
        return {"tokens": tokens, "universe": universe}

    # --- candles ---------------------------------------------------------------------------

    def _error(self, status: int, message: str) -> Response:
        if self.dialect == "hydromancer":
            return _hydro_error(status, message)
        return _text(422 if status < 500 else status, message)

    def answer(self, body: bytes) -> Response:
        """The response to one ``POST /info`` body."""
        try:
            query = parse_info(body, mode=self.dialect, intervals=_INTERVALS[self.dialect],
                               has_coin=self.reader.has_symbol)
        except ApiError as exc:
            if exc.content_type.startswith("application/json"):  # Hydromancer's field errors
                return _hydro_error(exc.status, json.loads(exc.body)["error"])
            text = exc.body.decode("utf-8")
            if text.startswith("Unknown coin"):
                text += (". The server lists the coins it stores under {\"type\": \"meta\"} "
                         "and {\"type\": \"spotMeta\"}; backfill the coin first.")
                return self._error(422, text)
            return _text(exc.status, text)
        if isinstance(query, CandleQuery) and self.dialect == "hydromancer" and (
                json.loads(body).get("req") or {}).get("endTime") is None:
            return _hydro_error(400, "Missing required field: endTime")  # required there
        if not isinstance(query, CandleQuery):
            if query.kind == "meta":
                payload = self.meta(query.dex)
                if payload is None:
                    return self._error(422, f"Unknown dex: {query.dex}")
            elif query.kind == "spotMeta":
                payload = self.spot_meta()
            else:
                payload = self.perp_dexs()
            return json_response(payload)
        return self.candles(query)

    def candles(self, q: CandleQuery) -> Response:
        """The ``candleSnapshot`` answer to a parsed query."""
        alignment = _ALIGNMENT[self.dialect]
        try:
            plan = self.reader.plan(q.coin, q.interval, alignment=alignment)
        except SeriesNotFoundError as exc:
            return self._error(422, str(exc))
        if q.hi_ms <= q.lo_ms:
            return json_response(b"[]", source=plan.source)
        end = None if q.hi_ms >= _TIME_CAP else q.hi_ms
        df = self.reader.read(plan, q.lo_ms, end, limit=q.limit)
        return json_response(wire_json(df, hydromancer=self.dialect == "hydromancer"),
                             source=plan.source)


def _openapi(dialect: str) -> dict[str, Any]:
    record = CandleRecord if dialect == "hydromancer" else HyperliquidCandleRecord
    ivs = list(_INTERVALS[dialect])
    candle_req = {
        "type": "object", "required": ["type", "req"],
        "properties": {
            "type": {"type": "string", "enum": ["candleSnapshot"]},
            "req": {"type": "object", "required": (
                        ["coin", "interval", "startTime", "endTime"] if dialect == "hydromancer"
                        else ["coin", "interval", "startTime"]),
                    "properties": {
                        "coin": {"type": "string", "examples": ["BTC", "xyz:NVDA", "@107"]},
                        "interval": {"type": "string", "enum": ivs},
                        "startTime": {"type": "integer", "minimum": 0,
                                      "description": "epoch ms, inclusive"},
                        "endTime": {"type": "integer", "minimum": 0, "description": (
                            "epoch ms, exclusive" if dialect == "hydromancer"
                            else "epoch ms, inclusive")},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 5000}}}}}
    meta_req = {"type": "object", "required": ["type"],
                "properties": {"type": {"type": "string", "enum": list(META_TYPES)},
                               "dex": {"type": "string"}}}
    return {
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [candle_req, meta_req]}}}},
        "responses": {
            "200": {"description": "Candles oldest first (candleSnapshot), or the metadata.",
                    "content": {"application/json": {"schema": {"anyOf": [
                        {"type": "array", "items": {"$ref": f"#/components/schemas/"
                                                            f"{record.__name__}"}},
                        {"type": "object", "description": "meta, spotMeta"},
                        {"type": "array", "description": "perpDexs: null (the main dex), "
                                                         "then one object per HIP-3 dex",
                         "items": {"anyOf": [{"type": "null"}, {"type": "object"}]}}]}}}},
            "400": {"description": "Hydromancer's field errors: Invalid interval, endTime "
                                   "must be greater than startTime, Missing required field.",
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/InfoErrorBody"}}}},
            "401": {"description": "Missing or wrong bearer token.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "413": {"description": "Body too large.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "500": {"description": "A corrupted store file (named) or an internal error.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "422": {"description": f"{DESERIALIZE_ERROR} (plain text), an unknown coin or "
                                   "dex, or a series the store cannot serve.",
                    "content": {"text/plain": {"schema": {"type": "string"}},
                                "application/json": {"schema": {
                                    "$ref": "#/components/schemas/InfoErrorBody"}}}},
        },
    }


def info_router(service: InfoService, *, token: str | None = None,
                public_meta: bool = False) -> APIRouter:
    """The ``POST /info`` (and ``POST /``) routes.

    Parameters
    ----------
    service : InfoService
    token : str, optional
        Bearer token every request needs (``public_meta``: except metadata requests).
    public_meta : bool, default False
    """
    router = APIRouter(tags=["info"])
    extra = _openapi(service.dialect)

    async def info(request: Request) -> Response:
        body = await request.body()
        if (token is not None and not token_ok(request.headers.get("authorization"), token)
                and not (public_meta and _is_meta(body))):
            return json_response(unauthorized_body(), 401,
                                 headers={"WWW-Authenticate": 'Bearer realm="candlekit"'})
        return await run_in_threadpool(service.answer, body)

    for path in INFO_PATHS:
        router.add_api_route(
            path, info, methods=["POST"], response_class=Response, openapi_extra=extra,
            summary="Hyperliquid/Hydromancer info API: candleSnapshot, meta, spotMeta, perpDexs",
            operation_id="info" if path == "/info" else "info_root",
            include_in_schema=True)
    return router


def _is_meta(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(payload, dict) and payload.get("type") in META_TYPES


def openapi_models() -> list[type]:
    """Models the ``/info`` OpenAPI entries refer to (added to the components)."""
    return [CandleRecord, HyperliquidCandleRecord, InfoErrorBody]

