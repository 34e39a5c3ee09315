#!/usr/bin/env python3
"""The VM lab's control of a QEMU guest: QMP (hot-plug) and qemu-guest-agent (commands, files).

    vmctl.py --qmp SOCK plug ID TAP MAC        netdev_add tap + device_add virtio-net-pci
    vmctl.py --qmp SOCK unplug ID [--timeout S] device_del, wait for DEVICE_DELETED, netdev_del
    vmctl.py --qmp SOCK quit
    vmctl.py --qga SOCK ping [--timeout S]     exit 0 once the guest agent answers
    vmctl.py --qga SOCK exec [--timeout S] -- CMD ARG...
                                               run in the guest: its stdout, stderr, exit status
    vmctl.py --qga SOCK sh [--timeout S] SCRIPT  the same for /bin/sh -c SCRIPT
    vmctl.py --qga SOCK read PATH              the guest file on stdout
    vmctl.py --qga SOCK write PATH             stdin into the guest file

Every wait has a deadline; exit status 124 means it passed. Test support only, stdlib only.
"""
import argparse
import base64
import json
import os
import random
import socket
import sys
import time


class Timeout(Exception):
    pass


class Channel:
    """A JSON-lines connection to a QEMU unix socket (QMP or the guest agent's chardev)."""

    def __init__(self, path, deadline):
        self.deadline = deadline
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self._left())
        self.sock.connect(path)
        self.buf = b""

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        return left

    def send(self, obj, prefix=b""):
        self.sock.sendall(prefix + json.dumps(obj).encode() + b"\n")

    def recv_bytes(self):
        self.sock.settimeout(min(self._left(), 2.0))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return b""
        if not data:
            raise ConnectionError("socket closed")
        return data

    def recv(self):
        """The next JSON object (a line)."""
        while b"\n" not in self.buf:
            self.buf += self.recv_bytes()
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip(b"\xff \r")
        return json.loads(line) if line else self.recv()

    def close(self):
        self.sock.close()


class QMP(Channel):
    def __init__(self, path, deadline):
        super().__init__(path, deadline)
        self.events = []
        greeting = self.recv()
        assert "QMP" in greeting, greeting
        self.command("qmp_capabilities")

    def command(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg)
        while True:
            r = self.recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error'].get('desc', r['error'])}")
            return r.get("return")

    def wait_event(self, name, match):
        while True:
            for e in self.events:
                if e["event"] == name and match(e.get("data", {})):
                    return e
            self.events.clear()
            while b"\n" not in self.buf:
                self.buf += self.recv_bytes()
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                r = json.loads(line)
                if "event" in r:
                    self.events.append(r)


class QGA(Channel):
    """The guest agent. A connection starts with guest-sync-delimited, so that a stale answer left
    from an earlier client (or a guest agent that started late) is skipped."""

    def __init__(self, path, deadline):
        super().__init__(path, deadline)
        token = random.randrange(1, 2**31)
        self.send({"execute": "guest-sync-delimited", "arguments": {"id": token}}, prefix=b"\xff")
        # Everything before the 0xff the agent sends back is stale.
        while b"\xff" not in self.buf:
            self.buf += self.recv_bytes()
        self.buf = self.buf[self.buf.index(b"\xff") + 1:]
        while True:
            r = self.recv()
            if r.get("return") == token:
                break

    def command(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg)
        r = self.recv()
        if "error" in r:
            raise RuntimeError(f"{name}: {r['error'].get('desc', r['error'])}")
        return r.get("return")


def qga_ping(path, timeout):
    """Retries (new connections) until the guest agent answers or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = QGA(path, min(deadline, time.monotonic() + 5))
            c.command("guest-ping")
            c.close()
            return 0
        except (OSError, ConnectionError, Timeout, ValueError):
            if time.monotonic() >= deadline:
                return 124
            time.sleep(0.5)  # between connection attempts while the guest boots


def qga_exec(path, argv, timeout, stdin=None):
    deadline = time.monotonic() + timeout
    c = QGA(path, deadline)
    args = {"path": argv[0], "arg": argv[1:], "capture-output": True}
    if stdin is not None:
        args["input-data"] = base64.b64encode(stdin).decode()
    pid = c.command("guest-exec", **args)["pid"]
    delay = 0.02
    while True:
        s = c.command("guest-exec-status", pid=pid)
        if s.get("exited"):
            break
        if time.monotonic() >= deadline:
            raise Timeout()
        time.sleep(delay)  # polling the exit status of the guest process
        delay = min(delay * 2, 0.2)
    c.close()
    out = base64.b64decode(s.get("out-data", ""))
    err = base64.b64decode(s.get("err-data", ""))
    code = s.get("exitcode", 128 + s.get("signal", 0))
    return code, out, err


def qga_read(path, file, timeout):
    c = QGA(path, time.monotonic() + timeout)
    h = c.command("guest-file-open", path=file, mode="r")
    data = b""
    while True:
        r = c.command("guest-file-read", handle=h, count=65536)
        data += base64.b64decode(r.get("buf-b64", ""))
        if r.get("eof"):
            break
    c.command("guest-file-close", handle=h)
    c.close()
    return data


def qga_write(path, file, data, timeout):
    c = QGA(path, time.monotonic() + timeout)
    h = c.command("guest-file-open", path=file, mode="w")
    for i in range(0, len(data), 32768):
        c.command("guest-file-write", handle=h, **{"buf-b64": base64.b64encode(data[i:i + 32768]).decode()})
    c.command("guest-file-close", handle=h)
    c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qmp")
    p.add_argument("--qga")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("verb")
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    try:
        if a.verb == "plug":
            ident, tap, mac = args
            q = QMP(a.qmp, time.monotonic() + a.timeout)
            q.command("netdev_add", type="tap", id="net-" + ident, ifname=tap, script="no", downscript="no")
            q.command("device_add", driver="virtio-net-pci", id=ident, netdev="net-" + ident, mac=mac, romfile="")
            q.close()
        elif a.verb == "unplug":
            (ident,) = args
            q = QMP(a.qmp, time.monotonic() + a.timeout)
            q.command("device_del", id=ident)
            q.wait_event("DEVICE_DELETED", lambda d: d.get("device") == ident)
            q.command("netdev_del", id="net-" + ident)
            q.close()
        elif a.verb == "quit":
            q = QMP(a.qmp, time.monotonic() + a.timeout)
            q.command("quit")
        elif a.verb == "ping":
            return qga_ping(a.qga, a.timeout)
        elif a.verb in ("exec", "sh"):
            argv = ["/bin/sh", "-c", " ".join(args)] if a.verb == "sh" else args
            code, out, err = qga_exec(a.qga, argv, a.timeout)
            sys.stdout.buffer.write(out)
            sys.stderr.buffer.write(err)
            return code
        elif a.verb == "read":
            sys.stdout.buffer.write(qga_read(a.qga, args[0], a.timeout))
        elif a.verb == "write":
            qga_write(a.qga, args[0], sys.stdin.buffer.read(), a.timeout)
        else:
            p.error(f"unknown verb {a.verb}")
    except Timeout:
        print(f"vmctl: {a.verb}: no answer within {a.timeout:g} s", file=sys.stderr)
        return 124
    except (OSError, RuntimeError, ValueError) as e:
        print(f"vmctl: {a.verb}: {e}", file=sys.stderr)
        return 125
    return 0


if __name__ == "__main__":
    sys.exit(main())
