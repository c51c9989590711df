"""Heartbeat endpoint throughput and latency against a Starlette hello-world, same server, same run.

Usage: python bench/heartbeats.py   (JIANGTANG_BENCH_DATABASE_URL, default the local PostgreSQL)
A fresh database is migrated and filled with VIEWERS people, each with an open viewing session; one uvicorn
process serves the real app plus a hello-world route; CONNECTIONS keep-alive connections then hammer each
endpoint for PHASE_S seconds. Each connection plays several viewers in turn, reporting honest positions
(1× since its session opened), so the per-session rate limit is respected and the heartbeats earn credit.
Finally every heartbeat the server accepted is checked against the database: the heartbeat row exists and
each person's merged credited seconds equal their heartbeats' credited spans. Last line: {ratio, p99_ms, lost}.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server import migrate  # noqa: E402
from server.db import with_database  # noqa: E402
from server.embedded import free_port, wait_until  # noqa: E402
from server.rules.credit import merge  # noqa: E402
from server.security import token_digest  # noqa: E402

CONNECTIONS = 200
VIEWERS_PER_CONNECTION = 10
PHASE_S = 8.0
WARMUP_S = 1.5
TOKEN = "bench-token-" + "x" * 31
DURATION_S = 3600.0


def prepare(url: str) -> list[str]:
    viewers = CONNECTIONS * VIEWERS_PER_CONNECTION
    ids = [str(uuid.uuid4()) for _ in range(viewers)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO lecture (id, title, summary, kind, status, tags, address, target_unit_ids, "
                     "completion_ratio, max_rate, credit_hidden, checkin_opens_min, checkin_closes_min, "
                     "search_text, created_at, updated_at, current_media_id) VALUES (1, '压测讲座', '', 'online', "
                     "'published', '{}', '', '{}', 0.9, 2.0, false, 30, 30, '', now(), now(), %s)", (ids[0],))
        conn.execute("INSERT INTO media (id, lecture_id, source_key, state, percent, attempt, playable, duration_s, "
                      "renditions, created_at, updated_at) VALUES (%s, 1, 'x', 'ready', 100, 1, true, %s, '[]', "
                      "now(), now())", (ids[0], DURATION_S))
        with conn.cursor() as cur:
            with cur.copy("COPY person (id, name, roles, must_change_password, is_active, created_at) FROM STDIN") as c:
                for i in range(1, viewers + 1):
                    c.write_row((i, f"职工{i}", ["worker"], False, True, "2026-01-01T00:00:00Z"))
            with cur.copy("COPY viewing_session (id, user_id, lecture_id, token_hash, opened_at, last_seq, "
                          "last_client_ms, last_position_s, last_rate, last_playing, bucket_tokens, bucket_at, "
                          "credited_s, anomalies) FROM STDIN") as c:
                for i, sid in enumerate(ids, start=1):
                    c.write_row((sid, i, 1, token_digest(TOKEN), "now", 0, 0, 0.0, 1.0, False, 20.0, "now", 0.0, 0))
            with cur.copy("COPY watch_progress (user_id, lecture_id, spans, watched_s, duration_s, last_position_s, "
                          "anomalies, started_at, updated_at) FROM STDIN") as c:
                for i in range(1, viewers + 1):
                    c.write_row((i, 1, "[]", 0.0, DURATION_S, 0.0, 0, "now", "now"))
    return ids


def serve(url: str, port: int) -> None:
    """Child process: the real app with one extra hello-world route, under default uvicorn settings."""
    import uvicorn
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from server.app import create_app
    from server.settings import Settings

    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    # The heartbeat path never touches S3; the endpoint only has to be well-formed.
    settings = Settings(database_url=url, s3_endpoint_url="http://127.0.0.1:9", s3_access_key="bench",
                        s3_secret_key="bench-unused", data_dir=Path("/tmp/jt-bench"),  # noqa: S106
                        secret_key="b" * 40, db_pool_size=20)
    app = create_app(settings)
    app.router.routes.insert(0, Route("/bench/hello", hello))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)


async def phase(port: int, make_request, deadline: float, warm_until: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    count = 0

    async def worker(index: int) -> None:
        nonlocal count
        conn = Conn(port)
        await conn.open()
        turn = 0
        while time.monotonic() < deadline:
            raw, on_reply = make_request(index, turn)
            turn += 1
            started = time.monotonic()
            status, body = await conn.request(raw)
            on_reply(status, body)
            if started >= warm_until:
                latencies.append(time.monotonic() - started)
                count += 1
        conn.writer.close()

    await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    return count, latencies


def hello_request(_: int, __: int):  # type: ignore[no-untyped-def]
    raw = b"GET /bench/hello HTTP/1.1\r\nHost: bench\r\n\r\n"
    return raw, lambda status, body: None


class Viewers:
    """Client-side state of every simulated viewer, and what the server accepted from each."""

    def __init__(self, ids: list[str], opened: float) -> None:
        self.ids = ids
        self.opened = opened
        self.seq = [0] * len(ids)
        self.accepted: list[set[int]] = [set() for _ in ids]
        self.limited = 0
        self.failed = 0

    def request(self, conn_index: int, turn: int):  # type: ignore[no-untyped-def]
        v = conn_index * VIEWERS_PER_CONNECTION + turn % VIEWERS_PER_CONNECTION
        self.seq[v] += 1
        seq = self.seq[v]
        elapsed = time.monotonic() - self.opened
        body = json.dumps({"token": TOKEN, "seq": seq, "position_s": round(min(elapsed, DURATION_S), 3),
                           "rate": 1.0, "paused": False, "visible": True, "event": "play" if seq == 1 else "tick",
                           "client_elapsed_ms": int(elapsed * 1000)}).encode()
        raw = (f"POST /api/v1/viewing-sessions/{self.ids[v]}/heartbeats HTTP/1.1\r\nHost: bench\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

        def on_reply(status: int, reply: bytes) -> None:
            if status == 200 and json.loads(reply)["accepted"]:
                self.accepted[v].add(seq)
            elif status == 429:
                self.limited += 1
            else:
                self.failed += 1
        return raw, on_reply


def lost_heartbeats(url: str, viewers: Viewers) -> int:
    with psycopg.connect(url) as conn:
        stored: dict[str, set[int]] = {}
        spans: dict[str, list[tuple[float, float]]] = {}
        for sid, seq, a, b in conn.execute("SELECT session_id, seq, credited_from_s, credited_to_s FROM heartbeat "
                                           "WHERE anomaly IS NULL"):
            stored.setdefault(sid, set()).add(seq)
            if a is not None:
                spans.setdefault(sid, []).append((a, b))
        watched = dict(conn.execute("SELECT vs.id, wp.watched_s FROM viewing_session vs JOIN watch_progress wp "
                                    "ON wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id").fetchall())
    lost = 0
    for sid, accepted in zip(viewers.ids, viewers.accepted, strict=True):
        lost += len(accepted - stored.get(sid, set()))
        expected = sum(b - a for a, b in merge(spans.get(sid, [])))
        if abs(expected - watched[sid]) > 1e-6:
            lost += 1
    return lost


async def run(url: str, port: int, ids: list[str]) -> dict[str, float]:
    start = time.monotonic()
    hello_n, _ = await phase(port, hello_request, start + WARMUP_S + PHASE_S, start + WARMUP_S)
    hello_rps = hello_n / PHASE_S
    viewers = Viewers(ids, opened=time.monotonic())
    start = time.monotonic()
    beat_n, latencies = await phase(port, viewers.request, start + WARMUP_S + PHASE_S, start + WARMUP_S)
    beat_rps = beat_n / PHASE_S
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    accepted = sum(len(a) for a in viewers.accepted)
    print(f"hello-world: {hello_rps:.0f} req/s")
    print(f"heartbeats: {beat_rps:.0f} req/s, p99 {p99:.1f} ms at {CONNECTIONS} concurrent viewers "
          f"(accepted {accepted}, rate-limited {viewers.limited}, other {viewers.failed})")
    lost = lost_heartbeats(url, viewers)
    print(f"heartbeats: ours {beat_rps:.0f}, baseline {hello_rps:.0f}, ratio {beat_rps / hello_rps:.2f}")
    return {"ratio": round(beat_rps / hello_rps, 3), "p99_ms": round(p99, 1), "lost": lost}


def main() -> None:
    admin = os.environ.get("JIANGTANG_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"jt_bench_hb_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    port = free_port()
    server = None
    try:
        migrate.upgrade(url)
        ids = prepare(url)
        server = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)], cwd=ROOT)
        wait_until(lambda: _answers(port), 60, "bench server")
        result = asyncio.run(run(url, port, ids))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result))


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /bench/hello HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
