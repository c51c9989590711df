"""What a running process shares: settings, database engine and sessions, S3 storage, the job app.

Built once per process (web server or worker) from fully resolved settings — embedded services, if
any, are started by the CLI before this, so here every setting names a real endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from server import jobs
from server.db import SessionFactory, make_engine, make_session_factory
from server.settings import Settings
from server.storage import S3Config, Storage


def s3_config(settings: Settings) -> S3Config:
    assert settings.s3_endpoint_url and settings.s3_access_key and settings.s3_secret_key, "S3 not resolved"
    return S3Config(
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        addressing_style=settings.s3_addressing_style,
        public_endpoint_url=settings.s3_public_endpoint_url,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    storage: Storage
    jobs: procrastinate.App

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        assert settings.database_url, "database not resolved"
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        return cls(settings, engine, make_session_factory(engine), Storage(s3_config(settings)),
                   jobs.deferring_app(settings.database_url))

    async def open(self) -> None:
        await self.jobs.open_async()

    async def close(self) -> None:
        await self.jobs.close_async()
        await self.engine.dispose()
