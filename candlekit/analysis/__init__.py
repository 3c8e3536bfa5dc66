"""Analysis narratives: facts first, prose second, and a track record of every call.

This package owns candlekit's analyst: indicators computed from closed candles up to an
``as_of`` (never after it), the facts they give, the Markdown narrative and the call
written only from those facts, an optional language model that may narrate the facts but
is never trusted with a number, the registry of recorded analyses in the store, and the
grading of past calls against what happened. It reads canonical frames or the store and
writes only its own registry.

Modules: ``indicators`` (EMA, RSI, MACD, ATR, ADX, realised volatility, volume ratio, as
TA-Lib computes them), ``levels`` (confirmed swings, support/resistance), ``divergence``,
``timeframes`` (the multi-timeframe trend table), ``series`` (every causal series at
once), ``facts`` (names and the one printing function), ``narrative`` (Markdown
templates), ``call`` (the call model), ``engine`` (:func:`analyze`), ``scoring``
(grading arithmetic), ``track`` (:func:`track_record`), ``crosscheck``; and ``llm``,
``guard``, ``registry``, ``api`` for the language model and the recorded analyses.
"""

from .api import (
                  AnalysisGrades,
                  analyses,
                  delete_analysis,
                  get_analysis,
                  grade_analyses,
                  run_analysis,
)
from .crosscheck import crosscheck
from .engine import analyze, indicator_frame
from .facts import facts_table, format_fact, printed_facts, printed_numbers
from .guard import GuardResult, check
from .llm import LLM, narrate
from .llmstub import LLMStub
from .model import ANALYSIS_STATUSES, Analysis, Call, LLMVerdict
from .scoring import grade, summarize, wilson_interval
from .track import TrackRecord, track_record

__all__ = [
                  "ANALYSIS_STATUSES",
                  "LLM",
                  "Analysis",
                  "AnalysisGrades",
                  "Call",
                  "GuardResult",
                  "LLMStub",
                  "LLMVerdict",
                  "TrackRecord",
                  "analyses",
                  "analyze",
                  "check",
                  "crosscheck",
                  "delete_analysis",
                  "facts_table",
                  "format_fact",
                  "get_analysis",
                  "grade",
                  "grade_analyses",
                  "indicator_frame",
                  "narrate",
                  "printed_facts",
                  "printed_numbers",
                  "run_analysis",
                  "summarize",
                  "track_record",
                  "wilson_interval",
]
