"""Counters of what the emulator served: requests, statuses, candles, weight, faults."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EmulatorStats", "StatsCounter"]


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of the emulator's counters (since start or the last reset).

    Attributes
    ----------
    requests : int
        ``POST /info`` requests received (control requests are not counted).
    by_status : dict of int to int
        Responses sent, by HTTP status (a dropped connection sends none).
    candles_served : int
        Candle records in the complete ``candleSnapshot`` bodies sent (duplicates
        included; truncated bodies count none).
    weight_used : int
        Weight charged (429 answers cost none).
    rate_limited : int
        429 answers.
    faults_injected : dict of str to int
        Faults applied, by name.
    """

    requests: int = 0
    by_status: Mapping[int, int] = field(default_factory=dict)
    candles_served: int = 0
    weight_used: int = 0
    rate_limited: int = 0
    faults_injected: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-ready values (status codes as strings)."""
        return {"requests": self.requests,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "candles_served": self.candles_served, "weight_used": self.weight_used,
                "rate_limited": self.rate_limited,
                "faults_injected": dict(sorted(self.faults_injected.items()))}


class StatsCounter:
    """Thread-safe counters behind :class:`EmulatorStats`."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Set every counter to zero."""
        with self._lock:
            self._requests = 0
            self._status: Counter[int] = Counter()
            self._candles = 0
            self._weight = 0
            self._limited = 0
            self._faults: Counter[str] = Counter()

    def request(self) -> None:
        """Count one ``/info`` request."""
        with self._lock:
            self._requests += 1

    def response(self, status: int, *, candles: int = 0) -> None:
        """Count one response sent with ``status`` carrying ``candles`` records."""
        with self._lock:
            self._status[status] += 1
            self._candles += candles
            if status == 429:
                self._limited += 1

    def weight(self, w: int) -> None:
        """Count weight charged."""
        with self._lock:
            self._weight += w

    def fault(self, name: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults[name] += 1

    def snapshot(self) -> EmulatorStats:
        """The counters now."""
        with self._lock:
            return EmulatorStats(requests=self._requests, by_status=dict(self._status),
                                 candles_served=self._candles, weight_used=self._weight,
                                 rate_limited=self._limited, faults_injected=dict(self._faults))
