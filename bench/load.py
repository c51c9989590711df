"""Load test: N simulated viewers against a real `jiangtang serve --no-worker` process.

Usage: python bench/load.py   (env JT_LOAD_VIEWERS, default 2000; JT_LOAD_SECONDS, default 120;
JT_LOAD_RAMP_S, default 30; JIANGTANG_DATABASE_URL + S3 settings to use existing services, else embedded
ones in a temp data dir). Viewers arrive evenly over the ramp, each on its own keep-alive connection.
Each viewer opens a viewing session through the API and plays honestly at 1x, sending a heartbeat every
10 s; 30 % of heartbeat requests are lost client-side (half never sent, half sent but the answer lost) and
resent with the same sequence number. Viewers also browse the catalogue. At the end every session's
credited seconds are compared with the truth (the position span the viewer actually played).
Last line: one JSON object {rps, p50_ms, p99_ms, error_rate, cpu_pct, rss_mb, credit_mismatches, ...}
with latencies also per kind of request.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server import embedded  # noqa: E402
from server.db import libpq_url  # noqa: E402
from server.security import new_token, token_digest  # noqa: E402

EVERY_S = 10
RAMP_S = float(os.environ.get("JT_LOAD_RAMP_S", "30"))
DROP = 0.3
CSRF = "load-csrf-token-0123456789abcdef"
DURATION_S = 7200.0


@dataclass
class Reply:
    status_code: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One viewer's keep-alive HTTP/1.1 connection, like a phone's. A few dozen lines on asyncio streams
    instead of a general client: thousands of viewers must cost the load generator far less than the
    server, or the figures measure the generator (httpx needed a whole core for ~150 requests/s here)."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Reply:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self._host}", *(f"{k}: {v}" for k, v in headers.items())]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        reused = self._streams is not None
        try:
            return await self._exchange(data)
        except (OSError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server closed the idle kept-alive connection (as browsers expect): send again on a new one.
            return await self._exchange(data)

    async def _exchange(self, data: bytes) -> Reply:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        try:
            writer.write(data)
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            length = next(int(v) for k, _, v in (x.partition(":") for x in lines) if k.lower() == "content-length")
            return Reply(int(status_line.split()[1]), await reader.readexactly(length))
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
            self.close()
            raise

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.failures: Counter[str] = Counter()  # what the errors were: status codes, exception names
        self.by_kind: dict[str, list[float]] = {}

    async def call(self, conn: Connection, method: str, path: str, headers: dict[str, str],
                   body: object = None) -> Reply | None:
        began = time.perf_counter()
        try:
            reply = await conn.request(method, path, headers, None if body is None else json.dumps(body).encode())
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as exc:
            self.errors += 1
            self.failures[type(exc).__name__] += 1
            return None
        took = time.perf_counter() - began
        self.latencies.append(took)
        self.by_kind.setdefault(f"{method} {path.rstrip('/0123456789').rsplit('/', 1)[-1]}", []).append(took)
        if reply.status_code >= 400:
            self.errors += 1
            self.failures[f"{method} {reply.status_code}"] += 1
        return reply


def prepare(url: str, viewers: int) -> tuple[int, list[str]]:
    """A playable lecture and N people, each with a login session (no password hashing for thousands)."""
    tokens = [new_token() for _ in range(viewers)]
    media_id = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        (lecture_id,) = conn.execute(
            "INSERT INTO lecture (title, summary, kind, status, tags, address, target_unit_ids, completion_ratio, "
            "max_rate, credit_hidden, checkin_opens_min, checkin_closes_min, search_text, created_at, updated_at, "
            "published_at) VALUES ('压测讲座：新时代产业工人队伍建设', '', 'online', 'published', '{}', '', '{}', 0.9, "
            "2.0, false, 30, 30, '压测讲座', now(), now(), now()) RETURNING id").fetchone()
        conn.execute("INSERT INTO media (id, lecture_id, source_key, state, percent, attempt, playable, duration_s, "
                     "renditions, created_at, updated_at) VALUES (%s, %s, 'x', 'ready', 100, 1, true, %s, '[]', "
                     "now(), now())", (media_id, lecture_id, DURATION_S))
        conn.execute("UPDATE lecture SET current_media_id = %s WHERE id = %s", (media_id, lecture_id))
        (first,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM person").fetchone()
        with conn.cursor() as cur:
            with cur.copy("COPY person (id, name, roles, must_change_password, is_active, created_at) FROM STDIN") as c:
                for i in range(viewers):
                    c.write_row((first + i, f"职工{i}", ["worker"], False, True, "now"))
            with cur.copy("COPY web_session (token_hash, user_id, created_at, expires_at) FROM STDIN") as c:
                for i, token in enumerate(tokens):
                    c.write_row((token_digest(token), first + i, "now", "2099-01-01T00:00:00Z"))
        conn.execute("SELECT setval(pg_get_serial_sequence('person', 'id'), (SELECT max(id) FROM person))")
    return lecture_id, tokens


async def viewer(conn: Connection, stats: Stats, lecture_id: int, token: str, until: float,
                 truth: dict[str, float]) -> None:
    headers = {"Cookie": f"jt_session={token}; jt_csrf={CSRF}", "X-CSRF-Token": CSRF}
    try:
        await _watch(conn, stats, lecture_id, headers, until, truth)
    finally:
        conn.close()


async def _watch(conn: Connection, stats: Stats, lecture_id: int, headers: dict[str, str], until: float,
                 truth: dict[str, float]) -> None:
    await asyncio.sleep(random.uniform(0, RAMP_S))
    await stats.call(conn, "GET", "/api/v1/lectures", headers)
    opened = await stats.call(conn, "POST", f"/api/v1/lectures/{lecture_id}/viewing-sessions", headers, {})
    if opened is None or opened.status_code != 201:
        return
    session = opened.json()
    started = time.monotonic()
    seq = 0
    while time.monotonic() + EVERY_S < until or seq == 0:
        seq += 1
        t = round(time.monotonic() - started, 3)
        body = {"token": session["token"], "seq": seq, "position_s": t, "rate": 1.0, "paused": False,
                "visible": True, "event": "play" if seq == 1 else "tick", "client_elapsed_ms": int(t * 1000)}
        while True:  # the player resends the same seq until it gets an answer
            lost = random.random() < DROP
            if lost and random.random() < 0.5:
                await asyncio.sleep(1)  # never reached the server
                continue
            answer = await stats.call(conn, "POST", f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats",
                                      {}, body)
            if not lost and answer is not None and answer.status_code == 200:
                break
            await asyncio.sleep(1)
        truth[session["session_id"]] = t  # played from position 0 to t, all of it at 1x
        if random.random() < 0.2:
            await stats.call(conn, "GET", f"/api/v1/lectures/{lecture_id}", headers)
        await asyncio.sleep(max(0.0, started + seq * EVERY_S - time.monotonic()))


def start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JIANGTANG_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--no-worker", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=(data_dir / "serve.log").open("ab"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


async def run(viewers: int, seconds: float, base: str, pid: int, url: str) -> dict[str, float | int]:
    lecture_id, tokens = prepare(url, viewers)
    stats, truth = Stats(), {}
    server = psutil.Process(pid)
    server.cpu_percent(None)
    began = time.monotonic()
    host, port = base.removeprefix("http://").split(":")
    await asyncio.gather(*(viewer(Connection(host, int(port)), stats, lecture_id, t, began + seconds, truth)
                           for t in tokens))
    elapsed = time.monotonic() - began
    cpu, rss = server.cpu_percent(None), server.memory_info().rss / 2**20
    with psycopg.connect(url) as conn:
        credited = dict(conn.execute("SELECT id::text, credited_s FROM viewing_session WHERE lecture_id = %s",
                                     (lecture_id,)).fetchall())
    mismatches = sum(1 for sid, want in truth.items() if abs(credited.get(sid, -1) - want) > 0.5)
    mismatches += viewers - len(truth)  # a viewer who could not even open a session counts too
    lat = sorted(stats.latencies) or [0.0]
    total = len(stats.latencies) + stats.errors
    return {"rps": round(len(stats.latencies) / elapsed, 1), "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0] * 1000, 1),
            "error_rate": round(stats.errors / total, 4) if total else 0.0, "cpu_pct": round(cpu, 1),
            "rss_mb": round(rss, 1), "credit_mismatches": mismatches, "failures": dict(stats.failures),
            "ms_by_request": {k: {"p50": round(statistics.median(v) * 1000, 1),
                                  "p99": round(sorted(v)[max(0, int(len(v) * 0.99) - 1)] * 1000, 1), "n": len(v)}
                              for k, v in stats.by_kind.items()}}


def main() -> None:
    # A connection per viewer on both sides: lift the soft limit on open files (the server inherits it).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    viewers = int(os.environ.get("JT_LOAD_VIEWERS", "2000"))
    seconds = float(os.environ.get("JT_LOAD_SECONDS", "120"))
    port = embedded.free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="jt-load-") as tmp:
        data_dir = Path(tmp)
        proc = start_server(port, data_dir)
        try:
            embedded.wait_until(lambda: proc.poll() is None and ready(base), 180, "jiangtang serve")
            url = os.environ.get("JIANGTANG_DATABASE_URL") or embedded.start_postgres(data_dir).url
            print(f"{viewers} viewers for {seconds:.0f} s against {base} (server pid {proc.pid})", flush=True)
            result = asyncio.run(run(viewers, seconds, base, proc.pid, libpq_url(url)))
        finally:
            proc.terminate()
            proc.wait(60)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
