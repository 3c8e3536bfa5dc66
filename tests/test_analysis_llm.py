"""The language-model path over real HTTP: a local OpenAI-compatible stub on 127.0.0.1."""

from __future__ import annotations

import json
import re
import sys

import pandas as pd
import pytest

from candlekit.analysis import analyze, printed_facts
from candlekit.analysis.llm import LLM, MemoryCache, build_messages, cache_key, narrate
from candlekit.analysis.llmstub import LLMStub, invented_level
from candlekit.errors import CandlekitError, LLMConfigError, MissingDependencyError
from candlekit.synthetic import synthetic_candles


@pytest.fixture(scope="module")
def base():
    """A deterministic analysis of synthetic 4h candles (no model)."""
    df = synthetic_candles("BTC", "4h", "2025-06-01", "2026-06-01", seed=5)
    return analyze(df, prompt="levels, then divergence", as_of="2026-05-15")


@pytest.fixture()
def stub():
    with LLMStub("faithful") as s:
        yield s


def _model(stub, name="stub-model", **kw):
    return LLM(name, base_url=stub.url, cache=MemoryCache(), **kw)


def test_faithful_prose_is_accepted_and_replaces_the_text(base, stub):
    out = narrate(base, _model(stub))
    v = out.llm
    assert v.accepted and v.reason == "" and not v.cached and v.model == "stub-model"
    assert out.text != base.text
    assert out.text.startswith(v.response.strip())
    assert "Narrated by the language model `stub-model`" in out.text
    assert out.facts == base.facts and out.call == base.call  # numbers never change
    assert base.llm is None  # narrate returns a copy


def test_invented_numbers_are_rejected_and_the_deterministic_text_is_kept(base, stub):
    stub.mode = "invented"
    out = narrate(base, _model(stub))
    level = invented_level({"facts": printed_facts(base.facts)})
    assert not out.llm.accepted
    assert out.llm.reason == f"the model wrote {level}; no fact has that value"
    assert out.text == base.text
    assert level in out.llm.response  # the rejected prose is kept for inspection


