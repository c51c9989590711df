"""The `jiangtang` command: serve (default), worker, migrate, create-admin, demo, media."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
import uvicorn

from server.settings import Settings, SettingsError, load_settings

cli = typer.Typer(help="讲堂 Jiangtang — lecture-video platform", no_args_is_help=False, add_completion=False)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        typer.echo(f"jiangtang: {exc}", err=True)
        raise typer.Exit(2) from None


def _prepare(settings: Settings):
    from server import migrate
    from server.backends import resolve
    from server.embedded import wait_until
    from server.logs import configure_logging
    from server.runtime import s3_config
    from server.storage import Storage

    configure_logging(json_lines=settings.log_json, level=settings.log_level)
    backends = resolve(settings)
    try:
        migrate.upgrade(backends.settings.database_url or "")
        storage = Storage(s3_config(backends.settings))
        # A freshly started SeaweedFS answers S3 before its filer accepts writes; poll until it does.
        wait_until(lambda: _try(storage.ensure_bucket), 60, "S3 bucket")
    except BaseException:
        backends.stop()
        raise
    return backends


def _try(action: Callable[[], object]) -> bool:
    try:
        action()
    except Exception:
        return False
    return True


@cli.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
def serve(
    data_dir: Path = typer.Option(None, help="数据目录（嵌入式 PostgreSQL 与 S3 的数据）"),
    host: str = typer.Option(None, help="监听地址"),
    port: int = typer.Option(None, help="监听端口"),
    no_worker: bool = typer.Option(False, "--no-worker", help="只启动 Web 服务，不启动转码 worker"),
    demo: bool = typer.Option(False, "--demo", help="数据库为空时载入演示内容"),
) -> None:
    """Start the platform (embedded PostgreSQL + S3 unless configured) and a worker."""
    from server.accept import UVICORN_LOOP
    from server.app import create_app
    from server.backends import child_environment
    from server.embedded import spawn_child
    from server.runtime import Runtime
    from server.supervise import ChildSupervisor

    settings = _settings(data_dir=data_dir, host=host, port=port)
    backends = _prepare(settings)
    resolved = backends.settings
    worker = None
    try:
        password = asyncio.run(_first_run(resolved, demo))
        if password:
            typer.echo(f"首次启动：管理员账号 admin，初始密码 {password}（登录后需修改）")
        if demo:
            from server.demo import demo_logins

            typer.echo(demo_logins())
        if not no_worker:
            env = {**os.environ, **child_environment(resolved)}
            worker = ChildSupervisor(lambda: spawn_child([sys.executable, "-m", "server.cli", "worker"],
                                                         log_path=resolved.data_dir / "logs" / "worker.log",
                                                         env=env), name="worker")
        typer.echo(f"讲堂已启动: http://{resolved.host}:{resolved.port}")
        app = create_app(resolved, Runtime.build(resolved))
        config = uvicorn.Config(app, host=resolved.host, port=resolved.port, proxy_headers=True, http="httptools",
                                loop=UVICORN_LOOP, log_level="warning", timeout_graceful_shutdown=10)
        _QuietServer(config).run()
    finally:
        if worker is not None:
            worker.stop()
        backends.stop()


class _QuietServer(uvicorn.Server):
    """uvicorn's server minus re-raising Ctrl-C/SIGTERM after its graceful shutdown: `serve` still
    has the worker and the embedded services to stop, and a KeyboardInterrupt traceback helps no one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


async def _first_run(settings: Settings, demo: bool) -> str | None:
    from server.runtime import Runtime
    from server.services.bootstrap import ensure_first_admin

    runtime = Runtime.build(settings)
    await runtime.open()  # the demo defers transcode jobs
    try:
        password = await ensure_first_admin(runtime)
        if demo:
            from server.demo import load_demo

            await load_demo(runtime, only_if_empty=True)
        return password
    finally:
        await runtime.close()


@cli.command()
def worker(concurrency: int = typer.Option(None, help="并发任务数")) -> None:
    """Run a transcoding/job worker against the configured PostgreSQL and S3."""
    from worker.main import run_worker

    settings = _settings(worker_concurrency=concurrency)
    backends = _prepare(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(run_worker(backends.settings))
    except KeyboardInterrupt:
        pass
    finally:
        backends.stop()


@cli.command("migrate")
def migrate_cmd() -> None:
    """Apply database migrations (and create the S3 bucket)."""
    backends = _prepare(_settings())
    backends.stop()
    typer.echo("数据库迁移完成")


@cli.command("create-admin")
def create_admin_cmd(
    login: str = typer.Option("admin", help="登录名（工号）"),
    name: str = typer.Option("系统管理员", help="姓名"),
) -> None:
    """Create or reset an administrator and print a one-time password."""
    from server.runtime import Runtime
    from server.services.bootstrap import create_admin

    backends = _prepare(_settings())

    async def run() -> str:
        runtime = Runtime.build(backends.settings)
        try:
            return await create_admin(runtime, login=login, name=name)
        finally:
            await runtime.engine.dispose()

    try:
        typer.echo(f"管理员 {login} 的初始密码：{asyncio.run(run())}（登录后需修改）")
    finally:
        backends.stop()


@cli.command("demo")
def demo_cmd() -> None:
    """Load demo content (units, people, lecturers, lectures, recordings)."""
    from server.demo import load_demo
    from server.runtime import Runtime

    backends = _prepare(_settings())

    async def run() -> None:
        runtime = Runtime.build(backends.settings)
        await runtime.open()
        try:
            await load_demo(runtime, only_if_empty=False)
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
        from server.demo import demo_logins

        typer.echo("演示内容已载入")
        typer.echo(demo_logins())
    finally:
        backends.stop()


@cli.command("upload")
def upload_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="本地视频文件"),
    lecture: int = typer.Option(..., "--lecture", help="讲座编号"),
    login: str = typer.Option("admin", "--as", help="以哪个账号（工号）上传"),
) -> None:
    """Upload a big local recording to a lecture (resumable; same path as the browser)."""
    from server.errors import AppError
    from server.runtime import Runtime
    from server.services.upload_file import actor_by_login, upload_local_file

    backends = _prepare(_settings())
    size = file.stat().st_size

    async def run() -> str:
        runtime = Runtime.build(backends.settings)
        await runtime.open()
        try:
            actor = await actor_by_login(runtime, login)
            with typer.progressbar(length=size, label="上传中") as bar:
                def advance(sent: int, total: int) -> None:
                    bar.update(sent - bar.pos)

                media = await upload_local_file(runtime, actor=actor, lecture_id=lecture, path=file,
                                                on_progress=advance)
            return media.id
        finally:
            await runtime.close()

    try:
        media_id = asyncio.run(run())
        typer.echo(f"上传完成，已排队转码（媒体 {media_id}）")
    except AppError as exc:
        typer.echo(f"jiangtang: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        backends.stop()


def _mount_media() -> None:
    from worker.media.cli import media_app

    cli.add_typer(media_app, name="media", help="本地探测与转码（与 worker 相同的代码路径）")


def main() -> None:
    _mount_media()
    cli()


if __name__ == "__main__":
    main()
