"""An emulated WAN link on loopback: a TCP proxy in front of one registry (no `tc netem` here).

- **Latency per direction, as a delay line**: every chunk read is delivered `rtt / 2` later, while the
  next chunks are read meanwhile, so pipelining and parallel connections still pay as on a real link.
- **A handshake cost per connection**: `handshake_rtts` round trips before the first byte moves (1 for
  TCP; 2–3 with TLS), which is what a client pays for not reusing connections.
- **One shared bandwidth cap per direction**: all connections of the link share it (serialisation
  delay `bytes × 8 / bandwidth`, a FIFO of the link's chunks).
- **Bytes counted at the proxy**, per direction: what crossed the link, whoever sent it.

`floor_seconds` is the physical limit of a sync over such a link: the distinct bytes through the
bandwidth plus a few round trips.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

CHUNK = 64 * 1024


def floor_seconds(distinct_bytes: int, bandwidth_bps: float, rtt: float, round_trips: int = 10) -> float:
    """No sync over the link can be faster: its distinct bytes through the bandwidth, plus round trips
    (token, manifest HEADs, upload start and end: about 10 on the critical path of one image)."""
    return distinct_bytes * 8 / bandwidth_bps + round_trips * rtt


@dataclass
class _Direction:
    """One direction of the link: its bandwidth (shared by every connection) and its byte count."""

    bandwidth_bps: float
    one_way: float
    bytes: int = 0
    _free_at: float = 0.0  # when the link finishes serialising what was sent before
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delivery_time(self, size: int, now: float) -> float:
        """When a chunk of `size` bytes read at `now` arrives at the other end."""
        with self._lock:
            self.bytes += size
            start = max(now, self._free_at)
            self._free_at = start + size * 8 / self.bandwidth_bps
            return self._free_at + self.one_way


class WanLink:
    """`WanLink(upstream)` listens on 127.0.0.1 (`host`) and forwards to `upstream` ("127.0.0.1:PORT")
    through the emulated link. Use as a context manager."""

    def __init__(
        self, upstream: str, *, rtt: float = 0.04, bandwidth_bps: float = 200e6, handshake_rtts: float = 1.0
    ) -> None:
        up_host, _, up_port = upstream.rpartition(":")
        self.upstream = (up_host, int(up_port))
        self.rtt = rtt
        self.handshake = handshake_rtts * rtt
        self.up = _Direction(bandwidth_bps, rtt / 2)  # client -> registry (what a push uploads)
        self.down = _Direction(bandwidth_bps, rtt / 2)  # registry -> client
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="wan-accept", daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def __enter__(self) -> WanLink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connect, args=(client,), name="wan-conn", daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        time.sleep(self.handshake)  # SYN, SYN-ACK (and TLS) before anything moves
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ends = _Ends((client, upstream))
        _DelayLine(client, upstream, self.up, ends.one_ended).start()
        _DelayLine(upstream, client, self.down, ends.one_ended).start()


class _Ends:
    """A connection's two sockets, closed once both directions have ended."""

    def __init__(self, sockets: tuple[socket.socket, socket.socket]) -> None:
        self.sockets = sockets
        self._left = 2
        self._lock = threading.Lock()

    def one_ended(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left:
                return
        for sock in self.sockets:
            sock.close()


class _DelayLine:
    """Bytes from `source` to `sink`, each chunk delivered at its time on the link (a reader and a
    writer thread, so reading goes on while earlier chunks are in flight)."""

    def __init__(
        self, source: socket.socket, sink: socket.socket, direction: _Direction, ended: Callable[[], None]
    ) -> None:
        self.source, self.sink, self.direction, self.ended = source, sink, direction, ended
        self._chunks: deque[tuple[float, bytes]] = deque()  # (delivery time, bytes); b"" is the end
        self._ready = threading.Condition()

    def start(self) -> None:
        threading.Thread(target=self._read, name="wan-read", daemon=True).start()
        threading.Thread(target=self._write, name="wan-write", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.source.recv(CHUNK)
            except OSError:
                data = b""
            when = self.direction.delivery_time(len(data), time.monotonic())
            with self._ready:
                self._chunks.append((when, data))
                self._ready.notify()
            if not data:
                return

    def _write(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._chunks))
                when, data = self._chunks.popleft()
            delay = when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not data or not self._send(data):
                self._end()
                return

    def _send(self, data: bytes) -> bool:
        try:
            self.sink.sendall(data)
        except OSError:
            return False
        return True

    def _end(self) -> None:
        """The source closed (or the sink broke): half-close the sink; the socket closes once both
        directions ended."""
        with contextlib.suppress(OSError):
            self.sink.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            self.source.shutdown(socket.SHUT_RD)
        self.ended()
