"""Heartbeat endpoint throughput and latency against a Starlette hello-world, same server, same run.

Usage: python bench/heartbeats.py   (JIANGTANG_BENCH_DATABASE_URL, default the local PostgreSQL)
A fresh database is migrated and filled with VIEWERS people, each with an open viewing session; one uvicorn
process (httptools + uvloop, the same for both endpoints) serves the real app plus a hello-world route; wrk
then drives each endpoint over CONNECTIONS keep-alive connections (a warm-up, then PHASE_S measured).
The heartbeat warm-up lasts until every viewer has sent one: a viewer's first heartbeat to a server process
reads the session from the database, and a real viewer sends one every ~10 s for the whole lecture, so
first contacts are a start-up cost; a warm-up that left a third of them to the measured run measured that.
For heartbeats a Lua script plays the viewers in turn, reporting honest positions (1x since the phase
began, sequence numbers strictly increasing per viewer), few enough per viewer that the per-session rate
limit is never hit, and counts the replies: accepted, not accepted, rate-limited, other.
Finally the database is checked against what the server told the clients: as many stored accepted
heartbeat rows as "accepted" replies, and each person's credited seconds equal to the merge of their
heartbeats' credited spans. Last line: {ratio, p99_ms, lost, ...}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from server import migrate  # noqa: E402
from server.db import with_database  # noqa: E402
from server.embedded import free_port, wait_until  # noqa: E402
from server.rules.credit import merge  # noqa: E402
from server.security import token_digest  # noqa: E402

CONNECTIONS = 200
VIEWERS_PER_CONNECTION = 30
PHASE_S = 8.0
WARMUP_S = 2.0
MAX_WARMUPS = 10
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
    """Child process: the real app with one extra hello-world route (httptools + uvloop, as `serve` uses)."""
    import uvicorn
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from server.accept import UVICORN_LOOP
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
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="httptools",
                loop=UVICORN_LOOP)


HEARTBEAT_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } jt_timespec;
int clock_gettime(int clk_id, jt_timespec *tp);
]]
local ts = ffi.new("jt_timespec")
local function now() ffi.C.clock_gettime(0, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end

local ids = IDS
local per_thread = PER_THREAD
local began = BEGAN
local token = TOKEN
local duration = DURATION
local headers = {["Content-Type"] = "application/json"}
local threads = {}
first = 0
n = START  -- each run carries on the rotation where the runs before it left off
last = {}
accepted, refused, limited, other, sent = 0, 0, 0, 0, 0

setup = function(thread)
  table.insert(threads, thread)
  thread:set("first", (#threads - 1) * per_thread)
end

request = function()
  local v = first + n % per_thread + 1
  n = n + 1
  sent = sent + 1
  local elapsed = now() - began
  local ms = math.floor(elapsed * 1000)
  local seq = math.max((last[v] or 0) + 1, ms)
  last[v] = seq
  local body = string.format('{"token":"%s","seq":%d,"position_s":%.3f,"rate":1.0,"paused":false,' ..
    '"visible":true,"event":"tick","client_elapsed_ms":%d}', token, seq, math.min(elapsed, duration), ms)
  return wrk.format("POST", "/api/v1/viewing-sessions/" .. ids[v] .. "/heartbeats", headers, body)
end

response = function(status, headers, body)
  if status == 200 then
    if body:find('"accepted":true', 1, true) then accepted = accepted + 1 else refused = refused + 1 end
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end

extra = function()
  local a, r, l, o, s = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted"); r = r + t:get("refused"); l = l + t:get("limited"); o = o + t:get("other")
    s = s + t:get("sent")
  end
  return string.format(', "accepted": %d, "refused": %d, "limited": %d, "other": %d, "sent": %d', a, r, l, o, s)
end
"""


