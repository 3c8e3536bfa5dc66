"""The number guard: every number a language model writes must be one of the facts.

A model asked to narrate an :class:`~candlekit.analysis.model.Analysis` may only repeat
numbers candlekit computed. :func:`check` reads every number in the prose (prices,
percentages, ratios, dates and clock times, numbers with ``k``/``M`` suffixes) and accepts
the prose only when each one equals a fact **at the precision it is printed**: a fact
printed ``67,412.50`` is matched by ``67,412.50``, ``67412.5`` or ``67,412.5`` (the same
decimal value), not by ``67,412`` or ``67.4k``; an unsigned number may match a negative
fact's magnitude (``MACD is 120.5 below zero``), a signed one must match the sign.

Allowed without being facts:

- indicator periods next to their indicator or unit (``EMA 20/50/200``, ``RSI(14)``,
  ``MACD 12, 26, 9``, ``the 20-bar average``): the periods are the digits in the fact
  names (``ema_200`` gives 200) plus MACD's 12, 26 and 9 (and the 95 of a ``95% interval``);
- interval names and their spelled forms (``4h``, ``1d``, ``15m``, ``4-hour``);
- fact names as written in the facts (``rsi_14``);
- Markdown list numbers at the start of a line (``1.``), and "24/7";
- dates and times equal to a time in the facts at the precision written (``2026-11-01``,
  ``2026-11-01 04:00``, ``04:00 UTC``, ``Nov 1``), a close time ``...:59.999`` also
  matching the next round millisecond, and the years of those times.

The guard is deliberately strict: a rounded price is a different number, and a number
in words ("seventy thousand") is not read (the prompt asks for digits copied as printed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from ..intervals import INTERVALS

__all__ = ["GuardResult", "check", "known_values", "read_numbers"]

#: Periods allowed in context though no fact name carries them: MACD's 12, 26 and 9, and
#: the 95 of a "95% interval".
FIXED_PERIODS = (12, 26, 9, 95)

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MONTH_RE = (r"(?:january|february|march|april|may|june|july|august|september|october|"
             r"november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b\.?")
_ISO_RE = re.compile(
    r"(?<![\d])(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?))?"
    r"(?:Z|\s?UTC|\+00:00)?(?![\d])")
_CLOCK_RE = re.compile(r"(?<![\d:.])(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)"
                       r"(?:\s?UTC|Z)?(?![\d:])")
_MD_RE = re.compile(  # "Nov 1", "November 1st, 2026"
    rf"(?i)\b(?P<month>{_MONTH_RE})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>\d{{4}})\b)?")
_DM_RE = re.compile(  # "1 Nov", "1st of November 2026"
    rf"(?i)\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH_RE})"
    r"(?:,?\s+(?P<year>\d{4})\b)?")
#: Phrases with digits that are words, not numbers: a market open "24/7".
_PHRASES_RE = re.compile(r"(?<![\d/])24/7(?![\d/])")
_LIST_RE = re.compile(r"(?m)^[ \t>]*\d{1,2}[.)](?=\s)")
_NUMBER_RE = re.compile(
    r"(?P<sign>[-+\u2212](?=[\d.]))?"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?:\.\d+)?|\.\d+)"
    r"(?P<pct>\s?%)?"
    r"(?P<suffix>[A-Za-z]+)?")
_INDICATOR_BEFORE = re.compile(
    r"(?i)\b(?:ema|sma|ma|rsi|atr|adx|macd|dmi|di|vol(?:ume)?|period|lookback|window)s?"
    r"[\s_\-(]*$")
_UNIT_AFTER = re.compile(r"(?i)^[\s\-\u2010\u2011]?(?:bars?|periods?|candles?|-?period|-?bar)\b")
_SPELLED_INTERVAL = re.compile(r"(?i)^[\s\-\u2010\u2011]?(?P<unit>second|minute|hour|day|week|"
                               r"month)s?\b")
_UNIT_LETTER = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w", "month": "M"}
_SCALE = {"k": Decimal(1000), "K": Decimal(1000), "m": Decimal(10) ** 6, "M": Decimal(10) ** 6,
          "mn": Decimal(10) ** 6, "bn": Decimal(10) ** 9, "b": Decimal(10) ** 9,
          "B": Decimal(10) ** 9}
_ORDINAL = {"st", "nd", "rd", "th"}
_ISO_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|\+00:00)?$")


@dataclass(frozen=True)
class GuardResult:
    """What the guard made of one piece of prose.

    Attributes
    ----------
    accepted : bool
        True when every number in the prose is a fact (or allowed).
    reason : str
        Why it was rejected (``"the model wrote 67,450; no fact has that value"``), or
        ``""``.
    numbers : tuple of str
        Every number and time read, as written, in order.
    unknown : tuple of str
        Those that no fact has.
    """

    accepted: bool
    reason: str
    numbers: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass
class _Known:
    signed: set[Decimal] = field(default_factory=set)
    magnitude: set[Decimal] = field(default_factory=set)
    instants: list[pd.Timestamp] = field(default_factory=list)
    periods: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def add_number(self, value: Decimal) -> None:
        self.signed.add(value)
        self.magnitude.add(abs(value))

    def has_number(self, value: Decimal, *, signed: bool) -> bool:
        return value in self.signed if signed else abs(value) in self.magnitude


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").replace("\u2212", "-"))
    except InvalidOperation:
        return None


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}.{i}")
    else:
        yield prefix, value


def _instant(text: str) -> pd.Timestamp | None:
    if not _ISO_VALUE.match(text.strip()):
        return None
    try:
        ts = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        return None
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def _printed_forms(facts: Mapping[str, Any]) -> Mapping[str, str] | list[str]:
    """The engine's printed forms of the facts (what its templates print)."""
    from . import facts as facts_module

    for name in ("printed_facts", "printed_numbers"):
        fn = getattr(facts_module, name, None)
        if fn is not None:
            out = fn(facts)
            return out if isinstance(out, Mapping) else [str(v) for v in out]
    raise RuntimeError("candlekit.analysis.facts has neither printed_facts nor printed_numbers")


