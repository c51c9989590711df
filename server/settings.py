"""Every knob of the platform, read from the environment (prefix JIANGTANG_) or a .env file.

With no settings at all the platform runs on embedded PostgreSQL and SeaweedFS under ``data_dir``.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GiB = 1024**3
DEFAULT_UPLOAD_EXTENSIONS = "mp4,mov,m4v,mkv,webm,avi,flv,ts,mts,m2ts,3gp,wmv,mpg,mpeg,mp3,m4a,aac,wav"


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIANGTANG_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None
    secret_key: str | None = None
    log_json: bool = False
    log_level: str = "INFO"

    database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)

    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket: str = "jiangtang"
    s3_region: str = "us-east-1"
    s3_addressing_style: Literal["path", "virtual"] = "path"
    media_public_base_url: str | None = None
    presign_ttl_s: int = Field(6 * 3600, ge=60, le=7 * 24 * 3600)

    ffmpeg_path: str | None = None
    worker_concurrency: int = Field(1, ge=1, le=64)
    work_dir: Path | None = None
    transcode_timeout_s: int = Field(6 * 3600, ge=60)
    transcode_retry_s: float = Field(10, ge=0.5, le=3600)
    worker_heartbeat_s: float = Field(10, ge=0.2, le=300)
    worker_stalled_s: float = Field(60, ge=1, le=3600)

    max_upload_bytes: int = Field(8 * GiB, ge=1024 * 1024)
    upload_part_bytes: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)
    upload_extensions: str = DEFAULT_UPLOAD_EXTENSIONS
    stale_upload_hours: int = Field(24, ge=1)
    media_purge_grace_hours: float = Field(6, ge=0)
    image_purge_grace_hours: float = Field(24, ge=0)
    max_body_bytes: int = Field(60 * 1024 * 1024, ge=1024)

    site_name: str = "劳模大讲堂"
    icp_filing: str = ""
    psb_filing: str = ""
    allow_anonymous_browse: bool = False
    login_max_failures: int = Field(5, ge=1)
    login_lockout_s: int = Field(15 * 60, ge=10)
    session_ttl_days: int = Field(14, ge=1)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if not self.secret_key or len(self.secret_key) < 32:
                raise ValueError("JIANGTANG_SECRET_KEY must be set to at least 32 characters in production")
            if not self.database_url or not self.s3_endpoint_url:
                raise ValueError("production needs JIANGTANG_DATABASE_URL and JIANGTANG_S3_ENDPOINT_URL")
        if self.s3_endpoint_url and not (self.s3_access_key and self.s3_secret_key):
            raise ValueError("JIANGTANG_S3_ACCESS_KEY and JIANGTANG_S3_SECRET_KEY are required with S3_ENDPOINT_URL")
        return self

    @property
    def embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def embedded_s3(self) -> bool:
        return self.s3_endpoint_url is None

    @cached_property
    def ffmpeg_binary(self) -> str:
        import imageio_ffmpeg

        return self.ffmpeg_path or imageio_ffmpeg.get_ffmpeg_exe()

    @property
    def allowed_extensions(self) -> frozenset[str]:
        return frozenset(e.strip().lower().lstrip(".") for e in self.upload_extensions.split(",") if e.strip())

    @property
    def worker_dir(self) -> Path:
        return self.work_dir or self.data_dir / "work"

    def signing_key(self) -> str:
        """The secret key; in development it is generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            os.chmod(path, 0o600)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"JIANGTANG_{field.upper()}" if field else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration — " + "; ".join(problems)) from None
