"""The kline REST API (``/api/klines/...``), field for field as the seed's.

Every time is ISO 8601 UTC with ``Z``; every range is ``[start, end)``; every error is
``{"error": code, "message": what to do}`` with a 4xx status (see :mod:`.responses`).
Candles still open, and resampled buckets that are not complete, are left out of
``/data`` unless ``include_open=true`` (then they are marked ``"closed": false``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ..backfill.registry import TaskStatus, iso
from ..errors import InvalidTimeError, SeriesNotFoundError
from ..gaps import find_gaps
from ..intervals import INTERVALS, bucket_ordinal, check_alignment, ordinal_to_ms, parse_interval
from ..provenance import is_synthetic
from ..timeutil import to_ms
from .encode import rest_json
from .responses import json_response
from .schemas import (
    BackfillCreated,
    BackfillRequest,
    BackfillStatus,
    CoverageRow,
    Gaps,
    Kline,
    Ok,
    Symbols,
    error_responses,
)

__all__ = ["klines_router", "status_record"]

_MAX_MS = 10**13  # 2286-11-20: beyond it a time is a typo (seconds as ms, extra digits)


def _ms(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        ms = to_ms(int(value)) if value.lstrip("-").isdigit() else to_ms(value)
    except (InvalidTimeError, ValueError, OverflowError) as exc:
        raise InvalidTimeError(
            f"Unreadable {name} {value!r}: use ISO 8601 (2026-04-01 or 2026-04-01T00:00:00Z) "
            "or epoch milliseconds.", value) from exc
    if not -_MAX_MS <= ms <= _MAX_MS:
        raise InvalidTimeError(f"{name} {value!r} is out of range: use a time between the "
                               "years 1653 and 2286 (epoch ms within +-10**13).", value)
    return ms


def status_record(st: TaskStatus) -> dict[str, Any]:
    """A task as the seed's backfill records (plus what else the registry knows)."""
    return {"id": st.id, "symbol": st.symbol, "interval": st.interval, "status": st.status,
            "progress_pct": float(st.progress_pct), "candles_fetched": int(st.candles_fetched),
            "start": st.start, "end": st.end, "source": st.source, "error": st.error,
            "note": st.note, "created_at": st.created_at, "updated_at": st.updated_at,
            "synthetic": is_synthetic(st.source)}


def _gap_records(gaps: Any, interval: str, alignment: str) -> list[dict[str, Any]]:
    """Gap rows with an exclusive ``end``, from each gap's start and missing count."""
    if not len(gaps):
        return []
    iv = parse_interval(interval)
    start = pd.DatetimeIndex(gaps["start"]).as_unit("ms").asi8
    missing = gaps["missing_candles"].to_numpy(dtype=np.int64)
    end = ordinal_to_ms(bucket_ordinal(start, iv, alignment=alignment) + missing, iv,
                        alignment=alignment)
    return [{"start": iso(int(s)), "end": iso(int(e)), "missing_candles": int(m),
             "interval": iv.name} for s, e, m in zip(start.tolist(), end.tolist(),
                                                      missing.tolist())]


