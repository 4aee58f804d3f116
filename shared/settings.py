"""Process settings, read from `FISCUS_*` environment variables (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLACEHOLDER_PASSWORD = "fiscus-dev"
# The development key that seals webhook endpoint secrets at rest (a Fernet key);
# production refuses it.
PLACEHOLDER_WEBHOOKS_SECRET_KEY = "QmMNbV9xYnQyt8M2Xmq3sDpoZhMIUDBL_UO2SoQhGC0="

ServiceName = Literal["gateway", "dataset", "policy", "simulation", "aggregation", "webhooks"]
SERVICES: tuple[ServiceName, ...] = (
    "gateway",
    "dataset",
    "policy",
    "simulation",
    "aggregation",
    "webhooks",
)


class Settings(BaseSettings):
    """Everything a Fiscus process is configured with."""

    model_config = SettingsConfigDict(env_prefix="FISCUS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    # Administrative connection: used by migrations only, never by a running service.
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/fiscus"
    # Each service logs in as its own role `fiscus_<service>` with this password.
    db_password: SecretStr = SecretStr(PLACEHOLDER_PASSWORD)
    db_pool_size: int = 5
    # Bound on opening a database connection, so that an unreachable database is a quick
    # 503 (HTTP) or a wait in place (consumers), never a hang.
    db_connect_timeout_seconds: float = 5.0

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = "fiscus.events"
    dead_letter_exchange: str = "fiscus.dead-letter"
    prefetch: int = 4
    delivery_limit: int = 5
    # How long a consumer retries a message in place while a dependency (database, broker)
    # is unreachable, before the failure counts as a delivery attempt.
    outage_patience_seconds: float = 300.0
    outbox_poll_seconds: float = 0.2
    outbox_batch_size: int = 100
    # After a commit wakes it, the relay waits this long so that events committed
    # together (a burst of requests) are published in one batch.
    outbox_linger_seconds: float = 0.01

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis key the gateway writes starts with this (one prefix per stack or test run).
    redis_key_prefix: str = "fiscus"
    # Bound on every Redis call, so that a Redis outage is a quick 503, never a hang.
    redis_timeout_seconds: float = 1.0

    # Per API key, on Redis (moving window); a key may carry its own limit and quota.
    rate_limit_enabled: bool = True
    default_rate_limit: str = "600/minute"
    # Simulations a key may submit per 24 hours; None means no quota.
    default_daily_simulation_quota: int | None = None
    # The dataset PolicyEngine API v1's economy route uses when a call names none (or names
    # v1's `enhanced_cps` / `default`); None: such a call is refused, naming `dataset`.
    v1_default_dataset_id: str | None = None
    # How long a POST with an Idempotency-Key is remembered.
    idempotency_ttl_seconds: float = 24 * 3600
    # A request still in flight after this long is presumed lost; its key may be reused.
    idempotency_lock_seconds: float = 120.0

    data_dir: Path = Path("var/data")
    storage_url: str = ""

    # Address HTTP processes bind to.
    host: str = "127.0.0.1"
    # Where the gateway reaches each service; empty means 127.0.0.1 on the service's port.
    dataset_url: str = ""
    policy_url: str = ""
    simulation_url: str = ""
    aggregation_url: str = ""
    webhooks_url: str = ""
    gateway_port: int = 8000
    dataset_port: int = 8001
    policy_port: int = 8002
    simulation_port: int = 8003
    aggregation_port: int = 8004
    webhooks_port: int = 8005
    worker_port: int = 8013
    # The households worker process (household calculations; /readyz once warm).
    households_port: int = 8012
    # Household calculations arriving within this many milliseconds of the first of a
    # batch are calculated together (at most household_batch_max), then split back.
    household_batch_ms: float = 5.0
    household_batch_max: int = 64
    # Household answers a households worker keeps, to answer an identical calculation again.
    household_answers_kept: int = 10_000
    # The simulation API answers 504 when no households worker replied in this time.
    household_timeout_seconds: float = 45.0

    admin_api_key: SecretStr | None = None
    # Bearer JWTs beside API keys: verified with this HS256 secret, or with the keys of a
    # JWKS (URL or file; RS256/ES256...). None of the three set: JWTs are refused.
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str = ""
    jwt_jwks_file: Path | None = None
    # Checked when set; `exp` is always required and checked.
    jwt_audience: str = ""
    jwt_issuer: str = ""
    # The claim that carries the role (admin, user or readonly); `sub` names the caller.
    jwt_role_claim: str = "role"
    # The most households a partition holds (about; states are never split): the bound
    # on a worker's memory. Within it, partitions are planned from the cost of a run,
    # fixed seconds plus seconds per household (benchmarks/partition_costs.py measures
    # them), and the workers sharing them (domain/partitions.py).
    partition_households: int = 25_000
    partition_fixed_seconds: float = 42.0
    partition_household_seconds: float = 0.02
    # A worker keeps the baselines it ran or read last in memory, up to this many bytes of
    # values (about 12 MB per 1,000 households); all of them stay in object storage.
    baseline_memory_bytes: int = 1024 * 1024 * 1024
    # Simulation worker processes `make up` starts (each holds about 3 GB when warm), and
    # the workers the partition plan keeps busy.
    workers: int = 1
    # How long the simulation API waits for a just-registered dataset or policy to reach it.
    projection_wait_seconds: float = 10.0
    upload_max_bytes: int = 512 * 1024 * 1024
    # A comment line on an idle SSE stream this often keeps proxies from closing it.
    sse_heartbeat_seconds: float = 15.0

    # Webhooks: seconds before each attempt of a delivery (the first after the event),
    # in the spirit of Standard Webhooks; each delay is spread by +/- the jitter fraction.
    webhooks_retry_schedule: list[float] = [0, 5, 300, 1800, 7200, 18000, 36000]
    webhooks_retry_jitter: float = 0.1
    # Consecutive failed attempts (across deliveries) after which an endpoint is disabled.
    webhooks_disable_after_failures: int = 15
    # Lets endpoints resolve to loopback, private and link-local addresses (development, tests).
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = 10.0
    webhooks_response_max_bytes: int = 64 * 1024
    webhooks_poll_seconds: float = 1.0
    # Seals each endpoint's signing secret in the database (Fernet: AES-128-CBC with an
    # HMAC-SHA256); `python -c "from cryptography.fernet import Fernet;
    # print(Fernet.generate_key().decode())"` makes one.
    webhooks_secret_key: SecretStr = SecretStr(PLACEHOLDER_WEBHOOKS_SECRET_KEY)
    webhooks_batch_size: int = 20

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment == "production":
            if self.db_password.get_secret_value() == PLACEHOLDER_PASSWORD:
                raise ValueError("FISCUS_DB_PASSWORD must be set in production")
            if self.webhooks_secret_key.get_secret_value() == PLACEHOLDER_WEBHOOKS_SECRET_KEY:
                raise ValueError("FISCUS_WEBHOOKS_SECRET_KEY must be set in production")
            if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("FISCUS_JWT_SECRET must be at least 32 characters in production")
            if self.admin_api_key is not None and len(self.admin_api_key.get_secret_value()) < 24:
                raise ValueError(
                    "FISCUS_ADMIN_API_KEY must be at least 24 characters in production"
                )
        return self

    def service_database_url(self, service: ServiceName) -> str:
        """The URL a service connects with: its own role on the shared database."""
        url = make_url(self.database_url).set(
            username=f"fiscus_{service}", password=self.db_password.get_secret_value()
        )
        return url.render_as_string(hide_password=False)

    def port_of(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def service_url(self, service: ServiceName) -> str:
        configured: str = getattr(self, f"{service}_url", "")
        return configured.rstrip("/") or f"http://127.0.0.1:{self.port_of(service)}"

    @property
    def resolved_storage_url(self) -> str:
        """Root under which datasets and results are stored (fsspec URL)."""
        if self.storage_url:
            return self.storage_url.rstrip("/")
        return f"file://{self.data_dir.resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
