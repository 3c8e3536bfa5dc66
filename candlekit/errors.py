"""One error hierarchy for candlekit.

Every error subclasses :class:`CandlekitError` and the matching built-in
(``ValueError``, ``LookupError``, ``OSError``), carries the offending data, and
says in its message what to do next.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnalysisError",
    "AnalysisNotFoundError",
    "CandleValidationError",
    "CandlekitError",
    "CorruptFileError",
    "EmulatorConfigError",
    "FormatError",
    "InvalidAlignmentError",
    "InvalidIntervalError",
    "InvalidTimeError",
    "LLMConfigError",
    "MissingDependencyError",
    "RateLimitError",
    "ResampleError",
    "SeriesNotFoundError",
    "SourceConfigError",
    "SourceError",
    "StoreError",
    "TaskError",
    "UnknownSymbolError",
    "UpstreamError",
]


class CandlekitError(Exception):
    """Base class of every error candlekit raises."""


class InvalidIntervalError(CandlekitError, ValueError):
    """An interval string that is not one of the 15 candle intervals.

    The message starts with ``Invalid interval``, as Hydromancer's does.
    """

    def __init__(self, given: Any, valid: tuple[str, ...]):
        self.given = given
        self.valid = valid
        super().__init__(
            f"Invalid interval: {given!r}. Use one of: {', '.join(valid)} "
            "(note '1m' is a minute and '1M' a month)."
        )


class InvalidAlignmentError(CandlekitError, ValueError):
    """An alignment other than ``"calendar"`` or ``"hyperliquid"``."""

    def __init__(self, given: Any, valid: tuple[str, ...]):
        self.given = given
        self.valid = valid
        super().__init__(
            f"Invalid alignment: {given!r}. Use one of: {', '.join(valid)} "
            "('calendar' = Monday weeks and calendar months, as Hydromancer; "
            "'hyperliquid' = the exchange's epoch-aligned 3d, Thursday 1w and 30-day 1M)."
        )


class InvalidTimeError(CandlekitError, ValueError):
    """A time that cannot be parsed, is not UTC, or a range whose end is not after its start."""

    def __init__(self, message: str, value: Any = None):
        self.value = value
        super().__init__(message)


class CandleValidationError(CandlekitError, ValueError):
    """A frame that breaks the canonical candle schema.

    Attributes
    ----------
    failures : pandas.DataFrame
        One row per failing candle (or per failing column), with the check that failed.
    """

    def __init__(self, message: str, failures: Any = None):
        self.failures = failures
        super().__init__(message)


class ResampleError(CandlekitError, ValueError):
    """A resampling whose source buckets do not tile the target buckets."""


class FormatError(CandlekitError, ValueError):
    """Input records or files in a shape candlekit cannot read (wire records, freqtrade files)."""

    def __init__(self, message: str, value: Any = None):
        self.value = value
        super().__init__(message)


class StoreError(CandlekitError, OSError):
    """A problem with the local candle store."""


class CorruptFileError(StoreError):
    """A store file that cannot be read. The rest of the store stays readable.

    Attributes
    ----------
    path : pathlib.Path
        The unreadable file.
    """

    def __init__(self, path: Any, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(
            f"Corrupted store file {path}: {reason}. The rest of the store is readable; "
            "move this file away (or delete it) and backfill the range it covered again."
        )


class SeriesNotFoundError(CandlekitError, LookupError):
    """A symbol/interval/source series that the store does not hold."""

    def __init__(self, message: str, key: Any = None):
        self.key = key
        super().__init__(message)


class SourceError(CandlekitError, OSError):
    """An upstream that could not be reached or kept failing after every retry.

    Attributes
    ----------
    status : int or None
        The last HTTP status received (None when no response arrived).
    body : str or None
        The start of the last response body.
    """

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None):
        self.status = status
        self.body = body
        super().__init__(message)


class SourceConfigError(CandlekitError, ValueError):
    """Invalid source options: an unknown source name, a bad budget, a missing API key."""


class UpstreamError(SourceError):
    """The upstream answered with an error message; ``str()`` holds it verbatim."""


class RateLimitError(SourceError):
    """The upstream kept answering 429 (rate limited) after every retry."""


class UnknownSymbolError(CandlekitError, LookupError):
    """A coin the source does not list."""

    def __init__(self, message: str, symbol: Any = None):
        self.symbol = symbol
        super().__init__(message)


class TaskError(CandlekitError, LookupError):
    """An unknown backfill task id, or an operation its state does not allow."""

    def __init__(self, message: str, task_id: Any = None):
        self.task_id = task_id
        super().__init__(message)


class EmulatorConfigError(CandlekitError, ValueError):
    """An emulator setting that cannot be used; the message says which values are valid.

    Attributes
    ----------
    name : str
        The setting.
    value : object
        What was given.
    """

    def __init__(self, name: str, value: Any, expected: str):
        self.name = name
        self.value = value
        super().__init__(f"Invalid emulator setting {name}={value!r}: {expected}.")


class AnalysisNotFoundError(CandlekitError, LookupError):
    """An analysis id that the store's analysis registry does not hold.

    Attributes
    ----------
    analysis_id : str
        The id asked for.
    """

    def __init__(self, message: str, analysis_id: Any = None):
        self.analysis_id = analysis_id
        super().__init__(message)


class MissingDependencyError(CandlekitError, ImportError):
    """An optional dependency that is not installed; the message names the extra to install.

    Attributes
    ----------
    package : str
        The missing import.
    extra : str
        The candlekit extra that installs it (``pip install 'candlekit[EXTRA]'``).
    """

    def __init__(self, package: str, extra: str, what: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{what} needs the {package!r} package, which is not installed. Install "
            f"candlekit's {extra!r} extra: pip install 'candlekit[{extra}]' (or pip install "
            f"{package}).", name=package)


class LLMConfigError(CandlekitError, ValueError):
    """Language-model settings that cannot be used: no model name, a bad URL, no API key."""


class AnalysisError(CandlekitError, ValueError):
    """An analysis that cannot be made: too few closed candles, a bad horizon or lookback."""