def klines_router(state: Any) -> APIRouter:
    """The ``/api/klines`` routes over ``state`` (a :class:`~candlekit.server.app.ServerState`)."""
    r = APIRouter(prefix="/api/klines", tags=["klines"])

    @r.get("/data", response_class=Response, summary="Stored candles, oldest first",
           responses={200: {"model": list[Kline], "description": "Candles, oldest first."},
                      **error_responses(400, 404, 409)})
    def data(symbol: str = Query(..., description="Coin, e.g. BTC, xyz:NVDA, @107."),
             interval: str = Query("1h", description=f"One of {', '.join(INTERVALS)}."),
             start: str | None = Query(None, description="First open time (inclusive), ISO "
                                                         "8601 UTC or epoch ms."),
             end: str | None = Query(None, description="End (exclusive)."),
             source: str | None = Query(None, description="Store source label (default: "
                                                          "the server's preference)."),
             alignment: str = Query("calendar", description="calendar (Monday weeks, "
                                    "calendar months) or hyperliquid (Thursday, 30 days)."),
             include_open: bool = Query(False, description="Also candles still open and "
                                        "incomplete resampled buckets, marked closed=false."),
             ) -> Response:
        iv = parse_interval(interval)
        al = check_alignment(alignment)
        s, e = _ms(start, "start"), _ms(end, "end")
        if s is not None and e is not None and e <= s:
            raise InvalidTimeError("end must be after start (the range is [start, end)): "
                                   "swap them or widen the range.", (start, end))
        plan = state.reader.plan(symbol, iv, alignment=al, source=source)
        df = state.reader.read(plan, s, e, partial=include_open)
        if not include_open and len(df) and not df["closed"].all():
            attrs = dict(df.attrs)
            df = df[df["closed"].to_numpy(dtype=bool)]
            df.attrs = attrs
        headers = {"X-Candlekit-Stored-Interval": plan.stored}
        return json_response(rest_json(df), source=plan.source, headers=headers)

    @r.get("/coverage", response_class=Response, summary="What the store holds, per series",
           responses={200: {"model": list[CoverageRow]}, **error_responses(400)})
    def coverage(symbol: str | None = Query(None), interval: str | None = Query(None),
                 source: str | None = Query(None)) -> Response:
        if interval is not None:
            interval = parse_interval(interval).name
        cov = state.store.coverage(symbol=symbol, interval=interval, source=source)
        if state.reader.sources is not None:
            cov = cov[cov["source"].isin(state.reader.sources)]
        rows = [{"symbol": row.symbol, "interval": row.interval,
                 "earliest": iso(row.earliest.value // 1_000_000),
                 "latest": iso(row.latest.value // 1_000_000),
                 "total_candles": int(row.total_candles), "source": row.source,
                 "open_candles": int(row.open_candles), "synthetic": is_synthetic(row.source)}
                for row in cov.itertuples()]
        return json_response(rows)

    @r.get("/supported-symbols", response_class=Response, summary="Symbols with candles",
           responses={200: {"model": Symbols}, **error_responses()})
    def supported_symbols() -> Response:
        return json_response({"symbols": state.reader.symbols()})

    @r.post("/backfill", response_class=Response, status_code=202,
            summary="Start a backfill task (runs in the server's worker)",
            responses={202: {"model": BackfillCreated}, **error_responses(400, 404)})
    def create_backfill(body: BackfillRequest) -> Response:
        st = state.worker.submit(body.symbol, body.interval, body.start_date or None,
                                 body.end_date or None)
        return json_response({"id": st.id, "status": st.status, "symbol": st.symbol,
                              "interval": st.interval}, 202)

    @r.get("/backfill/status/{task_id}", response_class=Response,
           summary="A backfill task's progress",
           responses={200: {"model": BackfillStatus}, **error_responses(404)})
    def backfill_status(task_id: str = Path(...)) -> Response:
        return json_response(status_record(state.worker.registry.status(task_id)))

    def _list() -> Response:
        return json_response([status_record(st) for st in state.worker.registry.statuses()])

    r.add_api_route("/backfill-tasks", _list, methods=["GET"], response_class=Response,
                    summary="Every backfill task, newest first", operation_id="backfill_tasks",
                    responses={200: {"model": list[BackfillStatus]}, **error_responses()})
    r.add_api_route("/backfill/tasks", _list, methods=["GET"], response_class=Response,
                    summary="Every backfill task (alternate path)",
                    operation_id="backfill_tasks_alt",
                    responses={200: {"model": list[BackfillStatus]}, **error_responses()})

    @r.delete("/backfill-tasks/{task_id}", response_class=Response,
              summary="Delete a task's record (a running task is cancelled first; candles "
                      "are never deleted)",
              responses={200: {"model": Ok}, **error_responses(404)})
    def delete_task(task_id: str = Path(...)) -> Response:
        state.worker.delete(task_id)
        return json_response({"status": "ok"})

    @r.get("/gaps/{symbol}", response_class=Response, summary="Runs of missing candles",
           responses={200: {"model": Gaps}, **error_responses(400, 404, 409)})
    def gaps(symbol: str = Path(...),
             interval: str | None = Query(None, description="Default: every stored interval."),
             start: str | None = Query(None, description="Expected range start (inclusive); "
                                       "default: the first stored candle."),
             end: str | None = Query(None, description="Expected range end (exclusive); "
                                     "default: after the last stored candle."),
             source: str | None = Query(None),
             alignment: str = Query("calendar")) -> Response:
        al = check_alignment(alignment)
        s, e = _ms(start, "start"), _ms(end, "end")
        if s is not None and e is not None and e <= s:
            raise InvalidTimeError("end must be after start: swap them or widen the range.",
                                   (start, end))
        if interval is None:
            keys = state.reader._keys(symbol, source)
            if not keys:
                raise state.reader._unknown(symbol, source)
            intervals = sorted({k.interval for k in keys}, key=INTERVALS.index)
        else:
            intervals = [parse_interval(interval).name]
        out: list[dict[str, Any]] = []
        used: str | None = None
        for name in intervals:
            try:
                plan = state.reader.plan(symbol, name, alignment=al, source=source)
            except SeriesNotFoundError:
                if interval is not None:
                    raise
                continue
            df = state.reader.read(plan, s, e)
            if not len(df) and (s is None or e is None):
                continue
            g = find_gaps(df, start=s, end=e, alignment=plan.alignment)
            out += _gap_records(g, name, plan.alignment)
            used = used or plan.source
        return json_response({"symbol": symbol, "gaps": out}, source=used)

    return r
