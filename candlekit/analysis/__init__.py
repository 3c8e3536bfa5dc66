"""Analysis narratives: facts first, prose second, and a track record of every call.

This package owns candlekit's analyst: indicators computed from closed candles up to an
``as_of`` (never after it), the facts they give, the Markdown narrative and the call
written only from those facts, an optional language model that may narrate the facts but
is never trusted with a number, the registry of recorded analyses in the store, and the
grading of past calls against what happened. It reads canonical frames or the store and
writes only its own registry.
"""

from .model import ANALYSIS_STATUSES, Analysis, Call, LLMVerdict

__all__ = ["ANALYSIS_STATUSES", "Analysis", "Call", "LLMVerdict"]
