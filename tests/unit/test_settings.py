"""Settings: typed, frozen, read from CARDPULSE_* and failing with a readable message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardpulse.supervisor.up import payment_secret
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


def test_the_payment_channel_defaults_to_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPULSE_SIM_PORT", "8111")
    monkeypatch.setenv("CARDPULSE_PAYMENT_SECRET", " ")
    settings = load_settings()
    assert settings.payment_url == "http://127.0.0.1:8111/_pay"
    assert settings.payment_secret is None
    monkeypatch.setenv("CARDPULSE_PAYMENT_BASE_URL", "https://pay.example.com/api/")
    assert load_settings().payment_url == "https://pay.example.com/api"
    monkeypatch.setenv("CARDPULSE_PAYMENT_BASE_URL", "pay.example.com")
    with pytest.raises(SettingsError, match="CARDPULSE_PAYMENT_BASE_URL"):
        load_settings()


def test_up_keeps_a_generated_payment_secret(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDPULSE_PAYMENT_SECRET", raising=False)
    settings = Settings(state_dir=tmp_path)
    secret = payment_secret(settings)
    assert len(secret) >= 32 and payment_secret(settings) == secret
    assert (tmp_path / "payment-secret").stat().st_mode & 0o777 == 0o600
    given = load_settings(state_dir=tmp_path, payment_secret="from-the-environment")
    assert payment_secret(given) == "from-the-environment"


@pytest.mark.req("X-04")
def test_the_mail_relay_is_optional_and_must_be_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPULSE_SMTP_URL", "")  # docker-compose's default: none
    assert load_settings().smtp_url is None
    monkeypatch.setenv("CARDPULSE_SMTP_URL", "smtps://me:secret@relay.example")
    relay = load_settings().smtp_url
    assert relay is not None and "secret" not in repr(relay)
    monkeypatch.setenv("CARDPULSE_SMTP_URL", "relay.example:25")
    with pytest.raises(SettingsError, match="CARDPULSE_SMTP_URL"):
        load_settings()
