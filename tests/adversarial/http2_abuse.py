#!/usr/bin/python3
"""A misbehaving HTTP/2 client for durabled's adversarial tests.

Speaks raw HTTP/2 frames (hyperframe + hpack, not h2's state machine, which
would obey the server's SETTINGS) over the daemon's Unix socket:

  idle         --connections=N --streams=M: on each of N connections, open M
               streams (HEADERS without END_STREAM, no DATA) whatever
               SETTINGS_MAX_CONCURRENT_STREAMS says, cycling through --path
               (repeatable). Prints "ready" once all are sent, then keeps the
               connections alive (SETTINGS and PING acknowledged) until stdin
               closes or --hold-s passes.
  slow-unary   --path=P --prefix-length=L --send-bytes=B: one unary call
               whose gRPC message header announces L bytes, of which only B
               are sent; then waits (up to --hold-s) for the daemon to end
               the stream and reports its grpc-status ("status"),
               grpc-message ("message") and "elapsed_ms" (or status=none).
  fill         --connections=N --streams=M --prefix-length=L: on each stream
               a unary call whose message announces L bytes, then as many of
               them as the daemon's flow control lets through, but never the
               last byte; holds like idle. Reports "data_sent".
  rapid-reset  --rate=R --seconds=S [--connections=N]: HEADERS immediately
               followed by RST_STREAM(CANCEL), R streams a second in total
               for S seconds (CVE-2023-44487); a connection the daemon closes
               is replaced.

Reports "key=value" lines on stdout: headers_sent, resets_received,
goaways_received, connections_opened, connections_closed_by_daemon.
Run with /usr/bin/python3 (Debian's python3-hyperframe, python3-hpack).
"""
import argparse
import select
import socket
import sys
import time

import hpack
import urllib.parse

from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CANCEL = 0x8


def emit(key, value):
    sys.stdout.write("%s=%s\n" % (key, value))
    sys.stdout.flush()


class Connection:
    def __init__(self, path, stats):
        self.stats = stats
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.trailers = {}  # stream id -> decoded header list
        # Flow control: what the daemon lets us send (RFC 9113 6.9).
        self.initial_window = 65535
        self.connection_window = 65535
        self.stream_windows = {}
        self.max_frame = 16384
        self.next_stream = 1
        self.buffer = b""
        self.closed = False
        stats["connections_opened"] += 1
        self.send(PREFACE + SettingsFrame(0).serialize())

    def send(self, data):
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.mark_closed()
            return False

    def mark_closed(self):
        if not self.closed:
            self.closed = True
            self.stats["connections_closed_by_daemon"] += 1
            try:
                self.sock.close()
            except OSError:
                pass

    def headers(self, path):
        stream_id = self.next_stream
        self.next_stream += 2
        block = self.encoder.encode([
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "localhost"), ("content-type", "application/grpc"),
            ("te", "trailers")])
        frame = HeadersFrame(stream_id, data=block, flags=["END_HEADERS"])
        if self.send(frame.serialize()):
            self.stats["headers_sent"] += 1
        return stream_id

    def reset(self, stream_id):
        return self.send(RstStreamFrame(stream_id, error_code=CANCEL).serialize())

    def pump(self):
        """Reads what the daemon sent, acknowledging SETTINGS and PINGs."""
        if self.closed:
            return
        try:
            data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            self.mark_closed()
            return
        if not data:
            self.mark_closed()
            return
        self.buffer += data
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                break
            body = self.buffer[9:9 + length]
            self.buffer = self.buffer[9 + length:]
            try:
                frame.parse_body(memoryview(body))
            except Exception:  # an unknown or odd frame: skip it
                continue
            if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                window = frame.settings.get(SettingsFrame.INITIAL_WINDOW_SIZE)
                if window is not None:
                    for sid in self.stream_windows:
                        self.stream_windows[sid] += window - self.initial_window
                    self.initial_window = window
                self.max_frame = frame.settings.get(
                    SettingsFrame.MAX_FRAME_SIZE, self.max_frame)
                self.send(SettingsFrame(0, flags=["ACK"]).serialize())
            elif isinstance(frame, WindowUpdateFrame):
                if frame.stream_id == 0:
                    self.connection_window += frame.window_increment
                elif frame.stream_id in self.stream_windows:
                    self.stream_windows[frame.stream_id] += \
                        frame.window_increment
            elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
                self.send(PingFrame(0, opaque_data=frame.opaque_data,
                                    flags=["ACK"]).serialize())
            elif isinstance(frame, HeadersFrame):
                headers = self.decoder.decode(frame.data)
                if "END_STREAM" in frame.flags:
                    self.trailers[frame.stream_id] = headers
            elif isinstance(frame, RstStreamFrame):
                self.stats["resets_received"] += 1
                self.trailers.setdefault(frame.stream_id, [])
            elif isinstance(frame, GoAwayFrame):
                self.stats["goaways_received"] += 1


def pump_all(connections, timeout):
    live = [c for c in connections if not c.closed]
    if not live:
        time.sleep(timeout)
        return
    readable, _, _ = select.select([c.sock for c in live], [], [], timeout)
    by_sock = {c.sock: c for c in live}
    for sock in readable:
        by_sock[sock].pump()


def stdin_closed():
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and not sys.stdin.buffer.read1(1)


