"""What an upstream was seen not to serve, as plain values: no I/O.

A record of absence is either the earliest open time a series serves (retention or
listing) or a ``[start, end)`` range inside its history that one answer served candles on
both sides of and none inside (an outage). Every record is due to be checked again
(:func:`recheck_spacing_ms`); :class:`~candlekit.backfill.registry.TaskRegistry` stores
them, :mod:`~candlekit.backfill.runner` decides them from answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["RECHECK_FIRST_MS", "RECHECK_MAX_MS", "Availability", "EmptyRange",
           "merge_rows", "recheck_spacing_ms", "subtract_ranges"]

#: A record of absence is checked again this long (server clock) after it was made...
RECHECK_FIRST_MS = 3_600_000
#: ... twice as long after each check that agreed with it, at most this long.
RECHECK_MAX_MS = 30 * 86_400_000


def recheck_spacing_ms(checks: int) -> int:
    """How long (ms, server clock) after an observation of absence it is checked again.

    ``checks`` is how many checks already agreed with it: one hour, doubling each time,
    at most :data:`RECHECK_MAX_MS` (30 days).
    """
    return int(min(RECHECK_FIRST_MS * 2 ** min(max(checks, 0), 30), RECHECK_MAX_MS))


@dataclass(frozen=True)
class EmptyRange:
    """A recorded ``[start, end)`` the upstream served no candle in (epoch ms).

    ``checks`` counts the later checks that agreed (-1: written by an older candlekit on
    weak evidence, untrusted); ``next_check_ms`` is when it is due to be checked again.
    """

    start: int
    end: int
    observed_ms: int
    next_check_ms: int
    checks: int

    @property
    def trusted(self) -> bool:
        """Whether the record came from strong evidence (not migrated from schema 1)."""
        return self.checks >= 0


@dataclass(frozen=True)
class Availability:
    """What a registry knows about what one upstream series does not serve.

    Attributes
    ----------
    earliest : int or None
        The trusted earliest available open time (epoch ms).
    earliest_next_check : int
        When the earliest available time is due to be checked again (server clock).
    earliest_checks : int
        Checks that agreed with it so far.
    ranges : list of EmptyRange
        Every recorded empty range, trusted or not, sorted.
    """

    earliest: int | None = None
    earliest_next_check: int = 0
    earliest_checks: int = 0
    ranges: list[EmptyRange] = field(default_factory=list)

    def trusted_ranges(self) -> list[tuple[int, int]]:
        """``[start, end)`` of the trusted empty ranges."""
        return [(r.start, r.end) for r in self.ranges if r.trusted]

    def due_ranges(self, now_ms: int) -> list[EmptyRange]:
        """Trusted ranges due to be checked again at ``now_ms``, oldest check first."""
        return sorted((r for r in self.ranges if r.trusted and r.next_check_ms <= now_ms),
                      key=lambda r: (r.next_check_ms, r.start))


def subtract_ranges(ranges: Sequence[tuple[int, int]], cut: Sequence[tuple[int, int]]
              ) -> list[tuple[int, int]]:
    """``ranges`` minus every ``[a, b)`` of ``cut`` (both lists of ``[start, end)``)."""
    out = [(int(a), int(b)) for a, b in ranges if b > a]
    for c0, c1 in cut:
        nxt = []
        for a, b in out:
            if c1 <= a or c0 >= b:
                nxt.append((a, b))
                continue
            if a < c0:
                nxt.append((a, int(c0)))
            if c1 < b:
                nxt.append((int(c1), b))
        out = nxt
    return out


def merge_rows(rows: list[tuple[int, int, int, int, int]]
                ) -> list[tuple[int, int, int, int, int]]:
    """Merge touching or overlapping ranges with the same trust; keep the earliest due."""
    out: list[list[int]] = []
    for a, b, seen, due, checks in sorted(rows):
        if out and a <= out[-1][1] and (checks >= 0) == (out[-1][4] >= 0):
            last = out[-1]
            last[1] = max(last[1], b)
            last[2] = max(last[2], seen)
            last[3] = min(last[3], due)
            last[4] = min(last[4], checks)
        elif out and a < out[-1][1]:  # overlapping with a different trust: cut it
            if b > out[-1][1]:
                out.append([out[-1][1], b, seen, due, checks])
        else:
            out.append([a, b, seen, due, checks])
    return [(a, b, s, d, c) for a, b, s, d, c in out]
