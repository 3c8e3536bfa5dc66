"""The AI analysis endpoints, over :func:`candlekit.run_analysis` and its registry.

``POST /api/klines/ai-analysis`` starts an analysis in the background (recorded
``running`` at once, in the same registry as ``ck.run_analysis``), ``GET
/api/klines/ai-analysis/history`` lists them, ``GET /api/klines/ai-analysis/{id}`` gives
one (:meth:`candlekit.analysis.Analysis.to_dict`: ``id, symbol, status, analysis,
created_at`` and the rest).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from ..analysis import analyses, get_analysis, run_analysis
from ..intervals import parse_interval
from .responses import json_response
from .schemas import AnalysisCreated, AnalysisDetail, AnalysisRow, error_responses

__all__ = ["AnalysisRequest", "analysis_router"]


class AnalysisRequest(BaseModel):
    """``POST /api/klines/ai-analysis``."""

    symbol: str = Field(description="Symbol to analyse (stored).")
    interval: str = Field("1h", description="Interval of the candles analysed.")
    prompt: str | None = Field(None, description="What the analysis should focus on.")


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: None for every kind of missing value."""
    if value is None:
        return None
    if not isinstance(value, (str, bool)) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def analysis_router(state: Any) -> APIRouter:
    """The ``/api/klines/ai-analysis`` routes."""
    r = APIRouter(prefix="/api/klines/ai-analysis", tags=["ai-analysis"])

    @r.post("", response_class=Response, status_code=202,
            summary="Start an analysis of a stored series (runs in the background)",
            responses={202: {"model": AnalysisCreated}, **error_responses(400, 404)})
    def create(body: AnalysisRequest) -> Response:
        interval = parse_interval(body.interval).name
        plan = state.reader.plan(body.symbol, interval)  # 404 now for a series not stored
        a = run_analysis(body.symbol, interval, store=state.store, source=plan.source,
                         prompt=body.prompt, background=True)
        return json_response({"analysis_id": a.id, "status": a.status}, 202)

    @r.get("/history", response_class=Response, summary="Past analyses, newest first",
           responses={200: {"model": list[AnalysisRow]}, **error_responses()})
    def history() -> Response:
        df = analyses(store=state.store)
        keep = [c for c in ("id", "symbol", "interval", "status", "created_at", "as_of",
                            "source", "synthetic", "direction", "p_up", "error")
                if c in df.columns]
        rows = []
        for rec in df[keep].to_dict("records"):  # the analyses' metadata, not candles
            row = {k: _plain(v) for k, v in rec.items()}
            row["created_at"] = _iso(rec.get("created_at"))
            rows.append(row)
        return json_response(rows)

    @r.get("/{analysis_id}", response_class=Response, summary="One analysis, in full",
           responses={200: {"model": AnalysisDetail}, **error_responses(404)})
    def detail(analysis_id: str = Path(...)) -> Response:
        a = get_analysis(analysis_id, store=state.store)  # unknown id: a LookupError, 404
        return json_response(a.to_dict())

    return r
