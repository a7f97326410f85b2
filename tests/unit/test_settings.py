"""Settings: typed, frozen, read from CARDPULSE_* and failing with a readable message."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPULSE_API_PORT", "9001")
    monkeypatch.setenv("CARDPULSE_KAFKA_BOOTSTRAP", " ")
    settings = load_settings()
    assert settings.api_port == 9001
    assert settings.kafka_bootstrap is None
    assert settings.usage_topic == "cardpulse.usage"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.api_port = 1


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPULSE_API_PORT", "eighty")
    with pytest.raises(SettingsError, match="CARDPULSE_API_PORT"):
        load_settings()


def test_missing_services_are_explained() -> None:
    with pytest.raises(SettingsError, match="CARDPULSE_DATABASE_URL is not set"):
        Settings(database_url=None).require_database()


@pytest.mark.parametrize("size", ["lots", "0MB", "1 GB", "512mb"])
def test_shared_buffers_must_be_a_postgres_size(monkeypatch: pytest.MonkeyPatch,
                                                size: str) -> None:
    monkeypatch.setenv("CARDPULSE_POSTGRES_SHARED_BUFFERS", size)
    with pytest.raises(SettingsError, match="CARDPULSE_POSTGRES_SHARED_BUFFERS"):
        load_settings()


def test_shared_buffers_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().postgres_shared_buffers == "256MB"
    monkeypatch.setenv("CARDPULSE_POSTGRES_SHARED_BUFFERS", "1GB")
    assert load_settings().postgres_shared_buffers == "1GB"
