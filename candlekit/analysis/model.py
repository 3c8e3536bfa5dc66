"""The records an analysis produces: :class:`Call` and :class:`Analysis`.

These are plain data: the engine (:func:`candlekit.analysis.analyze`) fills them from
computed facts, the registry stores them, the server and the CLI show them. Nothing here
computes anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ANALYSIS_STATUSES", "Analysis", "Call", "LLMVerdict"]

#: The statuses of a recorded analysis (the seed's ``status`` field).
ANALYSIS_STATUSES = ("running", "completed", "failed")

Direction = Literal["up", "down", "flat"]


@dataclass(frozen=True)
class Call:
    """The analyst's call for the next ``horizon`` bars after ``as_of``.

    Attributes
    ----------
    direction : {"up", "down", "flat"}
        ``flat`` when the expected move is inside the dead band (``dead_band`` in price
        units, derived from ATR).
    p_up : float
        Probability that the close ``horizon`` bars later is above ``reference_close``.
    horizon : int
        Horizon in bars of the analysed interval.
    reference_close : float
        The close of the last candle used (the candle that closes at ``as_of``).
    as_of : str
        ISO 8601 UTC (``Z``) close time of that candle.
    dead_band : float
        Half-width of the flat band around ``reference_close``, in price units.
    """

    direction: Direction
    p_up: float
    horizon: int
    reference_close: float
    as_of: str
    dead_band: float

    def to_dict(self) -> dict[str, Any]:
        """The call as a JSON-serialisable mapping."""
        return asdict(self)


@dataclass(frozen=True)
class LLMVerdict:
    """What happened when a language model was asked to narrate the facts.

    Attributes
    ----------
    model : str
        The model name asked.
    accepted : bool
        Whether its prose passed the number guard and became ``Analysis.text``.
    reason : str
        Why it was rejected (for example ``"the model wrote 67,450; no fact has that
        value"``), or ``""`` when accepted.
    prompt : str
        The exact prompt sent (facts as JSON plus the user's prompt).
    response : str
        The model's raw prose.
    cached : bool
        Whether the response came from the cache.
    """

    model: str
    accepted: bool
    reason: str
    prompt: str
    response: str
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-serialisable mapping."""
        return asdict(self)


@dataclass
class Analysis:
    """One analysis of one series at one ``as_of``.

    Attributes
    ----------
    symbol, interval : str
        The series analysed.
    as_of : str
        ISO 8601 UTC (``Z``) close time of the last candle used.
    facts : dict
        Flat, JSON-serialisable mapping with stable names (``close``, ``rsi_14``, ...).
    text : str
        The narrative in Markdown; every number in it comes from ``facts``.
    call : Call or None
        The call (None only for a failed or still running analysis).
    caveats : list of str
        What the reader must know about the data (gaps, synthetic data, ...).
    sections : list of str
        The narrative's sections, in the order written (chosen by ``prompt``).
    prompt : str or None
        The user's prompt, as given.
    llm : LLMVerdict or None
        The language model's attempt, when one was asked.
    id : str or None
        Registry id (``an-...``) once recorded; None for an unrecorded analysis.
    status : {"running", "completed", "failed"}
    created_at : str or None
        ISO 8601 UTC (``Z``) time the analysis was recorded.
    error : str or None
        Why a failed analysis failed.
    source : str or None
        The store source the candles came from (``hyperliquid``, ``emulator``, ...).
    synthetic : bool
        True when the candles are synthetic; every view of the analysis says so.
    """

    symbol: str
    interval: str
    as_of: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    call: Call | None = None
    caveats: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    prompt: str | None = None
    llm: LLMVerdict | None = None
    id: str | None = None
    status: str = "completed"
    created_at: str | None = None
    error: str | None = None
    source: str | None = None
    synthetic: bool = False

    @property
    def model(self) -> str | None:
        """The language model's name, when one was asked."""
        return self.llm.model if self.llm is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The seed's detail shape (``id, symbol, status, analysis, created_at``) plus the rest.

        ``analysis`` is :attr:`text`; everything is JSON-serialisable.
        """
        return {
            "id": self.id,
            "symbol": self.symbol,
            "status": self.status,
            "analysis": self.text,
            "created_at": self.created_at,
            "interval": self.interval,
            "as_of": self.as_of,
            "prompt": self.prompt,
            "model": self.model,
            "facts": self.facts,
            "call": self.call.to_dict() if self.call is not None else None,
            "caveats": list(self.caveats),
            "sections": list(self.sections),
            "llm": self.llm.to_dict() if self.llm is not None else None,
            "error": self.error,
            "source": self.source,
            "synthetic": self.synthetic,
        }

    def _repr_markdown_(self) -> str:
        return self.text
