"""The event loop the web server runs on: uvloop, accepting every waiting connection at once.

Since libuv 1.45 (libuv/libuv#3696) a listening socket accepts one connection per event-loop iteration.
On a busy server one iteration answers every ready request first (about a hundred, 7-10 ms of work),
so a burst of new connections was let in one per 7-10 ms: phones opening the lecture link shared in a
WeChat group, a load balancer refilling its pool. 100 clients connecting at once waited up to 700 ms
for their first byte while the requests on open connections were answered in 10 ms. asyncio's own
loop takes up to ``backlog`` connections per wake-up; this does the same on uvloop: the listening
socket is watched with ``add_reader`` and drained in one go, and every accepted socket becomes a
transport through ``connect_accepted_socket`` (which sets TCP_NODELAY, as uvloop's own servers do).

uvicorn takes the loop by import string (``UVICORN_LOOP``): ``--loop server.accept:new_event_loop``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Iterable
from typing import Any

import structlog
import uvloop

log = structlog.get_logger()

# Out of file descriptors or socket memory: the connection stays queued; wait before trying again.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RESOURCE_PAUSE_S = 1.0


class AcceptingServer(asyncio.AbstractServer):
    """The listening sockets of one ``create_server`` call, each drained of waiting connections when readable."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket],
                 protocol_factory: Callable[[], asyncio.BaseProtocol], backlog: int) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._serving = False
        self._handshakes: set[asyncio.Task[Any]] = set()
        self._paused: dict[socket.socket, asyncio.TimerHandle] = {}

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if self._serving:
            return
        self._serving = True
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._loop.add_reader(sock.fileno(), self._accept_waiting, sock)

    async def serve_forever(self) -> None:
        await self.start_serving()
        await asyncio.Future()

    def close(self) -> None:
        """Stop accepting; connections already accepted are the application server's to finish."""
        self._serving = False
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for timer in self._paused.values():
            timer.cancel()
        self._paused.clear()
        self._sockets = []

    async def wait_closed(self) -> None:
        return None

    def _accept_waiting(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):  # bounded, so a flood cannot keep the loop here forever
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while it waited in the queue
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRORS:
                    raise
                log.warning("accept_paused", error=exc.strerror, seconds=RESOURCE_PAUSE_S)
                self._pause(sock)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._loop.connect_accepted_socket(self._protocol_factory, conn))
            self._handshakes.add(task)
            task.add_done_callback(self._handshake_done)

    def _pause(self, sock: socket.socket) -> None:
        self._loop.remove_reader(sock.fileno())

        def resume() -> None:
            del self._paused[sock]
            if self._serving:
                self._loop.add_reader(sock.fileno(), self._accept_waiting, sock)

        self._paused[sock] = self._loop.call_later(RESOURCE_PAUSE_S, resume)

    def _handshake_done(self, task: asyncio.Task[Any]) -> None:
        self._handshakes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The socket is closed by uvloop; only that one client is affected.
            log.warning("connection_setup_failed", error=repr(task.exception()))


def listening_sockets(host: str | Iterable[str] | None, port: int | None) -> list[socket.socket]:
    """Bound, non-blocking TCP sockets for every address of ``host`` (every interface when None), as asyncio binds."""
    hosts = [host] if host is None or isinstance(host, str) else list(host)
    infos = {info for h in hosts for info in socket.getaddrinfo(h, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)}
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in sorted(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # the IPv4 address gets its own socket
            sock.bind(address)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Loop(uvloop.Loop):  # type: ignore[misc]
    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol],  # type: ignore[override]
                            host: str | Iterable[str] | None = None, port: int | None = None, *,
                            sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
                            start_serving: bool = True, **options: Any) -> asyncio.AbstractServer:
        if ssl is not None or options:  # TLS ends at the load balancer; anything else keeps uvloop's own server
            return await super().create_server(protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl,
                                               start_serving=start_serving, **options)
        if sock is not None:
            sock.setblocking(False)
        server = AcceptingServer(self, [sock] if sock is not None else listening_sockets(host, port),
                                 protocol_factory, backlog)
        if start_serving:
            await server.start_serving()
        return server


def new_event_loop() -> asyncio.AbstractEventLoop:
    return Loop()


# What uvicorn's ``loop`` setting takes to run on this loop.
UVICORN_LOOP = f"{__name__}:{new_event_loop.__name__}"