def known_values(analysis: Any, *, printed: Iterable[str] | Mapping[str, str] | None = None
                 ) -> _Known:
    """Everything the guard accepts for an analysis (or a facts mapping).

    Parameters
    ----------
    analysis : Analysis or mapping
        An :class:`~candlekit.analysis.model.Analysis` (its facts, call and as_of) or a
        plain facts mapping.
    printed : iterable or mapping of str, optional
        The printed forms of the facts. By default the engine's
        (:func:`candlekit.analysis.facts.printed_facts`).
    """
    facts = analysis if isinstance(analysis, Mapping) else dict(analysis.facts)
    call = None if isinstance(analysis, Mapping) else getattr(analysis, "call", None)
    known = _Known()
    if printed is None:
        printed = _printed_forms(facts)
    if isinstance(printed, Mapping):
        known.names.update(str(k) for k in printed)
        printed = list(printed.values())
    strings = [str(p) for p in printed]
    if not isinstance(analysis, Mapping):
        strings += [str(c) for c in analysis.caveats]  # candlekit's own data checks
    extra_times = []
    if not isinstance(analysis, Mapping):
        extra_times += [analysis.as_of, getattr(call, "as_of", None)]
        known.names.update(str(v) for v in (analysis.symbol, analysis.interval) if v)
    for name, value in _flatten(facts):
        known.names.add(name)
        known.names.update(name.split("."))
        known.periods.update(int(d) for d in re.findall(r"(?<=_)\d+(?=_|$)", name))
        if isinstance(value, str):
            strings.append(value)
    for text in strings:
        for piece in _ISO_RE.finditer(text):
            ts = _instant(piece.group(0).replace(" UTC", "Z"))
            if ts is not None:
                known.instants.append(ts)
        stripped = _ISO_RE.sub(" ", text)
        for m in _NUMBER_RE.finditer(stripped):
            value = _decimal(m.group("num"))
            if value is None:
                continue
            if m.group("sign") in ("-", "\u2212"):
                value = -value
            known.add_number(value)
    for t in extra_times:
        ts = _instant(t) if isinstance(t, str) else None
        if ts is not None:
            known.instants.append(ts)
    known.periods.update(FIXED_PERIODS)
    # a close time at ...:59.999 is also written as the next round time (04:00)
    known.instants += [t + pd.Timedelta(milliseconds=1) for t in known.instants
                       if t.microsecond // 1000 == 999]
    return known


def _time_matches(known: _Known, *, date: tuple[int, int, int | None] | None,
                  clock: str | None) -> bool:
    for t in known.instants:
        if date is not None:
            y, mo, d = date
            if (t.month, t.day) != (mo, d) or (y is not None and t.year != y):
                continue
        if clock is not None:
            parts = clock.split(":")
            if t.hour != int(parts[0]) or t.minute != int(parts[1]):
                continue
            if len(parts) > 2:
                sec = Decimal(parts[2])
                if Decimal(t.second) + Decimal(t.microsecond // 1000) / 1000 != sec:
                    continue
        return True
    return False


def read_numbers(text: str) -> list[str]:
    """Every number and time in ``text`` as written (what :func:`check` examines)."""
    return [tok for tok, _ in _scan(text, _Known(periods=set(), names=set()))]


def _scan(text: str, known: _Known) -> list[tuple[str, bool]]:
    """(token, is it known) for every number and time in ``text``, in order."""
    found: list[tuple[int, str, bool]] = []
    blank = list(text)

    def consume(m: re.Match[str]) -> None:
        for i in range(m.start(), m.end()):
            blank[i] = " "

    for m in _ISO_RE.finditer(text):
        y, mo, d = (int(x) for x in m.group("date").split("-"))
        ok = _time_matches(known, date=(y, mo, d), clock=m.group("time"))
        found.append((m.start(), m.group(0).strip(), ok))
        consume(m)
    for regex in (_MD_RE, _DM_RE):
        for m in regex.finditer("".join(blank)):
            month = _MONTHS.get(m.group("month").lower()[:3])
            if month is None:
                continue
            year = int(m.group("year")) if m.group("year") else None
            ok = _time_matches(known, date=(year, month, int(m.group("day"))), clock=None)
            found.append((m.start(), m.group(0).strip(), ok))
            consume(m)
    for m in _CLOCK_RE.finditer("".join(blank)):
        ok = _time_matches(known, date=None, clock=m.group("time"))
        found.append((m.start(), m.group(0).strip(), ok))
        consume(m)
    for m in _LIST_RE.finditer("".join(blank)):
        consume(m)
    for m in _PHRASES_RE.finditer("".join(blank)):
        consume(m)
    rest = "".join(blank)
    # fact names (rsi_14, ema_200) are words, not numbers
    for name in sorted(known.names, key=len, reverse=True):
        if any(ch.isdigit() for ch in name):
            rest = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w])", lambda m: " " * len(m.group()),
                          rest)
    chain_end = -1
    for m in _NUMBER_RE.finditer(rest):
        start = m.start()
        token = m.group(0).strip()
        num, suffix, pct = m.group("num"), m.group("suffix") or "", m.group("pct")
        sign = m.group("sign")
        if sign and start > 0 and (rest[start - 1].isalnum() or rest[start - 1] == "_"):
            sign = None  # a hyphen inside a word or a range ("RSI-14", "66-67"), not a minus
            token = token[1:]
            start += 1
        value = _decimal(num)
        if value is None:
            continue
        before, after = rest[max(0, start - 16):start], rest[m.end():m.end() + 12]
        glued = start > 0 and (rest[start - 1].isalpha() or rest[start - 1] == "_")
        is_int = "." not in num and "," not in num
        # intervals: 4h, 1d, 15m, 1M, and 4-hour
        if is_int and not pct and f"{num}{suffix}" in INTERVALS:
            continue
        if is_int and not suffix:
            spelled = _SPELLED_INTERVAL.match(after)
            if spelled and f"{num}{_UNIT_LETTER[spelled.group('unit').lower()]}" in INTERVALS:
                continue
        # indicator periods: EMA 20/50/200, RSI(14), MACD 12, 26, 9, the 20-bar average
        if is_int and not sign and int(value) in known.periods:
            chained = chain_end >= 0 and re.fullmatch(r"\s*(?:[/,&]|and)\s*",
                                                      rest[chain_end:start]) is not None
            ci = pct and re.match(r"(?i)\s*(?:interval|ci\b|confidence)", after)
            if glued or chained or ci or _INDICATOR_BEFORE.search(before) \
                    or _UNIT_AFTER.match(after):
                chain_end = m.end()
                continue
        scaled = value
        if suffix in _SCALE and not (suffix in ("m", "M") and is_int
                                     and f"{num}{suffix}" in INTERVALS):
            scaled = value * _SCALE[suffix]
        elif suffix and suffix not in _ORDINAL and suffix not in ("x", "X"):
            token = token[: len(token) - len(suffix)].strip()
        if suffix in _ORDINAL or suffix in ("x", "X"):
            token = token[: len(token) - len(suffix)].strip() + suffix
        if sign in ("-", "\u2212"):
            scaled = -scaled
        ok = known.has_number(scaled, signed=sign is not None)
        if not ok and is_int and not suffix and 1970 <= value <= 2100:
            ok = any(t.year == int(value) for t in known.instants)
        found.append((start, token, ok))
    found.sort(key=lambda item: item[0])
    return [(tok, ok) for _, tok, ok in found]


