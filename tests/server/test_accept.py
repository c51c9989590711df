"""The web server's event loop accepts a burst of connections at once, also while it is busy."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from server import accept

BURST = 40
BUSY_S = 0.002  # each loop iteration does this much other work, like a loaded server answering requests


class Recorder(asyncio.Protocol):
    """Notes the loop iteration in which its connection was made, and answers every byte with b"!"."""

    def __init__(self, made: list[int], iteration: Callable[[], int]) -> None:
        self._made = made
        self._iteration = iteration

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._made.append(self._iteration())
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._transport.write(b"!" * len(data))  # type: ignore[attr-defined]


def run_on(new_loop: Callable[[], asyncio.AbstractEventLoop], scenario: Coroutine[Any, Any, Any]) -> Any:
    loop = new_loop()
    try:
        return loop.run_until_complete(scenario)
    finally:
        loop.close()


async def accept_burst() -> list[int]:
    """Iterations in which each of BURST connections, all waiting before the loop looks, were set up."""
    loop = asyncio.get_running_loop()
    iterations = 0
    made: list[int] = []
    all_made = asyncio.Event()

    def busy() -> None:  # runs once per loop iteration
        nonlocal iterations
        iterations += 1
        time.sleep(BUSY_S)
        if len(made) < BURST:
            loop.call_soon(busy)
        else:
            all_made.set()

    server = await loop.create_server(lambda: Recorder(made, lambda: iterations), "127.0.0.1", 0, backlog=128)
    port = server.sockets[0].getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]  # queued by the kernel
    try:
        loop.call_soon(busy)
        await asyncio.wait_for(all_made.wait(), 10)
        deadline = time.monotonic() + 10
        for client in clients:  # every accepted connection is a working transport
            client.setblocking(False)
            client.sendall(b"ping")
        replies = [b""] * BURST
        while any(len(reply) < 4 for reply in replies) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            for i, client in enumerate(clients):
                with contextlib.suppress(BlockingIOError):
                    replies[i] += client.recv(16)
        assert replies == [b"!!!!"] * BURST
        return made
    finally:
        for client in clients:
            client.close()
        server.close()
        await server.wait_closed()


def test_a_burst_of_connections_is_accepted_within_one_busy_iteration() -> None:
    made = run_on(accept.new_event_loop, accept_burst())
    assert len(made) == BURST
    # The reader callback accepts all of them in one iteration; their transports are set up in the next.
    assert max(made) - min(made) <= 2, made


def test_stock_uvloop_lets_one_connection_in_per_iteration() -> None:
    """Why server.accept exists: uvloop's own server (libuv ≥ 1.45) took BURST iterations for the same burst."""
    made = run_on(uvloop.new_event_loop, accept_burst())
    assert max(made) - min(made) >= BURST // 2, made


async def refuses_after_close() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert server.is_serving()
    server.close()
    assert not server.is_serving()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_closed_server_refuses_connections() -> None:
    run_on(accept.new_event_loop, refuses_after_close())


class OutOfDescriptors(socket.socket):
    """A listening socket whose every accept fails as it does when the process has no file descriptors left."""

    attempts = 0

    def accept(self) -> tuple[socket.socket, Any]:
        OutOfDescriptors.attempts += 1
        raise OSError(errno.EMFILE, "Too many open files")


async def pauses_when_out_of_descriptors() -> int:
    loop = asyncio.get_running_loop()
    OutOfDescriptors.attempts = 0
    listener = OutOfDescriptors(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    server = accept.AcceptingServer(loop, [listener], asyncio.Protocol, backlog=8)
    await server.start_serving()
    client = socket.create_connection(listener.getsockname())
    try:
        await asyncio.sleep(0.3)  # the connection stays queued: a loop that retried at once would spin here
        return OutOfDescriptors.attempts
    finally:
        client.close()
        server.close()


def test_accepting_pauses_instead_of_spinning_when_out_of_descriptors() -> None:
    assert run_on(accept.new_event_loop, pauses_when_out_of_descriptors()) == 1


def test_listening_sockets_bind_every_address_of_the_host() -> None:
    sockets = accept.listening_sockets("127.0.0.1", 0)
    try:
        assert [s.family for s in sockets] == [socket.AF_INET]
        assert sockets[0].getsockname()[0] == "127.0.0.1"
        assert not sockets[0].getblocking()
    finally:
        for sock in sockets:
            sock.close()
