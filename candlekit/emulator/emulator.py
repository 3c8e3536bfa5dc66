"""The :class:`Emulator`: a local Hyperliquid (or Hydromancer) ``/info`` API on synthetic data."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from ..errors import EmulatorConfigError
from ..timeutil import TimeLike
from .budget import WeightBudget
from .clock import MarketClock
from .faults import FaultInjector, Faults
from .market import EmulatedMarket
from .server import EmulatorServer
from .stats import EmulatorStats, StatsCounter

__all__ = ["EMULATOR_PORT", "Emulator"]

EMULATOR_PORT = 8731


class Emulator:
    """A local HTTP server that answers like Hyperliquid's (or Hydromancer's) ``/info``,
    with candles from a seeded synthetic market.

    The server listens as soon as the object is built, from a daemon thread; use it as a
    context manager (or call :meth:`close`) to stop it. See :mod:`candlekit.emulator` for
    what is served.

    Parameters
    ----------
    mode : {"hyperliquid", "hydromancer"}, default "hyperliquid"
        Which API to emulate.
    seed : int, default 7
        Seed of the synthetic market.
    now : time, optional
        Freeze the market clock at this time (moved only by :meth:`set_time` and
        :meth:`advance`). ``None`` (the default) follows the real UTC clock.
    window : int, default 5000
        Hyperliquid mode: candles kept per coin and interval (the open one included).
    budget : int or None, default 1200
        Weight allowed per ``budget_window`` seconds (``None``: no limit).
    budget_window : float, default 60.0
        Length in seconds (real, monotonic time) of the budget's sliding window.
    faults : Faults, optional
        Faults to inject (none by default); replace :attr:`faults` at any time.
    fault_seed : int, default 0
        Seed of the fault draws.
    api_key : str, optional
        Hydromancer mode: require ``Authorization: Bearer <api_key>``.
    port : int, default 0
        0 picks a free port (see :attr:`url`); :data:`EMULATOR_PORT` is 8731.
    host : str, default "127.0.0.1"
        Only this machine can connect by default.
    cache_rows : int, default 1_000_000
        Closed candles kept encoded in memory (about 200 bytes each).

    Raises
    ------
    EmulatorConfigError
        For a bad setting.
    InvalidTimeError
        For an unreadable ``now``.
    OSError
        When the port cannot be bound.

    Examples
    --------
    >>> import requests
    >>> with Emulator(now="2026-11-01T00:30Z") as emu:
    ...     r = requests.post(emu.url + "/info", json={"type": "candleSnapshot", "req": {
    ...         "coin": "BTC", "interval": "1h", "startTime": 0, "endTime": emu.now_ms}})
    ...     len(r.json()), r.headers["X-Candlekit-Emulator"], emu.stats.weight_used
    (5000, 'hyperliquid', 104)
    """

    def __init__(self, mode: str = "hyperliquid", *, seed: int = 7, now: TimeLike | None = None,
                 window: int = 5000, budget: int | None = 1200, budget_window: float = 60.0,
                 faults: Faults | None = None, fault_seed: int = 0, api_key: str | None = None,
                 port: int = 0, host: str = "127.0.0.1", cache_rows: int = 1_000_000):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise EmulatorConfigError("seed", seed, "use an integer")
        if isinstance(fault_seed, bool) or not isinstance(fault_seed, int):
            raise EmulatorConfigError("fault_seed", fault_seed, "use an integer")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise EmulatorConfigError("api_key", api_key, "use a non-empty string or None")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise EmulatorConfigError("port", port, "use 0 (any free port) to 65535")
        self.market = EmulatedMarket(seed, mode=mode, window=window, cache_rows=cache_rows)
        self.clock = MarketClock(now)
        self.budget = WeightBudget(budget, window_s=budget_window)
        self.faults = faults
        self.injector = FaultInjector(fault_seed)
        self.counters = StatsCounter()
        self.seed = seed
        self.api_key = api_key
        self._server = EmulatorServer(self, host, port)

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server (idempotent)."""
        self._server.close()

    def __repr__(self) -> str:
        clock = "running" if self.clock.running else "frozen"
        return (f"Emulator(mode={self.mode!r}, url={self.url!r}, now={self.now.isoformat()} "
                f"({clock}), seed={self.seed})")

    # --- settings ------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"hyperliquid"`` or ``"hydromancer"``."""
        return self.market.mode

    @property
    def window(self) -> int:
        """Hyperliquid mode: candles kept per coin and interval."""
        return self.market.window

    @property
    def url(self) -> str:
        """Base URL, e.g. ``"http://127.0.0.1:8731"`` (POST ``/info`` under it)."""
        return self._server.url

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._server.port

    @property
    def faults(self) -> Faults:
        """The faults injected now; assign a new :class:`Faults` (or None) to change them."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        if value is None:
            value = Faults()
        if not isinstance(value, Faults):
            raise EmulatorConfigError("faults", value, "use a Faults(...) or None")
        self._faults = value

    # --- the clock -----------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """The market clock (epoch ms)."""
        return self.clock.now_ms()

    @property
    def now(self) -> pd.Timestamp:
        """The market clock as a UTC timestamp."""
        return pd.Timestamp(self.now_ms, unit="ms", tz="UTC")

    def set_time(self, t: TimeLike, *, running: bool | None = None) -> int:
        """Move the market clock to ``t`` (a frozen clock stays frozen, a running one runs on
        from ``t``, unless ``running`` says otherwise); return the new time in epoch ms."""
        return self.clock.set_time(t, running=running)

    def advance(self, delta: Any) -> int:
        """Move the market clock forward: ``"3d"``, ``"1w"``, ``"1M"`` (30 days), ms, or a
        :class:`pandas.Timedelta`; return the new time in epoch ms."""
        return self.clock.advance(delta)

    # --- the market ----------------------------------------------------------------------

    def coins(self) -> list[str]:
        """Every coin served: perps, HIP-3 ``xyz:*`` coins and spot pairs."""
        return self.market.coins()

    def truth(self, coin: str, interval: str, start: TimeLike, end: TimeLike, *,
              source: str = "emulator", served: bool = True) -> pd.DataFrame:
        """What a perfect client could have stored, with open time in ``[start, end)``.

        A candle is in the truth when it was served at some market time the clock has been
        at (:meth:`MarketClock.history`): it was inside the upstream's window then (the
        last ``window`` buckets in Hyperliquid mode; 7 days of 1s history in Hydromancer
        mode) and at or after the coin's listing. A client that fetched everything at
        every one of those times without a fault would hold exactly these candles; history
        that rolled out of the window before the emulator's clock ever got there is not in
        it (no client could have it). Values are as at the current clock: the candle
        holding the clock is open (``closed=False``), every other one closed (a candle
        served only while open, that rolled out before it closed, is still given closed);
        ``quote_volume`` is null where the wire has none; the alignment is the mode's.
        Computed from the synthetic market directly, not the server's caches.

        Parameters
        ----------
        coin : str
        interval : str
        start, end : time
            Open-time range, ``end`` exclusive.
        source : str, default "emulator"
            Label put in ``attrs["source"]`` (e.g. ``"emulator-hydromancer"``, the label
            candlekit's Hydromancer client gives data from this emulator).
        served : bool, default True
            ``False``: every candle the market has in the range up to the clock, whether
            or not it was ever served (the window is ignored; the listing is not).

        Returns
        -------
        pandas.DataFrame
            A canonical frame, ``attrs["source"] == source``.

        Raises
        ------
        UnknownSymbolError
            For a coin not served.
        InvalidIntervalError
            For an interval the mode does not serve (``1s`` in Hyperliquid mode).

        Examples
        --------
        >>> with Emulator(now="2026-11-01T00:00Z") as emu:
        ...     before = len(emu.truth("BTC", "1m", "2026-10-01", "2026-11-10"))
        ...     _ = emu.advance("1d")
        ...     after = len(emu.truth("BTC", "1m", "2026-10-01", "2026-11-10"))
        >>> before, after   # the window, then the window plus the day that followed it
        (5000, 6440)
        """
        df = self.market.truth(coin, interval, start, end, self.now_ms, source=source)
        if not served or df.empty:
            return df
        t = df.index.asi8
        keep = np.zeros(len(t), dtype=bool)
        for a, b in self.clock.history():
            lo = self.market.earliest(coin, interval, a)
            keep |= (t >= lo) & (t < b)
        if keep.all():
            return df
        attrs = dict(df.attrs)
        df = df[keep]
        df.attrs = attrs
        return df

    def earliest(self, coin: str, interval: str) -> int:
        """Open time (epoch ms) of the earliest candle served now (listing, Hyperliquid's
        window, Hydromancer's 7 days of 1s history).

        Raises
        ------
        UnknownSymbolError, InvalidIntervalError
            For a coin or interval not served.
        """
        return self.market.earliest(coin, interval, self.now_ms)

    # --- counters ------------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters."""
        return self.counters.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and forget the weight charged so far."""
        self.counters.reset()
        self.budget.reset()
