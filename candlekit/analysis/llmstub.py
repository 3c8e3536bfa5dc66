"""A local OpenAI-compatible chat server on 127.0.0.1, for tests and demos of the LLM path.

:class:`LLMStub` serves ``POST /v1/chat/completions`` and ``GET /v1/models`` the way
OpenAI's API (and Ollama's, vLLM's, llama.cpp's OpenAI-compatible servers) do, from a
stdlib HTTP server in a thread. It does not run a model: it reads the facts JSON out of
candlekit's prompt and answers in one of these modes:

``"faithful"``
    Prose that uses only the facts' printed numbers (the guard accepts it).
``"invented"``
    The same prose plus a price level no fact has (the guard rejects it).
``"error"``
    HTTP 500 with an OpenAI-style error body.
``"no_seed"``
    Faithful, but refuses requests carrying ``seed`` with HTTP 400 (as some servers do).

or with ``reply=``: a fixed text, or a function of the request body returning the text.
Every request body is kept in :attr:`LLMStub.requests`.

Examples
--------
>>> with LLMStub(mode="faithful") as stub:                        # doctest: +SKIP
...     ck.analyze(df, llm=LLM("stub", base_url=stub.url))
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MODES", "LLMStub", "faithful_text", "invented_level"]

MODES = ("faithful", "invented", "error", "no_seed")
_FACTS_RE = re.compile(r"```json\n(?P<doc>.*?)\n```", re.DOTALL)


def _document(body: dict[str, Any]) -> dict[str, Any]:
    """The facts document candlekit put in the last user message ({} when absent)."""
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            m = _FACTS_RE.search(str(msg.get("content", "")))
            if m:
                try:
                    return json.loads(m.group("doc"))
                except json.JSONDecodeError:
                    return {}
    return {}


def faithful_text(doc: dict[str, Any]) -> str:
    """Markdown that repeats the printed facts of ``doc`` and invents nothing."""
    series = doc.get("series") or {}
    facts: dict[str, str] = doc.get("facts") or {}
    lines = []
    if series.get("synthetic"):
        lines.append("**Synthetic data**: these candles are not real prices.\n")
    lines.append(f"### {series.get('symbol', '?')} on the {series.get('interval', '?')} chart")
    if "close" in facts:
        lines.append(f"The last closed candle closed at {facts['close']}.")
    for name in sorted(facts):
        if name == "close":
            continue
        lines.append(f"- {name}: {facts[name]}")
    call = doc.get("call") or {}
    if call:
        lines.append(f"\n### Call\nThe call is {call.get('direction')}.")
    for caveat in doc.get("caveats") or []:
        lines.append(f"- Caveat: {caveat}")
    return "\n".join(lines)


def invented_level(doc: dict[str, Any]) -> str:
    """A price level near the close that no fact has, printed with thousands separators."""
    facts = doc.get("facts") or {}
    digits = re.sub(r"[^\d.\-]", "", str(facts.get("close", "67450")))
    try:
        close = abs(float(digits)) or 67450.0
    except ValueError:
        close = 67450.0
    printed = set(facts.values())
    level = round(close * 1.0731)
    while f"{level:,}" in printed or f"{level}" in printed:
        level += 7
    return f"{level:,}"


class _Handler(BaseHTTPRequestHandler):
    server_version = "candlekit-llm-stub/1"
    stub: LLMStub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": self.stub.model, "object": "model", "created": 0,
                 "owned_by": "candlekit"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}",
                                       "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}",
                                       "type": "invalid_request_error"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON",
                                       "type": "invalid_request_error"}})
            return
        stub = self.stub
        with stub._lock:
            stub.requests.append(body)
            stub.headers.append({k.lower(): v for k, v in self.headers.items()})
        mode = stub.mode
        if mode == "error":
            self._send(500, {"error": {"message": "the stub model failed on purpose",
                                       "type": "server_error"}})
            return
        if mode == "no_seed" and "seed" in body:
            self._send(400, {"error": {"message": "Unrecognized request argument supplied: "
                                       "seed", "type": "invalid_request_error",
                                       "param": "seed"}})
            return
        text = stub.answer(body)
        prompt_tokens = sum(len(str(m.get("content", "")).split())
                            for m in body.get("messages") or [])
        completion_tokens = len(text.split())
        self._send(200, {
            "id": f"chatcmpl-stub-{len(stub.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", stub.model),
            "system_fingerprint": "candlekit-stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}})


class LLMStub:
    """An OpenAI-compatible chat server on 127.0.0.1 that narrates candlekit's facts.

    Parameters
    ----------
    mode : {"faithful", "invented", "error", "no_seed"}, default "faithful"
        How it answers (see the module docstring); may be changed while it runs.
    reply : str or callable, optional
        A fixed answer, or ``reply(body) -> str`` of the request body; overrides ``mode``
        for successful answers.
    model : str, default "candlekit-stub"
        The model id ``/v1/models`` lists.
    host : str, default "127.0.0.1"
    port : int, default 0
        0 picks a free port.

    Attributes
    ----------
    url : str
        The base URL to give the ``openai`` client (``http://127.0.0.1:PORT/v1``).
    requests : list of dict
        Every chat request body received, in order.
    headers : list of dict
        Their HTTP headers (names lower-cased).
    """

    def __init__(self, mode: str = "faithful", *, reply: str | Callable[[dict[str, Any]], str]
                 | None = None, model: str = "candlekit-stub", host: str = "127.0.0.1",
                 port: int = 0):
        if mode not in MODES:
            from ..errors import LLMConfigError

            raise LLMConfigError(f"LLMStub mode must be one of {', '.join(MODES)}, got "
                                 f"{mode!r}.")
        self.mode = mode
        self.reply = reply
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, body: dict[str, Any]) -> str:
        """The text the stub answers ``body`` with (in its current mode)."""
        if callable(self.reply):
            return self.reply(body)
        if isinstance(self.reply, str):
            return self.reply
        doc = _document(body)
        text = faithful_text(doc)
        if self.mode == "invented":
            text += f"\n\nExpect strong resistance at {invented_level(doc)}."
        return text

    def start(self) -> LLMStub:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                            name="candlekit-llm-stub")
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LLMStub:  # noqa: PYI034 - a final class
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LLMStub(mode={self.mode!r}, url={self.url!r})"
