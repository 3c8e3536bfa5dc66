"""The HTTP session: urllib3 retries with jittered exponential backoff, every attempt accounted.

Transport failures (connect and read timeouts, dropped connections) and the statuses in
:data:`RETRY_STATUSES` are retried by urllib3 inside one ``session.post`` call, POST
included, honouring ``Retry-After``. The :class:`AccountedRetry` subclass reports each failed
attempt and each new attempt to the :class:`AttemptHooks` active in the calling context
(see :func:`attempt_hooks`), so the rate limiter and the request statistics see the
retries urllib3 makes internally, not only the calls the source makes.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import time
from collections.abc import Iterator
from itertools import takewhile
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

__all__ = [
    "RETRY_STATUSES",
    "AccountedRetry",
    "AttemptHooks",
    "attempt_hooks",
    "backoff_delay",
    "make_session",
]

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "candlekit/0.1 (+https://github.com/candlekit)"

_rng = random.Random()


def backoff_delay(failures: int, *, factor: float, maximum: float) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure: exponential, jittered.

    ``factor * 2 ** (failures - 1)``, capped at ``maximum``, then drawn uniformly from
    its upper half ("equal jitter"), so clients that failed together do not retry together.

    Parameters
    ----------
    failures : int
        Consecutive failures so far (1 for the first retry).
    factor : float
        Backoff factor in seconds (0 disables waiting).
    maximum : float
        Cap in seconds.

    Returns
    -------
    float
    """
    if failures < 1 or factor <= 0:
        return 0.0
    base = min(maximum, factor * 2.0 ** min(failures - 1, 62))
    return base / 2 + _rng.random() * base / 2


class AttemptHooks(Protocol):
    """What :class:`AccountedRetry` tells the caller about the attempts it makes."""

    def attempt_failed(self, *, response: Any = None, error: BaseException | None = None
                       ) -> None:
        """An attempt ended with a retryable status (``response``) or an ``error``."""

    def attempt_starting(self) -> None:
        """urllib3 is about to send the request again (after its backoff sleep)."""


_HOOKS: contextvars.ContextVar[AttemptHooks | None] = contextvars.ContextVar(
    "candlekit_attempt_hooks", default=None)


@contextlib.contextmanager
def attempt_hooks(hooks: AttemptHooks) -> Iterator[AttemptHooks]:
    """Route the retry events of the requests made inside the block to ``hooks``."""
    token = _HOOKS.set(hooks)
    try:
        yield hooks
    finally:
        _HOOKS.reset(token)


class AccountedRetry(Retry):
    """urllib3 ``Retry`` that reports every failed and every new attempt to the hooks.

    It also replaces urllib3's backoff (none before the second retry) with
    :func:`backoff_delay` from the first retry on. ``Retry-After`` takes precedence when
    the response carries it.
    """

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> AccountedRetry:
        """Report the failed attempt, then count it as urllib3 does."""
        hooks = _HOOKS.get()
        if hooks is not None:
            hooks.attempt_failed(response=response, error=error)
        return super().increment(method=method, url=url, response=response, error=error,
                                 _pool=_pool, _stacktrace=_stacktrace)

    def get_backoff_time(self) -> float:
        """Jittered exponential backoff over the consecutive failures in the history."""
        failures = len(list(takewhile(lambda h: h.redirect_location is None,
                                      reversed(self.history))))
        return backoff_delay(failures, factor=self.backoff_factor, maximum=self.backoff_max)

    def sleep(self, response: Any = None) -> None:
        """Wait (``Retry-After`` or backoff), then announce the next attempt."""
        delay = None
        if self.respect_retry_after_header and response is not None:
            delay = self.get_retry_after(response)
        if delay is None:
            delay = self.get_backoff_time()
        if delay > 0:
            time.sleep(delay)
        hooks = _HOOKS.get()
        if hooks is not None:
            hooks.attempt_starting()


def make_session(*, max_retries: int = 5, backoff_factor: float = 0.25,
                 backoff_max: float = 30.0, session: requests.Session | None = None,
                 prefixes: tuple[str, ...] = ("http://", "https://")) -> requests.Session:
    """A ``requests`` session whose adapter retries with :class:`AccountedRetry`.

    Parameters
    ----------
    max_retries : int, default 5
        Retries after the first attempt (total, over every kind of failure).
    backoff_factor : float, default 0.25
        Seconds; see :func:`backoff_delay`.
    backoff_max : float, default 30.0
        Cap of one backoff wait, in seconds.
    session : requests.Session, optional
        Mount the adapter on this session instead of a new one.
    prefixes : tuple of str
        URL prefixes the adapter is mounted for.

    Returns
    -------
    requests.Session
    """
    retry = AccountedRetry(
        total=max_retries, connect=None, read=None, status=None, other=None, redirect=0,
        allowed_methods=frozenset({"GET", "POST"}), status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor, backoff_max=backoff_max, raise_on_status=False,
        respect_retry_after_header=True)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
    for prefix in prefixes:
        session.mount(prefix, adapter)
    return session
