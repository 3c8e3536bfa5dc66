"""An optional language model that narrates the facts, and is never trusted with a number.

:func:`narrate` sends an analysis' facts (as JSON, in their printed forms) and the user's
prompt to any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp's server,
LM Studio, ...) through the ``openai`` package (candlekit's ``llm`` extra), at temperature
0 and with a fixed seed. The reply replaces the deterministic narrative only when
:func:`candlekit.analysis.guard.check` finds every number in it among the facts;
otherwise the analysis keeps its own text and the verdict records why. Either way the
prompt, the raw response, the model and the verdict are kept in ``Analysis.llm``.

Identical requests are answered from a cache keyed by a SHA-256 hash of the model, the
prompt and the sampling settings (temperature, seed): by default a per-process memory
cache; :func:`candlekit.run_analysis` uses the store's analysis registry, so a cached
answer survives restarts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import LLMConfigError, MissingDependencyError
from .guard import check
from .model import Analysis, LLMVerdict

__all__ = ["DEFAULT_KEY_ENV", "LLM", "LLMCache", "LLMConfigError", "MemoryCache", "build_messages", "cache_key",
           "narrate", "render_prompt"]

#: Environment variable the API key is read from, unless ``LLM(api_key_env=...)`` says otherwise.
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
#: Environment variable with the default endpoint (e.g. ``http://127.0.0.1:11434/v1``).
URL_ENV = "CANDLEKIT_LLM_URL"

SYSTEM_PROMPT = """\
You are the narrator of candlekit, a market-data toolkit. candlekit has already computed
every fact about one candle series; your only job is to write them up as a short Markdown
analysis for a trader.

Rules, all of which are checked by a program before anything you write is shown:
1. Use only numbers that appear in the FACTS JSON, copied exactly as printed there (same
   digits, same decimals). Do not round, convert, add, subtract, average or estimate
   anything, and do not write any other price level, percentage, count, threshold (not
   even RSI 70/30) or date. A reply containing a number that is not in FACTS is discarded.
2. You may name indicator periods (EMA 20, RSI 14, MACD 12/26/9) and intervals (4h, 1d).
3. Cover the sections listed under SECTIONS, in that order, each under a `###` heading,
   then the caveats and the call. State the call with its track record exactly as given,
   so that nobody mistakes it for a promise.
