"""Sources by name: ``get_source("hyperliquid")``, and a decorator to add more.

Built in: ``"hyperliquid"`` (:class:`~candlekit.sources.hyperliquid.Hyperliquid`),
``"hydromancer"`` (:class:`~candlekit.sources.hydromancer.Hydromancer`), and the local
candlekit emulator: ``"emulator"`` (a Hyperliquid client pointed at
``http://127.0.0.1:8731`` unless ``base_url`` is given) and ``"emulator-hydromancer"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .base import Source, SourceConfigError

__all__ = ["EMULATOR_URL", "SOURCES", "get_source", "register_source"]

EMULATOR_URL = "http://127.0.0.1:8731"

SOURCES: dict[str, Callable[..., Source]] = {}

F = TypeVar("F", bound=Callable[..., Source])


def register_source(name: str) -> Callable[[F], F]:
    """Class (or factory) decorator registering a source under ``name``.

    Parameters
    ----------
    name : str
        Lower-case name for :func:`get_source`.

    Returns
    -------
    callable
        The decorator; it returns the class unchanged.

    Examples
    --------
    >>> @register_source("my-exchange")
    ... class MyExchange(Source): ...
    >>> SOURCES["my-exchange"] is MyExchange
    True
    >>> del SOURCES["my-exchange"]
    """
    if not isinstance(name, str) or not name.strip():
        raise SourceConfigError(f"A source name must be a non-empty string, got {name!r}.")
    key = name.strip().lower()

    def decorate(factory: F) -> F:
        SOURCES[key] = factory
        return factory

    return decorate


def _load_builtins() -> None:
    from . import hydromancer, hyperliquid  # noqa: F401  (their decorators register them)


def get_source(name: str | Source, **kwargs: Any) -> Source:
    """A source client by name.

    Parameters
    ----------
    name : str or Source
        ``"hyperliquid"``, ``"hydromancer"``, ``"emulator"``, ``"emulator-hydromancer"``
        or a registered name; a :class:`Source` instance is returned as is.
    **kwargs
        Passed to the source's constructor (``base_url=``, ``timeout=``,
        ``weight_budget=``, ``api_key=`` ...).

    Returns
    -------
    Source

    Raises
    ------
    SourceConfigError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(name, Source):
        if kwargs:
            raise SourceConfigError(f"Options {sorted(kwargs)} cannot apply to the existing "
                                    f"source {name!r}: pass a source name instead.")
        return name
    _load_builtins()
    key = name.strip().lower() if isinstance(name, str) else name
    factory = SOURCES.get(key)
    if factory is None:
        raise SourceConfigError(f"Unknown source {name!r}: use one of "
                                f"{', '.join(sorted(SOURCES))}.")
    return factory(**kwargs)
