"""Acceptance: `jiangtang serve` on embedded services survives kill -9 and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from server.embedded import free_port


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANGTANG_")}
    env.update(JIANGTANG_DATA_DIR=str(data_dir), JIANGTANG_PORT=str(port))
    return subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling readiness with a deadline
    raise AssertionError("serve did not become ready")


def _ours(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(data_dir) in cmd or env.get("JIANGTANG_DATA_DIR") == str(data_dir):
            found.append(proc)
    return found


def _wait_gone(procs: list[psutil.Process], timeout: float = 30) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def test_serve_recovers_after_kill_9_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    first = _start(data_dir, port, tmp_path / "first.log")
    _wait_ready(first, port)
    assert "初始密码" in (tmp_path / "first.log").read_text()
    children = [p for p in _ours(data_dir) if p.pid != first.pid and "weed" in " ".join(p.cmdline())]
    first.kill()
    first.wait()
    # SeaweedFS and the worker die with their parent; PostgreSQL is adopted by the next start.
    assert _wait_gone(children) == []

    second = _start(data_dir, port, tmp_path / "second.log")
    _wait_ready(second, port)
    assert "初始密码" not in (tmp_path / "second.log").read_text(), "data was lost: admin created again"
    postgres = [p for p in _ours(data_dir) if p.name() == "postgres" and "-D" in p.cmdline()]
    weeds = [p for p in _ours(data_dir) if "weed" in p.name()]
    assert len(postgres) == 1 and len(weeds) == 1

    second.send_signal(signal.SIGINT)
    assert second.wait(60) == 0
    assert _wait_gone(_ours(data_dir)) == []
