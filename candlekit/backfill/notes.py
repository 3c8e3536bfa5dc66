"""Folding a task's note for people: one line per distinct message, not one per series.

A task over many series records one note part per series (``"BTC 1m: ... | ETH 1m:
..."``); when several series say the same thing (the same history boundary, the same
count), :func:`fold_notes` says it once and lists the series it is about.
"""

from __future__ import annotations

import re

__all__ = ["fold_notes"]

_PART = re.compile(r"^(?P<symbol>\S+) (?P<interval>\d+[smhdwM]o?): (?P<text>.*)$", re.DOTALL)
_SYMBOL = "{symbol}"
_INTERVAL = "{interval}"


def fold_notes(note: str | None, *, separator: str = " | ") -> str:
    """A task note with the parts that say the same thing for several series folded.

    Parameters
    ----------
    note : str or None
        A task's note: parts ``"SYMBOL INTERVAL: message"`` joined by ``separator`` (a
        part without that prefix is kept as it is).
    separator : str, default " | "

    Returns
    -------
    str
        The parts in their first order, each distinct message once, prefixed by every
        series it is about (and marked "(each)" when it is about several); "" for no
        note.

    Examples
    --------
    >>> fold_notes("BTC 1m: hl has no BTC 1m candles before 10-28; 9 not fetched | "
    ...            "ETH 1m: hl has no ETH 1m candles before 10-28; 9 not fetched | "
    ...            "BTC 1h: up to date")
    'BTC 1m, ETH 1m: hl has no candles before 10-28; 9 not fetched (each) | BTC 1h: up to date'
    """
    if not note:
        return ""
    groups: dict[str, list[tuple[str, str]]] = {}
    texts: dict[str, str] = {}
    order: list[str] = []
    for part in note.split(separator):
        m = _PART.match(part.strip())
        if m is None:
            key, series = part.strip(), None
        else:
            symbol, interval, text = m["symbol"], m["interval"], m["text"]
            key = _generic(text, symbol, interval)
            series = (symbol, interval)
        if key not in groups:
            groups[key] = []
            texts[key] = part.strip() if series is None else m["text"]  # type: ignore[index]
            order.append(key)
        if series is not None:
            groups[key].append(series)
    out = []
    for key in order:
        series = groups[key]
        if not series:
            out.append(texts[key])
        elif len(series) == 1:
            out.append(f"{series[0][0]} {series[0][1]}: {texts[key]}")
        else:
            who = ", ".join(f"{s} {i}" for s, i in series)
            text = key.replace(f" {_SYMBOL} {_INTERVAL}", "").replace(
                f"{_SYMBOL} {_INTERVAL}", "the series").replace(_SYMBOL, "the coin")
            out.append(f"{who}: {text} (each)")
    return separator.join(out)


def _generic(text: str, symbol: str, interval: str) -> str:
    """``text`` with the series' own symbol and interval replaced by placeholders."""
    out = re.sub(rf"(?<![\w:@/]){re.escape(symbol)} {re.escape(interval)}(?!\w)",
                 f"{_SYMBOL} {_INTERVAL}", text)
    return re.sub(rf"(?<![\w:@/]){re.escape(symbol)}(?![\w:@/])", _SYMBOL, out)
