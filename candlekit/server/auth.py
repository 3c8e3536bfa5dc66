"""Bearer tokens, request body limits and the bind-address rule.

* With a token, every request needs ``Authorization: Bearer <token>``, compared with
  :func:`hmac.compare_digest` (constant time); anything else gets 401. With
  ``public_meta``, ``POST /info`` bodies asking for ``meta``, ``spotMeta`` or ``perpDexs``
  are answered without one, so that the official SDK's ``Info(url)`` can be built before
  its session gets the header (the ``/info`` route checks the token itself).
* Request bodies over ``max_body`` bytes get 413, before they are read whole.
* :func:`check_bind` refuses a non-loopback address without a token unless told
  ``insecure``, and warns when it is told so.
"""

from __future__ import annotations

import hmac
import ipaddress
import warnings
from typing import Any

from ..errors import CandlekitError
from .encode import dumps

__all__ = ["INFO_PATHS", "BindError", "BodyLimitMiddleware", "TokenMiddleware", "check_bind",
           "is_loopback", "token_ok"]

#: Paths of ``POST /info`` (the SDK posts to ``{base_url}/info``; ``/`` is kept too).
INFO_PATHS = ("/info", "/")


class BindError(CandlekitError, ValueError):
    """A server asked to listen beyond this machine without a token."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, *, insecure: bool = False) -> None:
    """Refuse (or warn about) a server reachable from elsewhere without a token.

    Raises
    ------
    BindError
        ``host`` is not a loopback address, no token is set and ``insecure`` is false.
    """
    if is_loopback(host) or token:
        return
    if not insecure:
        raise BindError(
            f"Refusing to serve on {host} without a token: anyone who can reach this "
            "machine could read the store and start backfills. Set a token (--token TOKEN "
            "or $CANDLEKIT_TOKEN; clients send 'Authorization: Bearer TOKEN'), bind "
            "127.0.0.1, or pass --insecure if the network is trusted.")
    warnings.warn(f"candlekit serve: listening on {host} WITHOUT a token (--insecure): "
                  "anyone who can reach this machine can read the store and start backfills.",
                  RuntimeWarning, stacklevel=2)


def token_ok(header: str | bytes | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant time)."""
    if header is None:
        return False
    if isinstance(header, str):
        header = header.encode("latin-1", "replace")
    scheme, _, given = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.strip(), token.encode("utf-8"))


async def _send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    raw = dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": raw})


def unauthorized_body() -> dict[str, Any]:
    """The 401 body (with ``code``/``msg`` for the SDK)."""
    msg = ("Missing or wrong token: send 'Authorization: Bearer <token>' (the token the "
           "server was started with: --token or $CANDLEKIT_TOKEN).")
    return {"error": "unauthorized", "message": msg, "code": 401, "msg": msg}


class TokenMiddleware:
    """ASGI middleware: 401 unless the request has the bearer token (see the module notes).

    ``POST`` to :data:`INFO_PATHS` passes through: that route checks the token after
    reading the body, to let ``public_meta`` requests through.
    """

    def __init__(self, app: Any, *, token: str):
        self.app = app
        self.token = token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and scope.get("path") in INFO_PATHS:
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS" and any(
                k == b"access-control-request-method" for k, _ in scope.get("headers", [])):
            await self.app(scope, receive, send)  # CORS preflight carries no credentials
            return
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), None)
        if not token_ok(header, self.token):
            await _send_json(send, 401, unauthorized_body(),
                             [(b"www-authenticate", b'Bearer realm="candlekit"')])
            return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a request body over ``max_body`` bytes."""

    def __init__(self, app: Any, *, max_body: int):
        self.app = app
        self.max_body = int(max_body)

    def _body(self) -> dict[str, Any]:
        msg = (f"Request body too large: at most {self.max_body} bytes are accepted "
               "(send smaller requests, or start the server with a larger --max-body).")
        return {"error": "body_too_large", "message": msg, "code": 413, "msg": msg}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                too_big = False
            if too_big:
                await _send_json(send, 413, self._body())
                return
        seen = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._body())
