"""Drive one HTTP endpoint with wrk (a C load generator, cheap enough not to be the bottleneck) and read its figures.

Each run is given a Lua script (request generation, optional response checks); this module appends a
``done`` hook that prints one machine-readable summary line. A script may define ``extra()`` returning a
JSON fragment (``, "key": value``) gathered from its threads, e.g. counts of accepted heartbeats.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

THREADS = 2
MARK = "WRK_JSON "
LOAD_CPU, SERVER_CPU = 0, 1

_DONE = r"""
done = function(summary, latency, requests)
  local more = ""
  if extra then more = extra() end
  local e = summary.errors
  io.write(string.format('\n%s{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"status_errors": %d, "socket_errors": %d, "timeouts": %d%s}\n', "WRK_JSON ", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write,
    e.timeout, more))
end
"""


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    extra: dict[str, Any]
    server_cpu_us: float | None = None  # the server's CPU time per request: steady even on a busy machine


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and every process below it."""
    ticks = 0
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])
    for candidate, tick in used.items():
        ancestor: int | None = candidate
        while ancestor is not None and ancestor != pid:
            ancestor = parents.get(ancestor)
        ticks += tick if ancestor == pid else 0
    return ticks / os.sysconf("SC_CLK_TCK")


def available() -> bool:
    return shutil.which("wrk") is not None


def pinned(argv: list[str], cpu: int) -> list[str]:
    """``argv`` bound to one CPU when the machine has two or more: load generator and server on separate
    cores, so neither steals the other's time and latencies measure the server, not the scheduler."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def run(url: str, script: str, *, connections: int, seconds: float, warmup_s: float = 2,
        server_pid: int | None = None) -> Figures:
    """A warm-up run (discarded), then the measured run; errors are non-2xx/3xx replies, socket errors, timeouts."""
    if warmup_s > 0:
        measure(url, script, connections=connections, seconds=warmup_s)
    return measure(url, script, connections=connections, seconds=seconds, server_pid=server_pid)


def measure(url: str, script: str, *, connections: int, seconds: float, server_pid: int | None = None) -> Figures:
    """One wrk run of whole seconds; with ``server_pid``, also the server's CPU time per request."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + _DONE)
    try:
        before = cpu_seconds(server_pid) if server_pid else 0.0
        figures = _wrk(url, Path(f.name), connections, seconds)
        if server_pid and figures.requests:
            spent = cpu_seconds(server_pid) - before
            figures = replace(figures, server_cpu_us=spent / figures.requests * 1e6)
        return figures
    finally:
        Path(f.name).unlink(missing_ok=True)


def _wrk(url: str, script: Path, connections: int, seconds: float) -> Figures:
    argv = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), url]
    out = subprocess.run(pinned(argv, LOAD_CPU),
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    line = next(x for x in out.splitlines() if x.startswith(MARK))
    data = json.loads(line.removeprefix(MARK))
    base = {"requests", "duration_us", "p50_us", "p99_us", "status_errors", "socket_errors", "timeouts"}
    return Figures(rps=data["requests"] / (data["duration_us"] / 1e6), p50_ms=data["p50_us"] / 1000,
                   p99_ms=data["p99_us"] / 1000, requests=data["requests"],
                   errors=data["status_errors"] + data["socket_errors"] + data["timeouts"],
                   extra={k: v for k, v in data.items() if k not in base})


def lua_list(values: list[str]) -> str:
    """A Lua table literal of strings (JSON string escapes are valid Lua for the ASCII we send)."""
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"
