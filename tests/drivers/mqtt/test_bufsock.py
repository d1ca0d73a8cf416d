"""The read-ahead socket wrapper: one kernel read serves many of paho's small reads."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from drivers.mqtt.bufsock import BufferedSocket


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


class _Counting:
    """Counts the reads that reach the kernel."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0

    def recv(self, n: int, flags: int = 0) -> bytes:
        self.calls += 1
        return self.sock.recv(n, flags)

    def fileno(self) -> int:
        return self.sock.fileno()


def test_small_reads_come_from_one_kernel_read(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(b"\x30\x05hello\x30\x05world")
    counting = _Counting(b)
    wrapped = BufferedSocket(counting)  # type: ignore[arg-type]
    parts = [wrapped.recv(1), wrapped.recv(1), wrapped.recv(5)]
    assert parts == [b"\x30", b"\x05", b"hello"]
    assert wrapped.pending() == 7
    assert [wrapped.recv(1), wrapped.recv(1), wrapped.recv(5)] == [b"\x30", b"\x05", b"world"]
    assert wrapped.pending() == 0
    assert counting.calls == 1
    assert wrapped.fileno() == b.fileno()  # everything else is the real socket's


def test_nothing_to_read_and_end_of_stream_pass_through(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    wrapped = BufferedSocket(b)
    with pytest.raises(BlockingIOError):
        wrapped.recv(1)
    a.sendall(b"xy")
    assert wrapped.recv(8) == b"xy"  # a short read is returned as it is, not buffered
    a.close()
    assert wrapped.recv(1) == b""