def check(text: str, analysis: Any, *,
          printed: Iterable[str] | Mapping[str, str] | None = None) -> GuardResult:
    """Accept ``text`` only when every number in it is one of the analysis' facts.

    Parameters
    ----------
    text : str
        The prose to check (Markdown).
    analysis : Analysis or mapping
        The analysis narrated (facts, call, as_of), or a facts mapping.
    printed : iterable or mapping of str, optional
        The facts' printed forms (default: the engine's).

    Returns
    -------
    GuardResult

    Examples
    --------
    >>> facts = {"close": 67412.5, "rsi_14": 58.31}
    >>> printed = {"close": "67,412.50", "rsi_14": "58.31"}
    >>> check("BTC closed at 67,412.50 with RSI(14) at 58.31.", facts, printed=printed).accepted
    True
    >>> check("Resistance at 67,450.", facts, printed=printed).reason
    'the model wrote 67,450; no fact has that value'
    """
    if not text or not text.strip():
        return GuardResult(False, "the model returned no text")
    known = known_values(analysis, printed=printed)
    scanned = _scan(text, known)
    numbers = tuple(tok for tok, _ in scanned)
    unknown = tuple(dict.fromkeys(tok for tok, ok in scanned if not ok))
    if not unknown:
        return GuardResult(True, "", numbers, ())
    first = unknown[0]
    what = "time" if (":" in first or "-" in first[1:] or re.search("[A-Za-z]{3}", first)) \
        else "value"
    reason = f"the model wrote {first}; no fact has that {what}"
    if len(unknown) > 1:
        more = ", ".join(unknown[1:6]) + (", ..." if len(unknown) > 6 else "")
        reason += f" (nor {more}: {len(unknown)} unsupported numbers in all)"
    return GuardResult(False, reason, numbers, unknown)