def test_the_request_carries_the_facts_as_json_the_prompt_temperature_0_and_a_seed(
        base, stub, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = narrate(base, _model(stub, seed=42))
    (body,) = stub.requests
    assert body["model"] == "stub-model" and body["temperature"] == 0 and body["seed"] == 42
    system, user = body["messages"]
    assert system["role"] == "system" and "Use only numbers that appear in the FACTS" in \
        system["content"]
    doc = json.loads(re.search(r"```json\n(.*?)\n```", user["content"], re.DOTALL).group(1))
    assert doc["facts"] == printed_facts(base.facts)
    assert doc["fact_descriptions"]["rsi_14"] and set(doc["fact_descriptions"]) <= set(
        doc["facts"])
    assert doc["series"] == {"symbol": "BTC", "interval": "4h", "as_of": base.as_of,
                             "source": "synthetic", "synthetic": True}
    assert doc["sections"] == base.sections and doc["caveats"] == base.caveats
    assert "USER PROMPT: levels, then divergence" in user["content"]
    assert out.llm.prompt == "\n\n".join(f"[{m['role']}]\n{m['content']}"
                                         for m in body["messages"])
    assert stub.headers[0]["authorization"] == "Bearer not-needed"  # a local server: no key


def test_identical_requests_hit_the_cache(base, stub):
    model = _model(stub)
    first = narrate(base, model)
    second = narrate(base, model)
    assert len(stub.requests) == 1
    assert second.llm.cached and not first.llm.cached
    assert second.text == first.text and second.llm.response == first.llm.response
    # another prompt (or another model) is another request
    other = analyze(synthetic_candles("BTC", "4h", "2025-06-01", "2026-06-01", seed=5),
                    prompt="volume", as_of="2026-05-15")
    narrate(other, model)
    narrate(base, LLM("another-model", base_url=stub.url, cache=model.cache))
    assert len(stub.requests) == 3
    key = cache_key(model, first.llm.prompt)
    assert re.fullmatch(r"[0-9a-f]{64}", key) and model.cache.get(key) == first.llm.response


def test_analyze_with_llm_narrates_through_the_stub(stub):
    df = synthetic_candles("ETH", "1h", "2026-01-01", "2026-03-01", seed=2)
    out = analyze(df, llm=_model(stub, "eth-model"))
    assert out.llm is not None and out.llm.accepted and out.model == "eth-model"
    assert out.to_dict()["model"] == "eth-model" and out.to_dict()["llm"]["accepted"] is True


def test_a_failing_server_is_a_recorded_rejection_and_is_not_cached(base, stub):
    stub.mode = "error"
    model = _model(stub, max_retries=0)
    out = narrate(base, model)
    assert not out.llm.accepted and out.text == base.text
    assert out.llm.reason.startswith(f"the model stub-model at {stub.url} failed: "
                                     "InternalServerError")
    assert "failed on purpose" in out.llm.reason
    stub.mode = "faithful"
    assert narrate(base, model).llm.accepted and len(stub.requests) == 2


def test_a_server_refusing_seed_is_asked_again_without_it(base, stub):
    stub.mode = "no_seed"
    out = narrate(base, _model(stub, max_retries=0))
    assert out.llm.accepted
    assert ["seed" in b for b in stub.requests] == [True, False]


def test_synthetic_data_are_labelled_even_when_the_model_forgets(base):
    with LLMStub(reply="The close is " + printed_facts(base.facts)["close"] + ".") as s:
        out = narrate(base, _model(s))
    assert out.llm.accepted
    assert out.text.startswith("> **SYNTHETIC DATA**")


def test_the_api_key_comes_from_the_environment(base, stub, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-test-123")
    narrate(base, _model(stub, api_key_env="MY_LLM_KEY"))
    assert stub.headers[-1]["authorization"] == "Bearer sk-test-123"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("CANDLEKIT_LLM_URL", raising=False)
    with pytest.raises(LLMConfigError, match=r"set \$OPENAI_API_KEY"):
        LLM("gpt-4o-mini").api_key()
    monkeypatch.setenv("CANDLEKIT_LLM_URL", stub.url)
    assert LLM("local").url == stub.url  # the endpoint can come from the environment too


def test_missing_openai_names_the_extra(base, stub, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingDependencyError) as info:
        narrate(base, _model(stub))
    assert isinstance(info.value, ImportError) and isinstance(info.value, CandlekitError)
    assert "pip install 'candlekit[llm]'" in str(info.value) and info.value.extra == "llm"
    assert stub.requests == []


@pytest.mark.parametrize("value, error", [
    ("", "a model name is needed"),
    ({"model": "m", "temprature": 0}, "unknown setting"),
    ({"model": "m", "base_url": "127.0.0.1:11434"}, "must be an http"),
    (3, "must be a model name"),
    ({"model": "m", "temperature": -1}, "temperature must be a number >= 0"),
    ({"model": "m", "seed": "7"}, "seed must be an integer or None"),
    ({"model": "m", "timeout": 0}, "timeout must be seconds > 0"),
    ({"model": "m", "max_retries": True}, "max_retries must be an integer >= 0"),
])
def test_bad_model_settings_are_clear_errors(value, error):
    with pytest.raises(LLMConfigError, match=error):
        LLM.coerce(value)


def test_coerce_and_messages(base):
    assert LLM.coerce("llama3.1:8b") == LLM("llama3.1:8b")
    assert LLM.coerce({"model": "m", "seed": 7}).seed == 7
    assert LLM.coerce(None) is None
    system, user = build_messages(base)
    assert system["role"] == "system" and user["role"] == "user"
    doc = json.loads(re.search(r"```json\n(.*?)\n```", user["content"], re.DOTALL).group(1))
    assert doc["reference_narrative"] == base.text  # the deterministic text, to paraphrase


def test_an_empty_answer_is_rejected_and_not_cached(base):
    with LLMStub(reply="  ") as s:
        model = _model(s)
        first = narrate(base, model)
        second = narrate(base, model)
    assert not first.llm.accepted and first.llm.reason == "the model returned no text"
    assert not second.llm.cached and len(s.requests) == 2 and first.text == base.text


def _natural(body):
    """Prose as a real model writes it: reformatted numbers, dates and periods, no commas."""
    from candlekit.analysis.llmstub import _document

    doc = _document(body)
    f = doc["facts"]
    as_of = pd.Timestamp(f["as_of"]) + pd.Timedelta(milliseconds=1)
    return (f"**{doc['series']['symbol']}** on the 4-hour chart, as of "
            f"{as_of:%B} {as_of.day}, {as_of.year} at {as_of:%H:%M} UTC, closed at "
            f"${f['close'].replace(',', '')}. EMA 20/50/200 stand at {f['ema_20']}, "
            f"{f['ema_50']} and {f['ema_200']}; RSI(14) is {f['rsi_14']} and the MACD "
            f"histogram {f['macd_hist']}. The call is {f['call_direction']} with P(up) "
            f"{f['call_p_up']} over the next {f['call_horizon']} candles.\n\n"
            "1. Trend\n2. Levels")


def test_natural_prose_with_faithful_numbers_is_accepted(base):
    with LLMStub(reply=_natural) as s:
        out = narrate(base, _model(s))
    assert out.llm.accepted, out.llm.reason
    assert "4-hour chart" in out.text


def test_natural_prose_with_one_rounded_number_is_rejected(base):
    close = printed_facts(base.facts)["close"].replace(",", "")
    near = int(round(float(close), -2))
    near = near - 100 if str(near) == close else near

    def rounded(body):
        return _natural(body).replace(f"${close}", f"${near}")

    with LLMStub(reply=rounded) as s:
        out = narrate(base, _model(s))
    assert not out.llm.accepted
    assert out.llm.reason == f"the model wrote {near}; no fact has that value"
