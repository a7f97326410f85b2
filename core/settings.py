"""The one settings class of CardPulse, read from `CARDPULSE_*` environment variables.

Every process builds it once, in its composition root, through `get_settings()`; nothing reads
the environment at import time. `cardpulse up` resolves the embedded services and hands their
addresses to its children through the same variables, so a child needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.operators import OPERATORS

Port = Annotated[int, Field(ge=0, le=65535)]


@dataclass(frozen=True)
class OperatorPolicy:
    """How CardPulse treats one operator: per-card cooldown, rate, in-flight calls, batch
    size, and the day of the month its billing cycle starts (Beijing time)."""

    cooldown_s: float
    rate_per_s: float
    in_flight: int
    max_batch: int
    cycle_day: int

_ONE_OPERATOR = "|".join(OPERATORS)
_OPERATOR_LIST = rf"^(({_ONE_OPERATOR})(,({_ONE_OPERATOR}))*)?$"


class SettingsError(RuntimeError):
    """Raised with a readable message when the environment holds an invalid setting."""


class Settings(BaseSettings):
    """Typed, frozen configuration shared by every CardPulse process."""

    model_config = SettingsConfigDict(env_prefix="CARDPULSE_", frozen=True, extra="ignore")

    state_dir: Path = Path(".cardpulse")
    host: str = "127.0.0.1"
    api_port: Port = 8000
    sim_port: Port = 8100

    kafka_bootstrap: str | None = None
    kafka_port: Port = 0
    kafka_session_timeout_s: float = Field(default=6.0, gt=0)
    database_url: str | None = None
    postgres_port: Port = 0
    postgres_fsync: bool = True
    # the embedded PostgreSQL's buffer cache (1GB measured within the noise of 256MB at 1M
    # cards, see BENCHMARKS.md)
    postgres_shared_buffers: str = Field(default="256MB", pattern=r"^[1-9][0-9]*(kB|MB|GB)$")

    admin_token: SecretStr | None = None

    topic_prefix: str = Field(default="cardpulse", pattern=r"^[A-Za-z0-9._-]+$")
    usage_partitions: int = Field(default=8, ge=1, le=256)
    worker_group: str = "cardpulse-usage"
    workers: int = Field(default=1, ge=1, le=16)  # stream workers `up` starts, one group
    worker_index: int = Field(default=0, ge=0)  # set by `up` for each worker it starts
    worker_take_messages: int = Field(default=20, ge=1, le=10_000)
    worker_batch_within_s: float = Field(default=0.05, gt=0)
    micro_batch_records: int = Field(default=500, ge=1, le=10_000)

    push_max_records: int = Field(default=10_000, ge=1)
    push_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    push_max_skew_s: int = Field(default=300, ge=1)
    push_secret_grace_s: int = Field(default=86_400, ge=0)
    api_rate_per_s: float = Field(default=50.0, gt=0)
    api_rate_burst: float = Field(default=100.0, ge=1)
    default_timezone: str = "Asia/Shanghai"

    sim_cooldown_s: float = Field(default=180.0, ge=0)
    worker_metrics_port: Port = 0  # 0: no metrics endpoint (`up` picks free ports)
    controls_metrics_port: Port = 0
    # Every stream worker's metrics port, set by `up` for the console's health page.
    worker_metrics_ports: str = Field(default="", pattern=r"^([0-9]{1,5}(,[0-9]{1,5})*)?$")
    # Grafana with the dashboards of dashboards/ (docker-compose: http://localhost:3000);
    # unset, the console shows no links to it.
    grafana_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")

    rollover_check_s: float = Field(default=5.0, gt=0)
    # The delivery engine (§6 I): the timeout sweep (I-42, within 60 s of a deadline), the
    # queue poll (I-37, platform clock) and a seed for the assignment draws (tests only).
    delivery_timeout_check_s: float = Field(default=5.0, gt=0, le=60)
    delivery_queue_poll_s: float = Field(default=3600.0, gt=0)
    test_random_seed: int | None = None
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=10, ge=1)
    # Delivery reminders by email: the relay, smtp://[user[:password]@]host[:port]
    # [?starttls=required] or smtps://…; unset, email reminders are recorded `no_smtp`.
    smtp_url: SecretStr | None = None
    smtp_from: str = Field(default="CardPulse <noreply@cardpulse.invalid>", max_length=200)
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    test_clock: bool = False
    session_ttl_s: float = Field(default=8 * 3600.0, gt=0)  # a console login lasts a day's work
    cookie_secure: bool = False  # set behind HTTPS: the session cookie then goes over TLS only

    operator_base_url: str | None = None  # default: the simulator `up` starts
    onelink_appid: str = "cardpulse"
    onelink_password: SecretStr = SecretStr("simulator")
    jasper_username: str = "cardpulse"
    jasper_api_key: SecretStr = SecretStr("simulator")
    ctcc_user_id: str = "cardpulse"
    ctcc_password: SecretStr = SecretStr("simulator")
    ctcc_key: SecretStr = SecretStr("cardpulse")  # the 9-character DES secret of the account

    # The payment channel (G2): its API base, default the simulator's `/_pay` that `up`
    # starts, and the secret its notifications are signed with (`up` generates one when unset).
    payment_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    payment_secret: SecretStr | None = None
    # Where the channel sends its notifications (default: this API's /v1/payments/notify).
    payment_notify_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # G2-15 (proposed): the smallest withdrawal and the fee kept from a payout.
    withdrawal_min_fen: int = Field(default=100, ge=1)
    withdrawal_fee_bp: int = Field(default=0, ge=0, le=10_000)
    # G2-01/G1-17: the enterprise whose unopened cards are the stock card purchases take from.
    card_stock_enterprise: str = Field(default="stock", min_length=1, max_length=64)

    # Each operator's own policy (connectors/DIALECTS.md): the per-card cooldown between two
    # changes, calls per second, calls in flight, cards per batch, the billing-cycle day.
    onelink_cooldown_s: float = Field(default=180.0, ge=0, le=1800)
    onelink_rate_per_s: float = Field(default=10.0, gt=0)
    onelink_in_flight: int = Field(default=4, ge=1)
    onelink_max_batch: int = Field(default=100, ge=1, le=100)
    onelink_cycle_day: int = Field(default=1, ge=1, le=28)
    jasper_cooldown_s: float = Field(default=0.0, ge=0)
    jasper_rate_per_s: float = Field(default=5.0, gt=0)
    jasper_in_flight: int = Field(default=1, ge=1)
    jasper_cycle_day: int = Field(default=27, ge=1, le=28)
    ctcc_cooldown_s: float = Field(default=300.0, ge=0)
    # No CTCC limit is published: 10/s (a change and its confirming read are two calls).
    ctcc_rate_per_s: float = Field(default=10.0, gt=0)
    ctcc_in_flight: int = Field(default=2, ge=1)
    ctcc_cycle_day: int = Field(default=1, ge=1, le=28)

    controls_group: str = "cardpulse-controls"
    controls_max_attempts: int = Field(default=8, ge=1)
    controls_card_cooldown_s: float | None = Field(default=None, ge=0)  # overrides each operator's
    controls_confirm_first_s: float = Field(default=2.0, gt=0)
    controls_confirm_cap_s: float = Field(default=60.0, gt=0)
    controls_confirm_deadline_s: float = Field(default=1800.0, gt=0)
    controls_backoff_base_s: float = Field(default=0.5, gt=0)
    controls_backoff_cap_s: float = Field(default=60.0, gt=0)
    controls_scan_s: float = Field(default=1.0, gt=0)
    controls_scan_limit: int = Field(default=2000, ge=1)
    controls_rate_per_s: float | None = Field(default=None, gt=0)
    poll_operators: str = Field(default="", pattern=_OPERATOR_LIST)
    poll_interval_s: float = Field(default=60.0, gt=0)
    poll_close_delay_s: float = Field(default=7200.0, ge=0)
    # I-47: the largest attachment of a delivery project (413 above it).
    delivery_file_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)

    @field_validator("ctcc_key")
    @classmethod
    def _nine_characters(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) != 9:
            raise ValueError("the China Telecom DES key has exactly 9 characters")
        return value

    def operator_policy(self, operator: str) -> OperatorPolicy:
        """The reconciler's and poller's policy toward one operator; the CARDPULSE_CONTROLS_*
        overrides (cooldown, rate) win when set."""
        own = {
            "onelink": OperatorPolicy(self.onelink_cooldown_s, self.onelink_rate_per_s,
                                      self.onelink_in_flight, self.onelink_max_batch,
                                      self.onelink_cycle_day),
            "jasper": OperatorPolicy(self.jasper_cooldown_s, self.jasper_rate_per_s,
                                     self.jasper_in_flight, 1, self.jasper_cycle_day),
            "ctcc": OperatorPolicy(self.ctcc_cooldown_s, self.ctcc_rate_per_s,
                                   self.ctcc_in_flight, 1, self.ctcc_cycle_day),
        }[operator]
        return replace(
            own,
            cooldown_s=own.cooldown_s if self.controls_card_cooldown_s is None
            else self.controls_card_cooldown_s,
            rate_per_s=self.controls_rate_per_s or own.rate_per_s)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("smtp://",
                                                                           "smtps://")):
            raise ValueError("the mail relay is smtp://[user[:password]@]host[:port] or "
                             "smtps://…")
        return value

    @field_validator("kafka_bootstrap", "database_url", "grafana_url", "payment_base_url",
                     "payment_secret", "smtp_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def usage_topic(self) -> str:
        """The topic that carries usage micro-batches, keyed (partitioned) by ICCID."""
        return f"{self.topic_prefix}.usage"

    @property
    def desired_topic(self) -> str:
        """Desired card states (stop reasons) for the controls, keyed by ICCID."""
        return f"{self.topic_prefix}.desired-state"

    @property
    def dead_letter_topic(self) -> str:
        """Input the streams kept aside, with the reason (mirrors the dead_letters table)."""
        return f"{self.topic_prefix}.dead-letters"

    @property
    def alerts_topic(self) -> str:
        """Quota warnings, keyed by enterprise."""
        return f"{self.topic_prefix}.alerts"

    @property
    def orders_topic(self) -> str:
        """Business events of orders, payments and wallets (`order_paid`, `card_recharged` …),
        keyed by their subject, published from the outbox (store/outbox.py)."""
        return f"{self.topic_prefix}.orders"

    @property
    def delivery_topic(self) -> str:
        """Delivery-workflow events (`project_started`, `node_entered` … I-63), keyed by
        project, published from the outbox (store/delivery/events.py)."""
        return f"{self.topic_prefix}.delivery"

    @property
    def run_dir(self) -> Path:
        """Where processes leave readiness markers and the supervisor its pid file."""
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def polled_operators(self) -> list[str]:
        """Operators whose usage is polled instead of pushed (CARDPULSE_POLL_OPERATORS)."""
        return [op for op in self.poll_operators.split(",") if op]

    @property
    def peer_metrics_ports(self) -> list[int]:
        """The stream workers' metrics ports as far as this process knows them: those `up`
        handed out, else CARDPULSE_WORKER_METRICS_PORT + i for each worker."""
        if self.worker_metrics_ports:
            return [int(port) for port in self.worker_metrics_ports.split(",")]
        if self.worker_metrics_port:
            return [self.worker_metrics_port + i for i in range(self.workers)]
        return []

    @property
    def operator_url(self) -> str:
        return self.operator_base_url or f"http://{self.host}:{self.sim_port}"

    @property
    def notify_url(self) -> str:
        """The URL the payment channel notifies (`POST /v1/payments/notify`)."""
        return self.payment_notify_url or (
            f"http://{self.host}:{self.api_port}/v1/payments/notify")

    @property
    def payment_url(self) -> str:
        """The payment channel's API base (`connectors.payments`)."""
        return (self.payment_base_url or f"http://{self.host}:{self.sim_port}/_pay").rstrip("/")

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap:
            raise SettingsError(
                "CARDPULSE_KAFKA_BOOTSTRAP is not set; start through `cardpulse up`"
            )
        return self.kafka_bootstrap

    def require_database(self) -> str:
        if not self.database_url:
            raise SettingsError("CARDPULSE_DATABASE_URL is not set; start through `cardpulse up`")
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus overrides, turning errors into one message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"CARDPULSE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (tests call `get_settings.cache_clear()`)."""
    return load_settings()
