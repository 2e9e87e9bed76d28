"""One settings object, read from `CLOUDLET_*` environment variables and an optional TOML file.

Precedence: explicit keyword arguments, then environment, then the TOML file named by
`CLOUDLET_CONFIG`, then defaults. The secret key is generated on first start and kept in the
data dir so every worker and every restart signs with the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDLET_", extra="ignore")

    data_dir: Path = Field(default=Path(".cloudlet"), description="Database, blobs and secret")
    database_url: str | None = Field(
        default=None, description="`sqlite:///path` (default: cloudlet.db in the data dir) "
        "or `postgresql://user@host/db`"
    )
    db_busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a write waits for a lock another connection "
        "holds (SQLite busy_timeout, PostgreSQL lock_timeout) before it is answered 503"
    )
    secret_key: str | None = Field(
        default=None, description="Signs session JWTs; generated into the data dir if unset"
    )
    host: str = Field(default="127.0.0.1", description="Address `cloudlet serve` binds")
    port: int = Field(default=8000, description="Port `cloudlet serve` binds")
    workers: int = Field(default=1, ge=1, description="API worker processes (>1 needs PostgreSQL)")
    public_url: str | None = Field(
        default=None, description="External base URL used in absolute links (behind a proxy)"
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="Proxies whose X-Forwarded-For is trusted"
    )
    registration_open: bool = Field(default=False, description="Anyone may sign up")
    admin_username: str = Field(default="admin", description="Admin created on first start")
    admin_password: str | None = Field(
        default=None, description="Its password (generated and printed once if unset)"
    )
    session_ttl: int = Field(default=14 * 86400, ge=60, description="Login session lifetime (s)")
    page_size: int = Field(default=50, ge=1, description="Default `limit` of list endpoints")
    max_page_size: int = Field(default=1000, ge=1, description="Cap on `limit`")
    max_json_body: int = Field(
        default=1 << 20, ge=1024, description="Largest JSON or form body accepted (bytes)"
    )
    login_max_failures_account: int = Field(
        default=5, ge=1, description="Failed logins per account before throttling"
    )
    login_max_failures_ip: int = Field(
        default=30, ge=1, description="Failed logins per client address before throttling"
    )
    login_throttle_window: int = Field(
        default=300, ge=1, description="Seconds a failure counts, and the lockout length"
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="argon2id passes per password hash"
    )
    password_hash_memory_kib: int = Field(
        default=65536, ge=1024, description="argon2id memory per password hash (KiB)"
    )
    token_touch_interval: int = Field(
        default=60, ge=1, description="`last_used` of a token is written at most this often (s)"
    )
    idempotency_ttl: int = Field(
        default=86400, ge=60, description="How long an Idempotency-Key answer is replayed (s)"
    )
    redis_url: str | None = Field(
        default=None, description="`redis://host:6379/0`: the event bus for several workers"
    )
    redis_prefix: str = Field(default="cloudlet", description="Prefix of Cloudlet's Redis keys")
    events_history_size: int = Field(
        default=1000, ge=1, description="Events each topic keeps for resuming clients"
    )
    events_history_age: int = Field(
        default=3600, ge=1, description="Seconds an event stays in a topic's history"
    )
    events_queue_size: int = Field(
        default=1000, ge=1, description="Events queued per connection before it counts as slow"
    )
    events_ping_interval: int = Field(
        default=15, ge=1, description="Seconds between server pings on idle event streams"
    )
    events_recheck_interval: int = Field(
        default=5, ge=1, description="Seconds between re-checks of a stream's token and rights"
    )
    max_write_body: int = Field(
        default=64 << 20, ge=1024,
        description="Largest point-write body accepted, after decompression (bytes)",
    )
    write_queue_points: int = Field(
        default=2_000_000, ge=1,
        description="Points waiting for the writer before writes get 429 + Retry-After",
    )
    parse_helpers: int = Field(
        default=1, ge=0, le=8, description="Helper processes that parse big line-protocol "
        "and JSON point bodies beside the server's own process (0: parse in it)"
    )
    points_compression: bool = Field(
        default=True, description="Compact point chunks with zlib (writes stay uncompressed)"
    )
    blob_url: str | None = Field(
        default=None, description="Where file bytes live: `file:///path` or "
        "`s3://bucket/prefix?endpoint_url=…` (default: blobs/ in the data dir)"
    )
    max_file_size: int = Field(
        default=10 * 1024**3, ge=1, description="Largest file accepted (bytes)"
    )
    upload_chunk_max: int = Field(
        default=64 * 1024**2, ge=1024, description="Largest chunk of a resumable upload (bytes)"
    )
    upload_expiry: int = Field(
        default=86400, ge=60, description="Seconds an idle resumable upload is kept"
    )
    files_sweep_interval: int = Field(
        default=3600, ge=10,
        description="Seconds between sweeps of expired uploads and unreferenced blobs",
    )
    dataset_max_upload: int = Field(
        default=2 << 30, ge=1024, description="Largest dataset upload accepted (bytes)"
    )
    dataset_zip_max_files: int = Field(
        default=1000, ge=1, description="Most entries a zip upload may hold"
    )
    dataset_zip_max_bytes: int = Field(
        default=8 << 30, ge=1024, description="Most bytes a zip upload may unpack to"
    )
    dataset_zip_max_ratio: float = Field(
        default=100, ge=1, description="Highest compression ratio of a zip entry (zip bombs)"
    )
    dataset_import_concurrency: int = Field(
        default=2, ge=1, description="Imports that run at once per worker (more wait)"
    )
    sql_timeout: float = Field(
        default=5.0, gt=0, description="Seconds one SQL request may run before it is stopped (429)"
    )
    sql_max_rows: int = Field(
        default=1_000_000, ge=1, description="Rows one SQL result may have in all"
    )
    sql_max_bytes: int = Field(
        default=32 << 20, ge=1024, description="Bytes of values one SQL answer may carry"
    )
    sql_max_length: int = Field(
        default=100_000, ge=100, description="Longest SQL statement accepted (characters)"
    )
    geocoder_url: str | None = Field(
        default=None, description="Search URL the AmigoCloud face's `me/geocoder/search` "
        "forwards to, e.g. `http://pelias:4000/v1/search` (unset: 501)",
    )
    geocoder_kind: Literal["pelias", "nominatim"] = Field(
        default="pelias",
        description="What speaks at `CLOUDLET_GEOCODER_URL`: `pelias` or `nominatim`",
    )
    geocoder_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one forwarded geocoder request may take"
    )
    debug_endpoints: bool = Field(
        default=False, description="Mount test-only endpoints (the test suite turns this on)"
    )
    log_level: str = Field(default="info", description="uvicorn log level")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("CLOUDLET_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL, with the driver made explicit."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'cloudlet.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def prepare(self) -> Settings:
        """Create the data dir and fill in the persisted secret key; returns self."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.secret_key:
            path = self.data_dir / "secret_key"
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
            self.secret_key = path.read_text().strip()
        return self

    def for_workers(self) -> dict[str, str]:
        """Environment that makes a forked worker build identical settings."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"CLOUDLET_{name.upper()}"] = str(value).lower() if isinstance(
                    value, bool
                ) else str(value)
        return env


def describe() -> list[tuple[str, str, Any]]:
    """(env var, description, default) rows for the README and `cloudlet serve --help`."""
    return [
        (f"CLOUDLET_{name.upper()}", field.description or "", field.default)
        for name, field in Settings.model_fields.items()
    ]