def connect(args, stats):
    """A new connection that has read the daemon's SETTINGS, if any; None
    (and counted in connect_failures) if the daemon refused it."""
    try:
        connection = Connection(args.socket, stats)
    except OSError:
        stats["connect_failures"] += 1
        return None
    pump_all([connection], 0.01)
    return connection


def idle(args, stats):
    paths = args.path or ["/durable.v1.DurableWriter/WriteStream"]
    connections = []
    k = 0
    for _ in range(args.connections):
        connection = connect(args, stats)
        if connection is None:
            continue
        connections.append(connection)
        for _ in range(args.streams):
            connection.headers(paths[k % len(paths)])
            k += 1
        pump_all(connections, 0)
    emit("ready", 1)
    deadline = time.monotonic() + args.hold_s
    while time.monotonic() < deadline and not stdin_closed():
        pump_all(connections, 0.05)
    stats["connections_open_at_end"] = sum(1 for c in connections if not c.closed)


def slow_unary(args, stats):
    path = (args.path or ["/durable.v1.DurableWriter/Write"])[0]
    connection = Connection(args.socket, stats)
    start = time.monotonic()
    stream_id = connection.headers(path)
    message = b"\x00" + args.prefix_length.to_bytes(4, "big")
    message += b"\x0a" * args.send_bytes
    connection.send(DataFrame(stream_id, data=message).serialize())
    emit("ready", 1)
    deadline = start + args.hold_s
    while time.monotonic() < deadline and stream_id not in connection.trailers:
        if connection.closed:
            break
        pump_all([connection], 0.05)
    emit("elapsed_ms", int((time.monotonic() - start) * 1000))
    headers = connection.trailers.get(stream_id)
    if headers is None:
        emit("status", "none")
        return
    fields = {}
    for name, value in headers:
        name = name.decode() if isinstance(name, bytes) else name
        value = value.decode() if isinstance(value, bytes) else value
        fields[name] = value
    emit("status", fields.get("grpc-status", "reset"))
    emit("message", urllib.parse.unquote(fields.get("grpc-message", "")))


def fill(args, stats):
    path = (args.path or ["/durable.v1.DurableWriter/Write"])[0]
    connections = []
    left = {}  # (connection index, stream id) -> bytes still to send
    for i in range(args.connections):
        connection = connect(args, stats)
        if connection is None:
            continue
        connections.append(connection)
        for _ in range(args.streams):
            sid = connection.headers(path)
            connection.stream_windows[sid] = connection.initial_window
            prefix = b"\x00" + args.prefix_length.to_bytes(4, "big")
            connection.stream_windows[sid] -= len(prefix)
            connection.connection_window -= len(prefix)
            connection.send(DataFrame(sid, data=prefix).serialize())
            left[(len(connections) - 1, sid)] = args.prefix_length - 1
    stats["data_sent"] = 0
    chunk = b"\x0a" * 16384
    deadline = time.monotonic() + args.hold_s
    ready = False
    while time.monotonic() < deadline and not stdin_closed():
        progressed = False
        for (index, sid), remaining in list(left.items()):
            connection = connections[index]
            if connection.closed or remaining <= 0 or sid in connection.trailers:
                continue
            n = min(remaining, connection.stream_windows.get(sid, 0),
                    connection.connection_window, connection.max_frame, 16384)
            if n <= 0:
                continue
            if connection.send(DataFrame(sid, data=chunk[:n]).serialize()):
                connection.stream_windows[sid] -= n
                connection.connection_window -= n
                left[(index, sid)] = remaining - n
                stats["data_sent"] += n
                progressed = True
        pump_all(connections, 0 if progressed else 0.05)
        if not progressed and not ready:
            ready = True
            emit("ready", 1)
    stats["connections_open_at_end"] = sum(1 for c in connections if not c.closed)


def rapid_reset(args, stats):
    paths = args.path or ["/durable.v1.DurableWriter/WriteStream",
                          "/durable.v1.DurableWriter/Write"]
    connections = [Connection(args.socket, stats)
                   for _ in range(args.connections)]
    start = time.monotonic()
    sent = 0
    k = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= args.seconds:
            break
        due = int(elapsed * args.rate)
        while sent < due:
            connection = connections[k % len(connections)]
            if connection.closed or connection.next_stream > (1 << 30):
                connection.mark_closed()
                try:
                    connection = Connection(args.socket, stats)
                except OSError:
                    stats["connect_failures"] += 1
                    time.sleep(0.01)
                    break
                connections[k % len(connections)] = connection
            stream_id = connection.headers(paths[k % len(paths)])
            connection.reset(stream_id)
            sent += 1
            k += 1
        pump_all(connections, 0.001)
    stats["seconds"] = round(time.monotonic() - start, 2)
    emit("ready", 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["idle", "slow-unary", "fill", "rapid-reset"])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--path", action="append")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--hold-s", type=float, default=60)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--prefix-length", type=int, default=1000)
    parser.add_argument("--send-bytes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    stats = {key: 0 for key in [
        "headers_sent", "resets_received", "goaways_received",
        "connections_opened", "connections_closed_by_daemon",
        "connect_failures"]}
    if args.mode == "idle":
        idle(args, stats)
    elif args.mode == "slow-unary":
        slow_unary(args, stats)
    elif args.mode == "fill":
        fill(args, stats)
    else:
        rapid_reset(args, stats)
    for key, value in stats.items():
        emit(key, value)


if __name__ == "__main__":
    main()
