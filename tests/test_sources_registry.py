"""Sources by name: the built-ins, the emulator shortcut, clear errors, registration."""

import pytest

from candlekit.sources import (
    EMULATOR_URL,
    SOURCES,
    Hydromancer,
    Hyperliquid,
    Source,
    SourceConfigError,
    get_source,
    register_source,
)


def test_builtin_names():
    assert {"hyperliquid", "hydromancer", "emulator", "emulator-hydromancer"} <= set(SOURCES)
    hl = get_source("hyperliquid")
    assert isinstance(hl, Hyperliquid) and hl.base_url == "https://api.hyperliquid.xyz"
    assert get_source(" Hyperliquid ").name == "hyperliquid"


def test_the_emulator_is_hyperliquid_on_the_local_port_unless_told_otherwise():
    emu = get_source("emulator")
    assert type(emu) is Hyperliquid and emu.base_url == EMULATOR_URL == "http://127.0.0.1:8731"
    assert get_source("emulator", base_url="http://127.0.0.1:9999").base_url == \
        "http://127.0.0.1:9999"
    assert get_source("emulator", timeout=2.0).timeout == 2.0


def test_the_hydromancer_emulator_needs_no_real_key(monkeypatch):
    monkeypatch.delenv("HYDROMANCER_API_KEY", raising=False)
    hm = get_source("emulator-hydromancer")
    assert isinstance(hm, Hydromancer) and hm.base_url == EMULATOR_URL
    assert hm._headers()["Authorization"] == "Bearer candlekit-emulator"


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(SourceConfigError, match="Unknown source 'binance'") as info:
        get_source("binance")
    assert "emulator, emulator-hydromancer, hydromancer, hyperliquid" in str(info.value)
    with pytest.raises(SourceConfigError, match="Unknown source"):
        get_source(None)


def test_a_source_instance_passes_through():
    hl = Hyperliquid("http://127.0.0.1:9")
    assert get_source(hl) is hl
    with pytest.raises(SourceConfigError, match="cannot apply"):
        get_source(hl, timeout=1.0)


def test_register_source_adds_a_name():
    @register_source("Test-Source")
    def factory(**kwargs) -> Source:
        return Hyperliquid("http://127.0.0.1:9", **kwargs)

    try:
        assert SOURCES["test-source"] is factory
        assert isinstance(get_source("test-source"), Hyperliquid)
    finally:
        del SOURCES["test-source"]
    with pytest.raises(SourceConfigError):
        register_source("")


@pytest.mark.parametrize("kwargs, text", [
    ({"base_url": "ftp://example.com"}, "base_url"),
    ({"timeout": 0}, "timeout"),
    ({"max_retries": -1}, "max_retries"),
    ({"confirm_empty": -2}, "confirm_empty"),
])
def test_bad_options_are_refused(kwargs, text):
    with pytest.raises(SourceConfigError, match=text):
        Hyperliquid(**kwargs)
