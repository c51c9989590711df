"""Turn settings into concrete backends: start embedded PostgreSQL/SeaweedFS where none is configured."""

from __future__ import annotations

from dataclasses import dataclass

from server import embedded
from server.settings import Settings


@dataclass
class Backends:
    settings: Settings
    s3: embedded.EmbeddedS3 | None = None
    pg: embedded.EmbeddedPostgres | None = None

    def stop(self) -> None:
        if self.s3 is not None:
            embedded.stop_seaweedfs(self.s3)
            self.s3 = None
        if self.pg is not None:
            self.pg.stop()
            self.pg = None


def resolve(settings: Settings) -> Backends:
    """Settings with every endpoint filled in; embedded services are started (or adopted) as needed."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    updates: dict[str, object] = {"secret_key": settings.signing_key()}
    started = Backends(settings)
    try:
        if settings.embedded_db:
            started.pg = embedded.start_postgres(settings.data_dir)
            updates["database_url"] = started.pg.url
        if settings.embedded_s3:
            started.s3 = embedded.start_seaweedfs(settings.data_dir)
            updates.update(s3_endpoint_url=started.s3.endpoint_url, s3_access_key=started.s3.access_key,
                           s3_secret_key=started.s3.secret_key)
    except BaseException:
        started.stop()  # also on Ctrl-C during start-up: leave nothing running
        raise
    started.settings = settings.model_copy(update=updates)
    return started


def child_environment(settings: Settings) -> dict[str, str]:
    """Environment for a child process (the worker) so it uses exactly the same backends."""
    assert settings.database_url and settings.s3_endpoint_url
    return {
        "JIANGTANG_DATABASE_URL": settings.database_url,
        "JIANGTANG_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "JIANGTANG_S3_ACCESS_KEY": settings.s3_access_key or "",
        "JIANGTANG_S3_SECRET_KEY": settings.s3_secret_key or "",
        "JIANGTANG_SECRET_KEY": settings.secret_key or "",
        "JIANGTANG_DATA_DIR": str(settings.data_dir.resolve()),
    }