def heartbeat_script(ids: list[str], began: float, start: int) -> str:
    return (HEARTBEAT_LUA.replace("IDS", wrk.lua_list(ids)).replace("START", str(start))
            .replace("PER_THREAD", str(len(ids) // wrk.THREADS)).replace("BEGAN", repr(began))
            .replace("TOKEN", json.dumps(TOKEN)).replace("DURATION", repr(DURATION_S)))


def unseen_viewers(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM viewing_session vs WHERE NOT EXISTS "
                           "(SELECT FROM heartbeat hb WHERE hb.session_id = vs.id)").fetchone()
    return int(row[0]) if row else 0


def lost_heartbeats(url: str, ids: list[str], accepted: int, unanswered: int) -> int:
    """Accepted replies without a stored accepted row, stored accepted rows beyond the requests wrk sent but
    stopped waiting for when its time was up (``unanswered``), and people whose credited seconds differ
    from the merge of their stored heartbeats' credited spans."""
    with psycopg.connect(url) as conn:
        # One snapshot for both reads: requests still in flight when wrk stopped may commit meanwhile.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        stored = 0
        spans: dict[str, list[tuple[float, float]]] = {}
        for sid, a, b in conn.execute("SELECT session_id, credited_from_s, credited_to_s FROM heartbeat "
                                      "WHERE anomaly IS NULL"):
            stored += 1
            if a is not None:
                spans.setdefault(sid, []).append((a, b))
        watched = dict(conn.execute("SELECT vs.id, wp.watched_s FROM viewing_session vs JOIN watch_progress wp "
                                    "ON wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id").fetchall())
    lost = max(0, accepted - stored) + max(0, stored - accepted - unanswered)
    print(f"consistency: {accepted} accepted replies, {stored} stored accepted rows, {unanswered} unanswered")
    for sid in ids:
        expected = sum(b - a for a, b in merge(spans.get(sid, [])))
        if abs(expected - watched[sid]) > 1e-6:
            print(f"consistency: session {sid} credited {watched[sid]} but its heartbeats merge to {expected}")
            lost += 1
    return lost


def run(url: str, port: int, ids: list[str], server_pid: int) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    hello = wrk.run(base + "/bench/hello", "", connections=CONNECTIONS, seconds=PHASE_S, warmup_s=WARMUP_S,
                    server_pid=server_pid)
    began = time.time()
    counts = {"accepted": 0, "refused": 0, "limited": 0, "other": 0, "sent": 0}

    def drive(seconds: float) -> wrk.Figures:  # every run's heartbeats count for the consistency check
        script = heartbeat_script(ids, began, counts["sent"] // wrk.THREADS)
        beats = wrk.measure(base + "/", script, connections=CONNECTIONS, seconds=seconds, server_pid=server_pid)
        for k in counts:
            counts[k] += beats.extra[k]
        return beats

    for _ in range(MAX_WARMUPS):
        drive(WARMUP_S)
        if unseen_viewers(url) == 0:
            break
    else:
        raise RuntimeError(f"{unseen_viewers(url)} viewers had sent no heartbeat after the warm-up")
    beats = drive(PHASE_S)
    ratio = beats.rps / hello.rps
    hello_cpu, beat_cpu = hello.server_cpu_us or 0.0, beats.server_cpu_us or 0.0
    print(f"hello-world: {hello.rps:.0f} req/s, p99 {hello.p99_ms:.1f} ms, server CPU {hello_cpu:.0f} µs/request")
    # PostgreSQL's share of a heartbeat is not in the server's CPU time: it runs in its own processes.
    print(f"heartbeat server CPU {beat_cpu:.0f} µs/request (CPU ratio {hello_cpu / beat_cpu if beat_cpu else 0:.2f})")
    print(f"heartbeats: {beats.rps:.0f} req/s, p50 {beats.p50_ms:.1f} ms, p99 {beats.p99_ms:.1f} ms at "
          f"{CONNECTIONS} concurrent viewers (accepted {counts['accepted']}, not accepted {counts['refused']}, "
          f"rate-limited {counts['limited']}, other {counts['other']})")
    unanswered = counts["sent"] - counts["accepted"] - counts["refused"] - counts["limited"] - counts["other"]
    lost = lost_heartbeats(url, ids, counts["accepted"], unanswered)
    print(f"heartbeats: ours {beats.rps:.0f}, baseline {hello.rps:.0f}, ratio {ratio:.2f}")
    return {"ratio": round(ratio, 3), "p99_ms": round(beats.p99_ms, 1), "lost": lost,
            "rps": round(beats.rps, 1), "hello_rps": round(hello.rps, 1), "hello_p99_ms": round(hello.p99_ms, 1),
            "limited": counts["limited"], "other": counts["other"], "unanswered_at_stop": unanswered,
            "server_cpu_us": round(beat_cpu, 1), "hello_server_cpu_us": round(hello_cpu, 1),
            "cpu_ratio": round(hello_cpu / beat_cpu, 3) if beat_cpu else 0.0,
             "load_avg_1m": round(os.getloadavg()[0], 2)}


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
        server = subprocess.Popen(wrk.pinned([sys.executable, __file__, "--serve", url, str(port)], wrk.SERVER_CPU),
                                  cwd=ROOT)
        wait_until(lambda: _answers(port), 60, "bench server")
        result = run(url, port, ids, server.pid)
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
