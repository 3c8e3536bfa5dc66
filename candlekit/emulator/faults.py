"""Faults the emulator can inject into ``candleSnapshot`` answers, and how.

Each fault has a rate in [0, 1]: the chance that a ``candleSnapshot`` request gets it,
drawn independently per fault from a generator seeded by ``fault_seed``. Faults never
apply to ``meta``, ``spotMeta``, ``perpDexs``, errors or the control endpoint.

==================  =====================================================================
``dropped``         the connection is closed without an answer
``server_error``    status 500, 502 or 503 with a short text body
``slow``            the answer waits ``slow_seconds`` first (then anything else applies)
``empty``           ``[]`` for a range that has candles
``stale_open``      the open candle is sent with other values (still a valid candle: one
                    tick higher close, one lot more volume, one trade more)
``duplicates``      some records repeated with identical values, and up to three records
                    from before ``startTime`` put first
``out_of_order``    the records shuffled
``truncated``       status 200, the body cut in the middle (Content-Length of the cut body)
==================  =====================================================================

``dropped`` and ``server_error`` end the request; otherwise ``empty`` replaces the
records (then ``stale_open``, ``duplicates`` and ``out_of_order`` have nothing to act on),
and ``truncated`` cuts whatever body results. A fault is counted only when it changed
the answer.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

from ..errors import EmulatorConfigError
from ..synthetic import coin_profile
from .market import CandleRow

__all__ = ["FAULT_NAMES", "FaultInjector", "Faults", "perturb_open"]

FAULT_NAMES: tuple[str, ...] = ("dropped", "server_error", "slow", "empty", "stale_open",
                                "duplicates", "out_of_order", "truncated")


@dataclass(frozen=True)
class Faults:
    """Rates of the faults injected into ``candleSnapshot`` answers (see the module notes).

    Parameters
    ----------
    server_error, slow, truncated, dropped, empty, duplicates, out_of_order, stale_open : float
        Chance in [0, 1] that a request gets the fault; 0 (the default) never.
    slow_seconds : float, default 2.0
        How long a ``slow`` answer waits.

    Raises
    ------
    EmulatorConfigError
        For a rate outside [0, 1] or a negative ``slow_seconds``.

    Examples
    --------
    >>> Faults(server_error=0.1).rates()["server_error"]
    0.1
    >>> Faults.parse(["empty=1", "slow=0.5"]).empty
    1.0
    """

    server_error: float = 0.0
    slow: float = 0.0
    truncated: float = 0.0
    dropped: float = 0.0
    empty: float = 0.0
    duplicates: float = 0.0
    out_of_order: float = 0.0
    stale_open: float = 0.0
    slow_seconds: float = 2.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            ok = (not isinstance(value, bool) and isinstance(value, (int, float))
                  and math.isfinite(value))
            if f.name == "slow_seconds":
                if not ok or value < 0:
                    raise EmulatorConfigError(f.name, value, "use a number of seconds >= 0")
            elif not ok or not 0.0 <= value <= 1.0:
                raise EmulatorConfigError(f.name, value, "use a rate between 0 and 1")
            object.__setattr__(self, f.name, float(value))

    def rates(self) -> dict[str, float]:
        """Every fault's rate, by name."""
        return {name: getattr(self, name) for name in FAULT_NAMES}

    def any(self) -> bool:
        """Whether any fault can happen."""
        return any(self.rates().values())

    def to_dict(self) -> dict[str, float]:
        """The rates and ``slow_seconds`` as a plain dict (``Faults(**d)`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def parse(cls, specs: Iterable[str], *, slow_seconds: float = 2.0) -> Faults:
        """Faults from ``name=rate`` strings, as the command line takes them.

        Parameters
        ----------
        specs : iterable of str
            E.g. ``["server_error=0.1", "dropped=0.05"]``; ``slow_seconds=3`` also works.
        slow_seconds : float, default 2.0

        Raises
        ------
        EmulatorConfigError
            For an unknown name or an unreadable rate.
        """
        values: dict[str, float] = {"slow_seconds": slow_seconds}
        names = (*FAULT_NAMES, "slow_seconds")
        for spec in specs:
            name, sep, rate = str(spec).partition("=")
            name = name.strip()
            if not sep or name not in names:
                raise EmulatorConfigError("fault", spec, f"write name=rate with a name among "
                                          f"{', '.join(names)}, e.g. server_error=0.1")
            try:
                values[name] = float(rate)
            except ValueError:
                raise EmulatorConfigError(name, rate, "use a number such as 0.1") from None
        return cls(**values)


class FaultInjector:
    """Seeded decisions about which faults a request gets, and seeded shuffles.

    Parameters
    ----------
    seed : int
        Same seed and same request sequence, same faults.

    Notes
    -----
    Thread-safe.
    """

    def __init__(self, seed: int = 0):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, faults: Faults) -> frozenset[str]:
        """The faults one request gets (one draw per fault, always, to stay reproducible)."""
        if not faults.any():
            return frozenset()
        with self._lock:
            return frozenset(name for name, rate in faults.rates().items()
                             if self._rng.random() < rate)

    def server_error(self) -> int:
        """Which 5xx status to send."""
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def duplicate(self, records: list[bytes], before: list[bytes]) -> list[bytes]:
        """``before`` first, then ``records`` with about one in ten (at least one) repeated
        right after itself."""
        if not records:
            return list(before)
        with self._lock:
            k = max(1, len(records) // 10)
            repeat = set(self._rng.sample(range(len(records)), k))
        out = list(before)
        for i, rec in enumerate(records):
            out.append(rec)
            if i in repeat:
                out.append(rec)
        return out

    def shuffle(self, records: list[bytes]) -> list[bytes]:
        """The records in another order (reversed if the shuffle left them as they were)."""
        out = list(records)
        with self._lock:
            self._rng.shuffle(out)
        if out == records:
            out.reverse()
        return out


def perturb_open(coin: str, row: CandleRow) -> CandleRow:
    """A stale view of the open candle: close one tick higher, one lot more volume, one
    trade more; high and low widened so the candle stays valid.

    Parameters
    ----------
    coin : str
        Decides the tick and lot sizes.
    row : CandleRow

    Returns
    -------
    CandleRow
        Different from ``row`` in close, volume and trades.
    """
    p = coin_profile(coin)
    d, s = p.price_decimals, p.size_decimals
    if d >= 0:
        close = (round(row.close * 10.0**d) + 1) / 10.0**d
    else:
        close = (round(row.close / 10.0**-d) + 1) * 10.0**-d
    volume = (round(row.volume * 10.0**s) + 1) / 10.0**s
    lot = volume - row.volume
    return row._replace(close=close, high=max(row.high, close), low=min(row.low, close),
                        volume=volume, quote_volume=row.quote_volume + lot * close,
                        trades=row.trades + 1)