4. When the data are synthetic, say so at the top.
5. Nothing about the future beyond the call; no advice to buy or sell."""


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class LLMCache(Protocol):
    """Where model responses are kept: any object with these two methods."""

    def get(self, key: str) -> str | None:
        """The cached response for ``key``, or None."""

    def put(self, key: str, *, model: str, prompt: str, response: str) -> None:
        """Keep ``response`` under ``key``."""


class MemoryCache:
    """A thread-safe in-process :class:`LLMCache` (the default of :class:`LLM`)."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: str, *, model: str, prompt: str, response: str) -> None:
        with self._lock:
            self._data[key] = response

    def clear(self) -> None:
        """Forget every response."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_MEMORY = MemoryCache()


@dataclass(frozen=True)
class LLM:
    """An OpenAI-compatible chat model to narrate analyses with.

    Parameters
    ----------
    model : str
        The model name the server knows (``"gpt-4o-mini"``, ``"llama3.1:8b"``, ...).
    base_url : str, optional
        The API root, e.g. ``http://127.0.0.1:11434/v1`` (Ollama),
        ``http://127.0.0.1:8000/v1`` (vLLM, llama.cpp). Default: ``$CANDLEKIT_LLM_URL``,
        else ``$OPENAI_BASE_URL``, else OpenAI's.
    api_key_env : str, default "OPENAI_API_KEY"
        The environment variable holding the API key (never the key itself). Local
        servers need none; OpenAI's endpoint does.
    temperature : float, default 0.0
    seed : int or None, default 0
        Sent where the server supports it (a server refusing ``seed`` is asked again
        without it).
    timeout : float, default 120
        Seconds per request.
    max_retries : int, default 2
        Retries of connection errors, 429 and 5xx (the ``openai`` client's backoff).
    max_tokens : int, default 1500
    cache : LLMCache, optional
        Where responses are kept; default a per-process memory cache.

    Examples
    --------
    >>> LLM("llama3.1:8b", base_url="http://127.0.0.1:11434/v1")
    LLM(model='llama3.1:8b', base_url='http://127.0.0.1:11434/v1', api_key_env='OPENAI_API_KEY', temperature=0.0, seed=0, timeout=120.0, max_retries=2, max_tokens=1500)
    """

    model: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_KEY_ENV
    temperature: float = 0.0
    seed: int | None = 0
    timeout: float = 120.0
    max_retries: int = 2
    max_tokens: int | None = 1500
    cache: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise LLMConfigError(f"llm: a model name is needed, got {self.model!r} (e.g. "
                                 "LLM('llama3.1:8b', base_url='http://127.0.0.1:11434/v1')).")
        if self.base_url is not None and not str(self.base_url).startswith(("http://",
                                                                            "https://")):
            raise LLMConfigError(f"llm: base_url must be an http(s) URL such as "
                                 f"http://127.0.0.1:11434/v1, got {self.base_url!r}.")
        checks = (
            ("temperature", self.temperature, lambda v: _number(v) and v >= 0, "a number >= 0"),
            ("seed", self.seed, lambda v: v is None or _integer(v), "an integer or None"),
            ("timeout", self.timeout, lambda v: _number(v) and v > 0, "seconds > 0"),
            ("max_retries", self.max_retries, lambda v: _integer(v) and v >= 0,
             "an integer >= 0"),
            ("max_tokens", self.max_tokens, lambda v: v is None or (_integer(v) and v > 0),
             "a positive integer or None"),
        )
        for name, value, ok, expected in checks:
            if not ok(value):
                raise LLMConfigError(f"llm: {name} must be {expected}, got {value!r}.")

    @classmethod
    def coerce(cls, value: Any) -> LLM | None:
        """An :class:`LLM` from an LLM, a model name, a mapping of its fields, or None."""
        if value is None or isinstance(value, LLM):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - names)
            if unknown:
                raise LLMConfigError(f"llm: unknown setting(s) {', '.join(unknown)}; use "
                                     f"{', '.join(sorted(names))}.")
            return cls(**value)
        raise LLMConfigError(f"llm must be a model name, an LLM or a mapping, got "
                             f"{type(value).__name__}.")

    @property
    def url(self) -> str | None:
        """The endpoint used: ``base_url``, else the environment's, else None (OpenAI's)."""
        return self.base_url or os.environ.get(URL_ENV) or os.environ.get("OPENAI_BASE_URL")

    def api_key(self) -> str:
        """The API key from the environment; a placeholder for a local server without one.

        Raises
        ------
        LLMConfigError
            When OpenAI's own endpoint is used and the variable is not set.
        """
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.url is None:
            raise LLMConfigError(
                f"llm: no API key: set ${self.api_key_env} for OpenAI's endpoint, or give "
                "base_url (--llm-url) of a local OpenAI-compatible server such as Ollama.")
        return "not-needed"  # local servers ignore it; the openai client insists on one

    def with_cache(self, cache: Any) -> LLM:
        """The same model with responses kept in ``cache``."""
        return dataclasses.replace(self, cache=cache)

    def settings(self) -> dict[str, Any]:
        """The settings that shape a response (recorded with the analysis)."""
        return {"model": self.model, "base_url": self.url, "temperature": self.temperature,
                "seed": self.seed, "max_tokens": self.max_tokens}


def _printed(analysis: Analysis) -> dict[str, str]:
    from . import facts as facts_module

    fn = getattr(facts_module, "printed_facts", None)
    if fn is not None:
        return {str(k): str(v) for k, v in fn(analysis.facts).items()}
    out = facts_module.printed_numbers(analysis.facts)
    if isinstance(out, Mapping):
        return {str(k): str(v) for k, v in out.items()}
    raise TypeError("facts.printed_numbers must return a mapping for the LLM prompt")


def _descriptions(printed: Mapping[str, str]) -> dict[str, str]:
    """What each fact means (the engine's descriptions), so the model reads them right."""
    from . import facts as facts_module

    describe = getattr(facts_module, "describe_fact", None)
    if describe is None:
        return {}
    return {name: text for name in printed if (text := describe(name))}


def build_messages(analysis: Analysis) -> list[dict[str, str]]:
    """The chat messages sent for ``analysis``: the rules, then the facts and the prompt.

    The user message carries a JSON document with the series, the facts in their printed
    forms and what each means, the call, the caveats, the sections asked for, the
    deterministic narrative (to paraphrase) and the user's own prompt.
    """
    call = analysis.call
    printed = _printed(analysis)
    doc = {
        "series": {"symbol": analysis.symbol, "interval": analysis.interval,
                   "as_of": analysis.as_of, "source": analysis.source,
                   "synthetic": bool(analysis.synthetic)},
        "facts": printed,
        "fact_descriptions": _descriptions(printed),
        "call": None if call is None else {
            "direction": call.direction, "p_up": printed.get("call.p_up", printed.get(
                "p_up")), "horizon_bars": call.horizon,
            "reference_close": printed.get("close")},
        "caveats": list(analysis.caveats),
        "sections": list(analysis.sections),
        "reference_narrative": analysis.text,
    }
    user = ("FACTS (JSON):\n```json\n" + json.dumps(doc, indent=1, ensure_ascii=False)
            + "\n```\n\nSECTIONS: " + (", ".join(analysis.sections) or "all")
            + "\n\nUSER PROMPT: " + (analysis.prompt or "(none: a general analysis)"))
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def render_prompt(messages: list[dict[str, str]]) -> str:
    """The messages as one text (what :attr:`LLMVerdict.prompt` records)."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def cache_key(llm: LLM, prompt: str) -> str:
    """SHA-256 hex digest of the model, the prompt and the sampling settings."""
    payload = json.dumps({"model": llm.model, "prompt": prompt, "temperature": llm.temperature,
                          "seed": llm.seed, "max_tokens": llm.max_tokens}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError("openai", "llm",
                                     "Narrating an analysis with a language model") from exc
    return openai


def require_openai() -> None:
    """Raise :class:`~candlekit.errors.MissingDependencyError` unless ``openai`` imports."""
    _openai()


def _complete(llm: LLM, messages: list[dict[str, str]]) -> str:
    """The model's reply (raises the ``openai`` package's errors)."""
    openai = _openai()
    client = openai.OpenAI(base_url=llm.url, api_key=llm.api_key(), timeout=llm.timeout,
                           max_retries=llm.max_retries)
    kwargs: dict[str, Any] = {"model": llm.model, "messages": messages,
                              "temperature": llm.temperature}
    if llm.max_tokens is not None:
        kwargs["max_tokens"] = llm.max_tokens
    try:
        try:
            resp = client.chat.completions.create(
                **kwargs, **({"seed": llm.seed} if llm.seed is not None else {}))
        except openai.BadRequestError as exc:
            if llm.seed is None or "seed" not in str(exc).lower():
                raise
            resp = client.chat.completions.create(**kwargs)  # a server that refuses seed
    finally:
        client.close()
    if not resp.choices:
        return ""
    return resp.choices[0].message.content or ""


def _footer(llm: LLM) -> str:
    return (f"\n\n_Narrated by the language model `{llm.model}` from candlekit's facts; every "
            "number in it was checked against them._")


def narrate(analysis: Analysis, llm: LLM | str | Mapping[str, Any]) -> Analysis:
    """Ask ``llm`` to narrate ``analysis``; keep its prose only when every number checks out.

    Parameters
    ----------
    analysis : Analysis
        A completed analysis (facts, text, call) from :func:`candlekit.analyze`.
    llm : LLM, str or mapping
        The model (a name alone uses ``$CANDLEKIT_LLM_URL`` or OpenAI's endpoint).

    Returns
    -------
    Analysis
        A copy whose ``llm`` is the :class:`~candlekit.analysis.model.LLMVerdict` (model,
        accepted, reason, prompt, response, cached) and whose ``text`` is the model's prose
        when accepted, the deterministic text otherwise. A model that cannot be reached
        is a rejection too (the reason says what failed); the analysis itself never fails
        because of the model.

    Raises
    ------
    MissingDependencyError
        When the ``openai`` package (extra ``llm``) is not installed.
    LLMConfigError
        For unusable settings (no key for OpenAI's endpoint, a bad URL).
    """
    model = LLM.coerce(llm)
    if model is None:
        raise LLMConfigError("narrate needs a model: pass llm=LLM('MODEL', base_url=URL).")
    openai = _openai()
    messages = build_messages(analysis)
    prompt = render_prompt(messages)
    key = cache_key(model, prompt)
    cache = model.cache if model.cache is not None else _MEMORY
    response = cache.get(key)
    cached = response is not None
    if response is None:
        try:
            response = _complete(model, messages)
        except openai.OpenAIError as exc:
            where = model.url or "OpenAI's API"
            reason = f"the model {model.model} at {where} failed: {type(exc).__name__}: {exc}"
            verdict = LLMVerdict(model=model.model, accepted=False, reason=reason,
                                 prompt=prompt, response="", cached=False)
            return dataclasses.replace(analysis, llm=verdict)
        if response.strip():  # an empty answer is not worth keeping
            cache.put(key, model=model.model, prompt=prompt, response=response)
    result = check(response, analysis)
    text = analysis.text
    if result.accepted:
        text = response.strip()
        if analysis.synthetic and "synthetic" not in text.lower():
            text = ("> **SYNTHETIC DATA**: these candles were generated by candlekit's seeded "
                    "market, not real prices.\n\n" + text)
        text += _footer(model)
    verdict = LLMVerdict(model=model.model, accepted=result.accepted, reason=result.reason,
                         prompt=prompt, response=response, cached=cached)
    return dataclasses.replace(analysis, text=text, llm=verdict)
