#!/usr/bin/env python3
"""eni-agent's benchmarks (`make bench`): hot-attach latency, apply cost against `ip -batch` and a
one-`ip`-per-object script, the no-op pass, footprint, and churn, in throwaway network namespaces
with the metadata simulator. Prints a table, writes bench/results.json and docs/benchmarks.md.

usage: bench.py --bin ENI-AGENT --sim ENI-METADATA-SIM [--quick] [--out DIR] [--doc FILE]

Everything runs in namespaces this script makes (enib-PID-vm, enib-PID-stage) and a temp root; the
script enters the VM namespace itself (setns on its main thread, before any other thread exists),
so the agent, the simulator and `ip monitor` run there without `ip netns exec` in the timings.
Nothing outside is touched, and both namespaces and the temp root are removed at the end, also on
failure or Ctrl-C.
"""
import argparse
import ctypes
import datetime
import http.client
import ipaddress
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLONE_NEWNET = 0x40000000
PORT = 8080
URL = f"http://127.0.0.1:{PORT}/latest/meta-data/"
PRIMARY_MAC = "52:54:00:00:01:0a"


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def deadline_wait(pred, seconds, what, interval=0.002):
    """Poll pred() until it is true; fail naming what was awaited when the deadline passes."""
    end = time.monotonic() + seconds
    while True:
        if pred():
            return
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values):
    return {"n": len(values), "p50": round(pct(values, 50), 2), "p90": round(pct(values, 90), 2),
            "p99": round(pct(values, 99), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


# --- The lab ------------------------------------------------------------------------------------

class Lab:
    """A VM namespace (eth0 as a cloud image boots it) and a stage namespace where ENIs wait as veth
    pairs; attach moves ethN into the VM (one `ip -batch`), detach moves it back."""

    def __init__(self, prefix):
        self.vm, self.stage = f"{prefix}-vm", f"{prefix}-stage"
        self.made = []

    def create(self):
        for ns in (self.vm, self.stage):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.stage, "link", "add", "eth0", "address", PRIMARY_MAC, "type", "veth", "peer", "name", "p0")
        sh("ip", "-n", self.stage, "link", "set", "p0", "up")
        sh("ip", "-n", self.stage, "link", "set", "eth0", "netns", self.vm)
        for cmd in (["link", "set", "eth0", "up"], ["addr", "add", "10.0.1.10/24", "dev", "eth0"],
                    ["route", "add", "default", "via", "10.0.1.1", "dev", "eth0"]):
            sh("ip", "-n", self.vm, *cmd)
        for key in ("all", "default", "eth0"):
            sh("ip", "netns", "exec", self.vm, "sh", "-c", f"echo 1 > /proc/sys/net/ipv4/conf/{key}/rp_filter")

    def enter(self):
        """Move this thread (the main one, before others start) into the VM namespace."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.vm}", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into " + self.vm)
        os.close(fd)

    def prepare(self, enis):
        batch = "".join(f"link add {e.name} address {e.mac} type veth peer name p{e.n}\nlink set p{e.n} up\n" for e in enis)
        subprocess.run(["ip", "-n", self.stage, "-batch", "-"], input=batch, text=True, check=True)

    def attach(self, enis):
        batch = "".join(f"link set {e.name} netns {self.vm}\n" for e in enis)
        subprocess.run(["ip", "-n", self.stage, "-batch", "-"], input=batch, text=True, check=True)

    def detach(self, enis):
        batch = "".join(f"link set {e.name} netns {self.stage}\n" for e in enis)
        subprocess.run(["ip", "-n", self.vm, "-batch", "-"], input=batch, text=True, check=True)

    def destroy(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


class ENI:
    """ENI n (1…8): ethn, MAC 52:54:00:00:<n+1>:0a, subnet 10.0.<n+1>.0/24, `ips` addresses; with
    `ipv6`, that many IPv6 addresses in 2001:db8:<n+1>::/64, router fe80::1 (named by the metadata)."""

    def __init__(self, n, ips, ipv6=0):
        self.n, self.name = n, f"eth{n}"
        self.mac = f"52:54:00:00:{n + 1:02x}:0a"
        self.net = f"10.0.{n + 1}"
        self.ips = [f"{self.net}.{10 + i}" for i in range(ips)]
        self.ipv6s = [f"2001:db8:{n + 1}::{10 + i:x}" for i in range(ipv6)]

    def scenario(self):
        e = {"mac": self.mac, "primary_ip": self.ips[0], "secondary_ips": self.ips[1:],
             "subnet": f"{self.net}.0/24", "gateway": f"{self.net}.1", "device_number": self.n}
        if self.ipv6s:
            e.update(ipv6s=self.ipv6s, subnet6=f"2001:db8:{self.n + 1}::/64", gateway6="fe80::1")
        return e


def scenario(enis, cloud="tencent"):
    primary = {"mac": PRIMARY_MAC, "primary_ip": "10.0.1.10", "secondary_ips": [], "subnet": "10.0.1.0/24",
               "gateway": "10.0.1.1", "device_number": 0}
    return {"cloud": cloud, "primary_mac": PRIMARY_MAC, "enis": [primary] + [e.scenario() for e in enis]}


# --- The simulator, the daemon, the monitor --------------------------------------------------------

class Simulator:
    def __init__(self, path, tmp, enis):
        f = os.path.join(tmp, "scenario.json")
        with open(f, "w") as out:
            json.dump(scenario(enis), out)
        self.out = open(os.path.join(tmp, "sim.out"), "w+")
        self.proc = subprocess.Popen([path, "--scenario", f, "--listen", f"127.0.0.1:{PORT}"],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline_wait(lambda: "listening on" in open(self.out.name).read(), 10, "the simulator to listen", 0.02)
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)

    def ctl(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/_sim/" + path, body=data)
                r = self.conn.getresponse()
                text = r.read()
                if r.status != 200:
                    raise RuntimeError(f"simulator {method} {path}: {r.status} {text[:200]!r}")
                return json.loads(text)
            except (http.client.HTTPException, ConnectionError):
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)

    def set_enis(self, enis, cloud="tencent"):
        self.ctl("PUT", "scenario", scenario(enis, cloud))

    def latency(self, ms):
        self.ctl("PUT", "faults", [{"latency_ms": ms}] if ms else [])

    def requests(self):
        return self.ctl("GET", "stats")["requests"]

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        self.proc.wait()


class Daemon:
    """`eni-agent daemon` in the VM namespace with a NOTIFY_SOCKET of ours; start() returns the time
    from spawn to READY=1."""

    def __init__(self, binary, tmp, root, resync=3600, extra_env=None, log_level="info"):
        self.binary, self.tmp, self.root, self.resync = binary, tmp, root, resync
        self.extra_env, self.log_level = extra_env or {}, log_level
        self.proc = None

    def start(self):
        path = os.path.join(self.tmp, "notify.sock")
        if os.path.exists(path):
            os.unlink(path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path, **self.extra_env)
        self.log = open(os.path.join(self.tmp, "daemon.log"), "a")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "daemon", "--provider", "tencent", "--metadata-url", URL,
                                      "--root", self.root, "--config", "/dev/null", "--renderer", "ifcfg", "--log-level", self.log_level,
                                      "--resync-interval", str(self.resync)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.notify.settimeout(60)
        while True:
            msg = self.notify.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                ready = (time.monotonic() - t0) * 1000
                break
        # Read every later notification, as systemd does.
        self.notify.settimeout(None)
        self.messages = []
        threading.Thread(target=self._drain, daemon=True).start()
        return ready

    def _drain(self):
        try:
            while True:
                self.messages.append(self.notify.recv(4096).decode())
        except OSError:
            pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.notify.shutdown(socket.SHUT_RDWR)
        self.notify.close()
        self.log.close()


class Monitor:
    """`ip -ts monitor link route rule` in the VM namespace: every notification, timestamped by the
    harness's own netlink socket as it arrives."""
    STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\] (.*)$")

    def __init__(self):
        self.lines, self.cond = [], threading.Condition()
        self.proc = subprocess.Popen(["ip", "-ts", "monitor", "link", "route", "rule"], stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            m = self.STAMP.match(line)
            if not m:
                continue  # a record's continuation line
            t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            with self.cond:
                self.lines.append((t, m.group(2)))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_for(self, start, done, seconds, what):
        """Scan lines from index start until done(t, text) returns True; return that line's time."""
        end, i = time.monotonic() + seconds, start
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, text = self.lines[i]
                    i += 1
                    if done(t, text):
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
                self.cond.wait(left)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def kernel_objects(enis):
    """Per ENI: its table number, its table's routes and the rules that look it up (as `ip` prints them)."""
    rules = sh("ip", "-4", "rule", "show").stdout.splitlines()
    out = {}
    for e in enis:
        table = 10000 + e.n
        routes = sh("ip", "-4", "route", "show", "table", str(table), check=False).stdout.splitlines()
        out[e.name] = {"table": table, "rules": [r for r in rules if f"lookup {table} " in r + " "],
                       "routes": routes}
    return out


def eni_rules(enis):
    """The rules that belong to these ENIs: looking up one of their tables, or from one of their IPs."""
    tables = {f"lookup {10000 + e.n}" for e in enis}
    ips = {f"from {ip} " for e in enis for ip in e.ips}
    return [r for r in sh("ip", "-4", "rule", "show").stdout.splitlines()
            if any(t in r + " " for t in tables) or any(i in r + " " for i in ips)]


def leftovers(enis, root):
    """What is left of these ENIs after they are gone: rules, routes in their tables, addresses, files."""
    rules = eni_rules(enis)
    routes = [r for e in enis for r in sh("ip", "-4", "route", "show", "table", str(10000 + e.n), check=False).stdout.splitlines()]
    addrs = [a for a in sh("ip", "-4", "-o", "addr", "show").stdout.splitlines()
             if any(f" {ip}/" in a for e in enis for ip in e.ips)]
    files = [name for e in enis for name in (f"ifcfg-{e.name}", f"route-{e.name}", f"rule-{e.name}")
             if os.path.exists(os.path.join(root, "etc/sysconfig/network-scripts", name))]
    return {"rules": len(rules), "routes": len(routes), "addresses": len(addrs), "files": len(files),
            "detail": rules + routes + addrs + files}


# --- 1. Hot-attach latency ------------------------------------------------------------------------

def hot_attach(ctx, count, ips, sim_ms, iterations):
    """From the RTM_NEWLINK of the first ENI moved into the VM to the notification of the last rule or
    table route of the batch, as `ip monitor` receives them."""
    enis = [ENI(n, ips) for n in range(1, count + 1)]
    ctx.sim.set_enis(enis)
    ctx.sim.latency(sim_ms)
    ctx.lab.prepare(enis)
    mon, lab = ctx.monitor, ctx.lab
    # Warm-up attach: learn what "configured" is for each ENI (routes and rules), check with diff.
    lab.attach(enis)
    deadline_wait(lambda: all(len(o["rules"]) == ips for o in kernel_objects(enis).values()), 30,
                  f"{count} ENIs x {ips} IPs configured")
    deadline_wait(lambda: ctx.diff_clean(), 30, "diff to exit 0")
    expect = kernel_objects(enis)
    expected = {e.n: (len(expect[e.name]["routes"]), len(expect[e.name]["rules"])) for e in enis}
    names = {e.name for e in enis}
    samples, agent_ms = [], []

    def detach_and_wait():
        # As the cloud's metadata does at a detach: the ENIs are no longer listed.
        ctx.sim.set_enis([])
        lab.detach(enis)
        deadline_wait(lambda: all(not o["rules"] and not o["routes"] for o in kernel_objects(enis).values()), 30,
                      "detached ENIs' rules and routes to go", 0.005)

    detach_and_wait()
    link = re.compile(r"\d+: (eth\d+)[@:]")
    moves, after_moves = [], []
    for _ in range(iterations):
        ctx.sim.set_enis(enis)
        start = mon.mark()
        log_mark = ctx.log_size()
        lab.attach(enis)
        seen = {e.n: (set(), set()) for e in enis}
        appeared = {}

        def done(t, text):
            if text.startswith("Deleted"):
                return False
            m = link.match(text)
            if m and m.group(1) in names:
                appeared.setdefault(m.group(1), t)
                return False
            m = re.search(r"\blookup (\d+)\b", text)
            if m and 10001 <= int(m.group(1)) <= 10000 + count and "proto 234" in text:
                seen[int(m.group(1)) - 10000][1].add(text)
            m = re.search(r"\btable (\d+)\b", text)
            if m and 10001 <= int(m.group(1)) <= 10000 + count:
                seen[int(m.group(1)) - 10000][0].add(text)
            return all(len(seen[n][0]) >= expected[n][0] and len(seen[n][1]) >= expected[n][1] for n in seen)
        last = mon.wait_for(start, done, 30, f"{count} ENIs' rules and routes")
        first, moved = min(appeared.values()), max(appeared.values())
        samples.append((last - first) * 1000)
        moves.append((moved - first) * 1000)
        after_moves.append((last - moved) * 1000)
        agent_ms += ctx.attach_times(log_mark)
        detach_and_wait()
    # The ENIs go back to the stage namespace's pool; delete them so the next case starts clean.
    subprocess.run(["ip", "-n", lab.stage, "-batch", "-"], text=True, check=True,
                   input="".join(f"link del {e.name}\n" for e in enis))
    ctx.sim.latency(0)
    return {"enis": count, "ips_per_eni": ips, "simulator_latency_ms": sim_ms, "latency_ms": summary(samples),
            "kernel_moves_ms": summary(moves), "after_last_move_ms": summary(after_moves),
            "agent_reported_ms": summary(agent_ms) if agent_ms else None}


# --- 2. Apply cost at full scale -------------------------------------------------------------------

def agent_args(ctx, root, source, renderer="ifcfg"):
    """The shared options for one metadata source (a cloud's tree from the simulator, or a file)
    and one renderer (ifcfg, as on RHEL-family images: files written; none: runtime state only)."""
    common = ["--config", "/dev/null", "--root", root, "--renderer", renderer]
    if source == "file":
        return common + ["--metadata-file", ctx.instance_file]
    return common + ["--provider", source, "--metadata-url", URL]


def hyperfine(ctx, name, command, runs, prepare=None, warmup=2):
    out = os.path.join(ctx.tmp, "hyperfine.json")
    args = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs), "--export-json", out]
    if prepare:
        args += ["--prepare", prepare]
    r = subprocess.run(args + ["-n", name, command], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"hyperfine {name}: exit {r.returncode}: {r.stderr[-1500:]}")
    with open(out) as f:
        r = json.load(f)["results"][0]
    return {"median_ms": round(r["median"] * 1000, 2), "mean_ms": round(r["mean"] * 1000, 2),
            "stddev_ms": round(r["stddev"] * 1000, 2), "runs": runs}


SOURCES = [("tencent", "Tencent tree (HTTP)"), ("aliyun", "Alibaba tree (HTTP)"), ("aws", "AWS tree (HTTP, IMDSv2)"),
           ("file", "metadata file (no HTTP)")]


def apply_runs(ctx, enis, runs, sources, with_files):
    """`eni-agent reconfigure` of `enis` from nothing, per metadata source, vs the same kernel changes
    by `ip -batch` (one process per family, the floor) and by a script of one `ip` (or sysctl write)
    per object. The ENIs are attached, the metadata file and the simulator describe them."""
    tmp = ctx.tmp
    root = os.path.join(tmp, "apply-root")
    os.makedirs(root, exist_ok=True)
    first = sources[0][0]
    plan = sh(ctx.bin, "diff", *agent_args(ctx, root, first, "none"), check=False)
    if plan.returncode != 2:
        raise RuntimeError(f"diff before apply exited {plan.returncode}: {plan.stderr[:500]}")
    ip_lines = [l[len("+ ip "):] for l in plan.stdout.splitlines() if l.startswith("+ ip ")]
    sysctls = [l[len("+ sysctl -w "):].split()[0] for l in plan.stdout.splitlines() if l.startswith("+ sysctl -w ")]
    # `ip -batch` takes no option per line: one batch per family (the IPv6 lines without `-6`).
    batches = {}
    for family, opt in (("4", ""), ("6", "-6 ")):
        lines = [l for l in ip_lines if l.startswith("-6 ") == (family == "6")]
        if lines:
            path = os.path.join(tmp, f"apply{family}.batch")
            with open(path, "w") as f:
                f.write("\n".join(l[len(opt):] for l in lines) + "\n")
            batches[family] = path
    # IPv6 settings first, as the agent orders them (no duplicate address detection on the addresses).
    sysctls.sort(key=lambda kv: not kv.startswith("net.ipv6."))
    writes = "".join(f"echo {kv.split('=')[1]} > /proc/sys/{kv.split('=')[0].replace('.', '/')}\n" for kv in sysctls)
    v6_writes = "".join(w for w in writes.splitlines(keepends=True) if "/ipv6/" in w)
    v4_writes = "".join(w for w in writes.splitlines(keepends=True) if "/ipv6/" not in w)
    script = os.path.join(tmp, "apply-per-object.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nset -e\n" + v6_writes + "".join(f"ip {l}\n" for l in ip_lines) + v4_writes)
    batch_sh = os.path.join(tmp, "apply-batch.sh")
    with open(batch_sh, "w") as f:
        f.write("#!/bin/sh\nset -e\n" + v6_writes + "".join(f"ip {'-6 ' if fam == '6' else ''}-batch {p}\n" for fam, p in sorted(batches.items()))
                + v4_writes)
    # Reset to "attached, nothing configured": the ENIs leave and come back (addresses, routes and
    # their per-link settings go with them), the rules carrying protocol 234 go, rp_filter back to
    # the image's 1.
    reset = os.path.join(tmp, "reset.sh")
    moves_out = "".join(f"link set {e.name} netns {ctx.lab.stage}\n" for e in enis)
    moves_in = "".join(f"link set {e.name} netns {ctx.lab.vm}\n" for e in enis)
    with open(reset, "w") as f:
        f.write("#!/bin/sh\nset -e\n"
                f"printf '{moves_out}' | ip -batch -\n"
                f"printf '{moves_in}' | ip -n {ctx.lab.stage} -batch -\n"
                "ip rule flush protocol 234\nip -6 rule flush protocol 234\n"
                "for t in $(seq 10001 10008); do ip route flush table $t 2>/dev/null || true; ip -6 route flush table $t 2>/dev/null || true; done\n"
                "for k in all default; do echo 1 > /proc/sys/net/ipv4/conf/$k/rp_filter; done\n"
                f"rm -rf {root}/etc\n")
    ctx.reset = f"sh {reset}"
    results = {}
    for source, label in sources:
        ctx.sim.set_enis(enis, cloud="tencent" if source == "file" else source)
        cmd = " ".join([ctx.bin, "reconfigure", *agent_args(ctx, root, source, "none")])
        results[f"eni-agent reconfigure, {label}"] = hyperfine(ctx, label, cmd, runs, ctx.reset)
    if with_files:
        ctx.sim.set_enis(enis)
        cmd = " ".join([ctx.bin, "reconfigure", *agent_args(ctx, root, "tencent")])
        results["eni-agent reconfigure, Tencent tree (HTTP), ifcfg files too"] = hyperfine(ctx, "files", cmd, runs, ctx.reset)
    results["ip -batch"] = hyperfine(ctx, "ip -batch", f"sh {batch_sh}", runs, ctx.reset)
    results["one ip per object"] = hyperfine(ctx, "per object", f"sh {script}", runs, ctx.reset)
    # Every way must leave the same kernel state: the agent's diff is clean after the baselines too.
    ctx.sim.set_enis(enis, cloud="tencent" if first == "file" else first)
    after = sh(ctx.bin, "diff", *agent_args(ctx, root, first, "none"), check=False)
    if after.returncode != 0:
        raise RuntimeError(f"apply: after the per-object script, eni-agent diff still finds changes (exit {after.returncode}):\n{after.stdout[:2000]}{after.stderr[:2000]}")
    floor = results["ip -batch"]["median_ms"]
    for r in results.values():
        r["ratio_to_ip_batch"] = round(r["median_ms"] / floor, 2)
    return {"objects": {"ip_commands": len(ip_lines), "sysctl_writes": len(sysctls)}, "runs": runs,
            "commands": results}, root, reset


def apply_cost(ctx, runs):
    """8 x 30 from nothing, per metadata source, with and without files (`apply_runs`); then the
    same ENIs dual-stack, 10 IPv6 addresses each (the Alibaba tree and the file: the shapes that name
    the router). Left configured (IPv4, with files) for the no-op pass."""
    enis = [ENI(n, 30) for n in range(1, 9)]
    ctx.write_instance(enis)
    ctx.sim.set_enis(enis)
    ctx.lab.prepare(enis)
    ctx.lab.attach(enis)
    out, root, reset = apply_runs(ctx, enis, runs, SOURCES, with_files=True)
    sh("sh", reset)
    dual = [ENI(n, 30, ipv6=10) for n in range(1, 9)]
    ctx.write_instance(dual)
    ctx.sim.set_enis(dual, cloud="aliyun")
    out["dual_stack"], root, reset = apply_runs(ctx, dual, runs, [s for s in SOURCES if s[0] in ("aliyun", "file")], with_files=False)
    sh("sh", reset)
    ctx.write_instance(enis)
    ctx.sim.set_enis(enis)
    sh(ctx.bin, "reconfigure", *agent_args(ctx, root, "tencent"))
    return out, enis, root


# --- 3. No-op pass ---------------------------------------------------------------------------------

def noop(ctx, enis, root, runs):
    """`reconfigure` when nothing changed, per metadata source: time, writes, metadata requests."""
    out = {}
    for source, label in SOURCES:
        ctx.sim.set_enis(enis, cloud="tencent" if source == "file" else source)
        args = agent_args(ctx, root, source)
        if sh(ctx.bin, "diff", *args, check=False).returncode != 0:
            raise RuntimeError(f"no-op ({label}): the state is not converged before the measurement")
        r = hyperfine(ctx, label, " ".join([ctx.bin, "reconfigure", *args]), runs, warmup=3)
        # Writes: netlink requests that change something, /proc/sys opened for writing, files renamed
        # into place or removed, as strace decodes the system calls.
        trace = os.path.join(ctx.tmp, "noop.strace")
        sh("strace", "-f", "-qq", "-e", "trace=sendto,sendmsg,openat,rename,renameat,renameat2,unlink,unlinkat",
           "-o", trace, ctx.bin, "reconfigure", *args)
        text = open(trace).read()
        r["netlink_requests"] = len(re.findall(r"nlmsg_type=RTM_", text))
        r["netlink_writes"] = len(re.findall(r"nlmsg_type=RTM_(?:NEW|DEL|SET)", text))
        r["sysctl_writes"] = len(re.findall(r'openat\([^)]*"/proc/sys/[^"]*", O_WRONLY', text))
        r["file_writes"] = len(re.findall(r"^\d+\s+(?:rename|renameat2?|unlink|unlinkat)\(", text, re.M))
        if source != "file":
            ctx.sim.ctl("POST", "reset-stats")
            sh(ctx.bin, "reconfigure", *args)
            r["metadata_requests"] = ctx.sim.requests()
        out[label] = r
    ctx.sim.set_enis(enis)
    return {"enis": len(enis), "ips_per_eni": len(enis[0].ips), "one_shot": out}


def noop_many_ips(ctx, count, runs):
    """A no-op pass with `count` IPs on one ENI (metadata file, ifcfg files too): planning is linear
    in the number of addresses (it was quadratic: 9.1 s for a debug build's diff at 10,000)."""
    name, mac = "eth9", "52:54:00:00:0a:0a"
    net = ipaddress.ip_network("10.64.0.0/17")
    ips = [str(net.network_address + 10 + i) for i in range(count)]
    sh("ip", "-n", ctx.lab.stage, "link", "add", name, "address", mac, "type", "veth", "peer", "name", "p9")
    sh("ip", "-n", ctx.lab.stage, "link", "set", "p9", "up")
    sh("ip", "-n", ctx.lab.stage, "link", "set", name, "netns", ctx.lab.vm)
    try:
        inst = {"primary_mac": PRIMARY_MAC, "enis": [
            {"mac": PRIMARY_MAC, "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"},
            {"mac": mac, "primary_ip": ips[0], "secondary_ips": ips[1:], "subnet": str(net),
             "gateway": str(net.network_address + 1)}]}
        path = os.path.join(ctx.tmp, "many-ips.json")
        with open(path, "w") as f:
            json.dump(inst, f)
        root = os.path.join(ctx.tmp, "many-ips-root")
        os.makedirs(root, exist_ok=True)
        args = ["--config", "/dev/null", "--root", root, "--metadata-file", path, "--renderer", "ifcfg"]
        started = time.monotonic()
        sh(ctx.bin, "reconfigure", *args)
        apply_ms = round((time.monotonic() - started) * 1000, 1)
        if sh(ctx.bin, "diff", *args, check=False).returncode != 0:
            raise RuntimeError(f"no-op with {count} IPs: the state is not converged before the measurement")
        return {"ips": count, "apply_ms": apply_ms,
                "diff": hyperfine(ctx, "diff", " ".join([ctx.bin, "diff", *args]), runs, warmup=1),
                "reconfigure": hyperfine(ctx, "reconfigure", " ".join([ctx.bin, "reconfigure", *args]), runs, warmup=1)}
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def daemon_resyncs(ctx, root, seconds):
    """The daemon's own no-op pass: resync every second; each pass's time (its debug line) and the
    metadata requests per resync."""
    d = Daemon(ctx.bin, ctx.tmp, root, resync=1, log_level="debug")
    mark = ctx.log_size()
    d.start()
    try:
        time.sleep(1.5)  # after the start pass and the first resync
        ctx.sim.ctl("POST", "reset-stats")
        log_from = ctx.log_size()
        time.sleep(seconds)
        reqs = ctx.sim.requests()
        with open(os.path.join(ctx.tmp, "daemon.log")) as f:
            f.seek(log_from)
            text = f.read()
    finally:
        d.stop()
    passes = re.findall(r"pass: resync\n<7>pass done in ([\d.]+) ms: 0 changes", text)
    times = [float(x) for x in passes]
    started = len(re.findall(r"^<7>pass: resync$", text, re.M))
    if not times:
        raise RuntimeError("daemon resyncs: no resync pass in the log")
    return {"passes": len(times), "pass_ms": summary(times),
            "metadata_requests_per_resync": round(reqs / max(started, 1), 1), "window_s": seconds}


def restore(ctx, enis, root, runs):
    """Another program deletes every rule of the agent's (`ip rule flush protocol 234`, one netlink
    request per rule, as a networkd restart does): the time from the first deletion to the last
    rule back, both as the harness's monitor saw them. The daemon puts them back from its last
    description, without a metadata round trip."""
    d = Daemon(ctx.bin, ctx.tmp, root)
    d.start()
    n_rules = sum(len(e.ips) for e in enis)
    times, fetches = [], []
    try:
        for _ in range(runs):
            ctx.sim.ctl("POST", "reset-stats")
            mark = ctx.monitor.mark()
            sh("ip", "rule", "flush", "protocol", "234")
            first = ctx.monitor.wait_for(mark, lambda t, text: text.startswith("Deleted ") and "proto 234" in text, 10, "a rule deleted")
            back = 0

            def all_back(t, text):
                nonlocal back
                if not text.startswith("Deleted ") and "proto 234" in text and "from " in text:
                    back += 1
                return back == n_rules
            last = ctx.monitor.wait_for(mark, all_back, 30, f"{n_rules} rules back")
            times.append((last - first) * 1000)
            fetches.append(ctx.sim.requests())
            deadline_wait(lambda: len(eni_rules(enis)) == n_rules, 10, "the rules settled")
    finally:
        d.stop()
    return {"rules": n_rules, "restore_ms": summary(times), "metadata_requests_before_back": max(fetches)}


# --- 4. Footprint -----------------------------------------------------------------------------------

def proc_memory(pid):
    status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
    roll = dict(l.split(":", 1) for l in open(f"/proc/{pid}/smaps_rollup").read().splitlines()[1:] if ":" in l)
    kb = lambda v: int(v.split()[0])
    return {"rss_kb": kb(status["VmRSS"]), "hwm_kb": kb(status["VmHWM"]), "pss_kb": kb(roll["Pss"]),
            "private_dirty_kb": kb(roll["Private_Dirty"]), "private_clean_kb": kb(roll["Private_Clean"]),
            "threads": int(status["Threads"]), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def thread_switches(pid):
    """Context switches (voluntary + involuntary) per thread: each is a wakeup of that thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            st = open(f"/proc/{pid}/task/{tid}/status").read()
        except FileNotFoundError:
            continue
        out[tid] = sum(int(re.search(rf"^{k}:\s+(\d+)", st, re.M).group(1))
                       for k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
    return out


def wakeups(pid, seconds):
    """Wakeups of all the process's threads over `seconds` (threads that exit meanwhile are counted
    as one wakeup each, their last)."""
    before = thread_switches(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    after = thread_switches(pid)
    elapsed = time.monotonic() - t0
    per_thread = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    n = sum(per_thread) + len(set(before) - set(after))
    busiest = per_thread[0] if per_thread else 0
    return {"wakeups": n, "per_minute": round(n * 60 / elapsed, 2), "seconds": round(elapsed, 1),
            "busiest_thread_per_minute": round(busiest * 60 / elapsed, 2),
            "other_threads_per_minute": round((n - busiest) * 60 / elapsed, 2),
            "threads_exited": len(set(before) - set(after)), "threads_started": len(set(after) - set(before))}


def settle(pid, quiet=8, limit=45):
    """Wait until the thread count has not changed for `quiet` seconds (libdispatch retires idle
    worker threads a few seconds after the last work); returns the seconds waited."""
    t0 = last_change = time.monotonic()
    n = len(os.listdir(f"/proc/{pid}/task"))
    while time.monotonic() - last_change < quiet and time.monotonic() - t0 < limit:
        time.sleep(0.5)
        m = len(os.listdir(f"/proc/{pid}/task"))
        if m != n:
            n, last_change = m, time.monotonic()
    return round(time.monotonic() - t0, 1)


def footprint(ctx, enis, root, idle_seconds, ready_runs):
    """The daemon with 8 x 30 configured: memory right after its start pass and once idle, threads,
    fds, idle wakeups; start-to-READY with nothing to change and with 8 x 30 to configure."""
    ready_nothing, ready_full = [], []
    for i in range(ready_runs):
        d = Daemon(ctx.bin, ctx.tmp, root)
        ready_nothing.append(d.start())  # converged by the apply step or the previous run
        d.stop()
    full_pass = []
    for i in range(ready_runs):
        sh("sh", "-c", ctx.reset)
        d = Daemon(ctx.bin, ctx.tmp, root, log_level="debug")
        mark = ctx.log_size()
        ready_full.append(d.start())
        d.stop()
        full_pass += ctx.pass_times(mark, min_changes=len(enis) * (2 * len(enis[0].ips) + 3))
    d = Daemon(ctx.bin, ctx.tmp, root, resync=3600)
    d.start()
    try:
        deadline_wait(lambda: ctx.diff_clean(root), 10, "the daemon's state to converge")
        after_pass = proc_memory(d.proc.pid)
        settled = settle(d.proc.pid)
        idle = proc_memory(d.proc.pid)
        wake = wakeups(d.proc.pid, idle_seconds)
    finally:
        d.stop()
    # As the unit runs it: the watchdog (WatchdogSec=2min) and the default 30 s resync.
    d = Daemon(ctx.bin, ctx.tmp, root, resync=30, extra_env={"WATCHDOG_USEC": "120000000"})
    d.start()
    try:
        settle(d.proc.pid)
        n = len(d.messages)
        wake_unit = wakeups(d.proc.pid, idle_seconds)
        wake_unit["watchdog_pings"] = sum(m.count("WATCHDOG=1") for m in d.messages[n:])
    finally:
        d.stop()
    stripped = os.path.join(ctx.tmp, "eni-agent.stripped")
    sh("strip", "--strip-all", "--remove-section=.comment", "--remove-section=.note", "-o", stripped, ctx.bin)
    return {"after_start_pass": after_pass, "idle": idle, "settled_after_s": settled,
            "wakeups_idle": wake, "wakeups_unit_defaults": wake_unit,
            "binary_bytes": os.path.getsize(ctx.bin), "binary_stripped_bytes": os.path.getsize(stripped),
            "ready_ms_nothing_to_do": summary(ready_nothing), "ready_ms_8x30_from_nothing": summary(ready_full),
            "daemon_pass_ms_8x30_from_nothing": summary(full_pass),
            "enis": len(enis), "ips_per_eni": len(enis[0].ips)}


# --- 5. Churn -----------------------------------------------------------------------------------

def fd_targets(pid):
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            out.append(f"{fd} -> {os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except FileNotFoundError:
            pass
    return out


def churn(ctx, cycles, count=4, ips=10):
    """cycles x (attach count ENIs, wait until configured; detach, wait until cleaned up), with the
    metadata following (listed while attached, dropped at detach) as the cloud's does."""
    enis = [ENI(n, ips) for n in range(1, count + 1)]
    root = os.path.join(ctx.tmp, "churn-root")
    ctx.sim.set_enis([])
    ctx.lab.prepare(enis)
    d = Daemon(ctx.bin, ctx.tmp, root, resync=3600)
    d.start()
    try:
        pid = d.proc.pid
        settle(pid)
        before, fds_before = proc_memory(pid), fd_targets(pid)
        t0 = time.monotonic()
        mon = ctx.monitor
        tables = {f"lookup {10000 + e.n}" for e in enis}

        def rules_seen(deleted):
            seen = set()

            def done(t, text):
                if text.startswith("Deleted") == deleted and any(x in text + " " for x in tables):
                    seen.add(text)
                return len(seen) == count * ips
            return done
        for i in range(cycles):
            # Waits on the rules' notifications (ip monitor), not by polling the kernel.
            ctx.sim.set_enis(enis)
            mark = mon.mark()
            ctx.lab.attach(enis)
            mon.wait_for(mark, rules_seen(False), 30, f"cycle {i}: ENIs configured")
            mark = mon.mark()
            ctx.lab.detach(enis)
            ctx.sim.set_enis([])
            mon.wait_for(mark, rules_seen(True), 30, f"cycle {i}: rules removed")
        elapsed = time.monotonic() - t0
        # The files of the last detach go with the next pass that sees the metadata without them.
        os.kill(pid, signal.SIGHUP)
        deadline_wait(lambda: leftovers(enis, root)["files"] == 0, 10, "files of detached ENIs removed", 0.01)
        settle(pid)
        after, fds_after = proc_memory(pid), fd_targets(pid)
        left = leftovers(enis, root)
        errors = [l for l in open(os.path.join(ctx.tmp, "daemon.log")) if l.startswith(("<3>", "<4>"))]
    finally:
        d.stop()
        subprocess.run(["ip", "-n", ctx.lab.stage, "-batch", "-"], text=True,
                       input="".join(f"link del {e.name}\n" for e in enis))
    return {"cycles": cycles, "enis": count, "ips_per_eni": ips, "seconds": round(elapsed, 1),
            "leftovers": {k: v for k, v in left.items() if k != "detail"}, "leftover_detail": left["detail"][:20],
            "before": before, "after": after, "fds_before": fds_before, "fds_after": fds_after,
            "warnings_and_errors_logged": len(errors), "first_warnings": errors[:5]}


# --- Driver ---------------------------------------------------------------------------------------

class Context:
    def __init__(self, binary, sim, tmp, lab):
        self.bin, self.simpath, self.tmp, self.lab = binary, sim, tmp, lab
        self.sim = self.monitor = self.daemon = None
        self.root = os.path.join(tmp, "root")

    def diff_clean(self, root=None):
        return subprocess.run([self.bin, "diff", "--provider", "tencent", "--metadata-url", URL, "--config", "/dev/null",
                               "--renderer", "ifcfg", "--root", root or self.root], capture_output=True).returncode == 0

    def log_size(self):
        p = os.path.join(self.tmp, "daemon.log")
        return os.path.getsize(p) if os.path.exists(p) else 0

    def write_instance(self, enis):
        """The instance as a --metadata-file, for the runs without HTTP."""
        self.instance_file = os.path.join(self.tmp, "instance.json")
        inst = scenario(enis)
        del inst["cloud"]
        with open(self.instance_file, "w") as f:
            json.dump(inst, f)

    def pass_times(self, since, min_changes):
        """The daemon's own time for its passes (debug log) that made at least min_changes changes."""
        with open(os.path.join(self.tmp, "daemon.log")) as f:
            f.seek(since)
            return [float(ms) for ms, n in re.findall(r"pass done in ([\d.]+) ms: (\d+) changes", f.read())
                    if int(n) >= min_changes]

    def attach_times(self, since):
        with open(os.path.join(self.tmp, "daemon.log")) as f:
            f.seek(since)
            return [int(m) for m in re.findall(r"configured (\d+) ms after it appeared", f.read())]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "kernel": platform.release(),
            "os": next((l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME")), "?"),
            "iproute2": sh("ip", "-V").stdout.strip(), "hyperfine": sh("hyperfine", "--version").stdout.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin")
    ap.add_argument("--sim")
    ap.add_argument("--out", default="bench/results.json")
    ap.add_argument("--doc", default="docs/benchmarks.md")
    ap.add_argument("--quick", action="store_true", help="few iterations: checks the harness, not the figures")
    ap.add_argument("--render", metavar="RESULTS", help="only write the table and --doc from an earlier results.json")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
        table = render_table(results)
        print(table)
        write_doc(a.doc, results, table)
        return
    if not a.bin or not a.sim:
        ap.error("--bin and --sim are required (or --render)")
    if os.geteuid() != 0:
        sys.exit("make bench needs root: it creates network namespaces")
    binary, simpath = os.path.abspath(a.bin), os.path.abspath(a.sim)
    n_attach, n_runs, n_cycles, idle, ready_runs, resync_window = (5, 5, 20, 5, 3, 3) if a.quick else (60, 30, 1000, 60, 20, 10)

    tmp = tempfile.mkdtemp(prefix="eni-agent-bench.")
    lab = Lab(f"enib-{os.getpid()}")
    ctx = Context(binary, simpath, tmp, lab)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    results = {"version": sh(binary, "--version").stdout.strip(), "date": datetime.date.today().isoformat(),
               "machine": machine(), "quick": a.quick}
    started = time.monotonic()
    try:
        lab.create()
        lab.enter()
        ctx.sim = Simulator(simpath, tmp, [])
        ctx.monitor = Monitor()
        step = lambda name: print(f"[{time.monotonic() - started:6.1f} s] {name}", flush=True)

        step("hot-attach latency")
        ctx.daemon = Daemon(binary, tmp, ctx.root, log_level="debug")
        ctx.daemon.start()
        results["hot_attach"] = []
        for count, ips in ((1, 10), (8, 30)):
            for ms in (0, 1):
                r = hot_attach(ctx, count, ips, ms, n_attach)
                results["hot_attach"].append(r)
                step(f"  {count} x {ips}, simulator {ms} ms: p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms")
        ctx.daemon.stop()

        step("apply cost, 8 x 30 from nothing")
        results["apply"], enis, root = apply_cost(ctx, n_runs)
        results["process_start"] = hyperfine(ctx, "start", f"{binary} --version", n_runs, warmup=3)
        step("no-op pass (one-shot)")
        results["noop"] = noop(ctx, enis, root, n_runs)
        step("no-op pass (the daemon's resync)")
        results["noop"]["daemon_resync"] = daemon_resyncs(ctx, root, resync_window)
        step("restore after another program deleted the rules")
        results["restore"] = restore(ctx, enis, root, min(n_runs, 10))
        step("footprint")
        results["footprint"] = footprint(ctx, enis, root, idle, ready_runs)
        subprocess.run(["ip", "-batch", "-"], text=True, input="".join(f"link del {e.name}\n" for e in enis))
        step(f"churn: {n_cycles} cycles")
        results["churn"] = churn(ctx, n_cycles)
        step("no-op pass, 10,000 IPs on one ENI")
        results["noop"]["many_ips"] = noop_many_ips(ctx, 10_000, min(n_runs, 10))
        results["seconds"] = round(time.monotonic() - started, 1)
        step("done")
    except BaseException:
        log = os.path.join(tmp, "daemon.log")
        if os.path.exists(log):
            print("--- the daemon's log, last 40 lines ---", file=sys.stderr)
            print("".join(open(log).readlines()[-40:]), file=sys.stderr)
        for ns in lab.made:
            print(f"--- links in {ns} ---\n" + sh("ip", "-n", ns, "-br", "link", check=False).stdout, file=sys.stderr)
        raise
    finally:
        if ctx.daemon and ctx.daemon.proc:
            ctx.daemon.stop()
        if ctx.monitor:
            ctx.monitor.stop()
        if ctx.sim:
            ctx.sim.stop()
        lab.destroy()
        shutil.rmtree(tmp, ignore_errors=True)

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")
    table = render_table(results)
    print(table)
    if not a.quick:
        write_doc(a.doc, results, table)


GOALS = {"hot_p50": 20, "hot_p99": 50, "apply_ratio": 1.5, "noop_ms": 5, "private_dirty_mb": 6, "many_ips_noop_ms": 500}


def render_table(r):
    rows = [("figure", "result", "goal")]
    for h in r["hot_attach"]:
        l, k, a = h["latency_ms"], h["kernel_moves_ms"], h["after_last_move_ms"]
        goal = f"p50 <= {GOALS['hot_p50']}, p99 <= {GOALS['hot_p99']}" if h["enis"] == 1 and h["simulator_latency_ms"] == 0 else ""
        rows.append((f"hot-attach {h['enis']} x {h['ips_per_eni']}, simulator {h['simulator_latency_ms']} ms (ms)",
                     f"p50 {l['p50']}, p90 {l['p90']}, p99 {l['p99']} (n={l['n']})", goal))
        if h["enis"] > 1:
            rows.append(("  of which: the kernel moving the 8 links / after the last move (p50)", f"{k['p50']} / {a['p50']}", ""))
    floor = r["apply"]["commands"]["ip -batch"]["median_ms"]
    p50 = r["footprint"]["daemon_pass_ms_8x30_from_nothing"]["p50"]
    rows.append(("apply 8 x 30: the daemon's start pass, Tencent tree (HTTP) (ms)",
                 f"p50 {p50} ({round(p50 / floor, 2)} x ip -batch)", f"<= {GOALS['apply_ratio']} x ip -batch"))
    rows.append(("process start: eni-agent --version (ms)", f"{r['process_start']['median_ms']}", ""))
    ap = r["apply"]["commands"]
    # A fixed order, whether the results come from this run or from a results.json (sorted keys).
    order = [f"eni-agent reconfigure, {label}" for _, label in SOURCES] + [
        "eni-agent reconfigure, Tencent tree (HTTP), ifcfg files too", "ip -batch", "one ip per object"]
    for k in order:
        v = ap[k]
        goal = f"<= {GOALS['apply_ratio']} x ip -batch" if k.startswith("eni-agent") and "files" not in k else ""
        rows.append((f"apply 8 x 30: {k} (ms)", f"{v['median_ms']} ({v['ratio_to_ip_batch']} x ip -batch)", goal))
    if "dual_stack" in r["apply"]:
        ds = r["apply"]["dual_stack"]["commands"]
        for k in ["eni-agent reconfigure, Alibaba tree (HTTP)", "eni-agent reconfigure, metadata file (no HTTP)", "ip -batch",
                  "one ip per object"]:
            v = ds[k]
            goal = f"<= {GOALS['apply_ratio']} x ip -batch" if k.startswith("eni-agent") else ""
            rows.append((f"apply 8 x (30 IPv4 + 10 IPv6): {k.replace('eni-agent reconfigure, ', 'eni-agent, ')} (ms)",
                         f"{v['median_ms']} ({v['ratio_to_ip_batch']} x ip -batch)", goal))
    for k in [label for _, label in SOURCES]:
        v = r["noop"]["one_shot"][k]
        reqs = f", {v['metadata_requests']} requests" if "metadata_requests" in v else ""
        rows.append((f"no-op reconfigure, {k} (ms)", f"{v['median_ms']}{reqs}", f"<= {GOALS['noop_ms']}"))
    writes = {(v["netlink_writes"], v["sysctl_writes"], v["file_writes"]) for v in r["noop"]["one_shot"].values()}
    rows.append(("no-op: netlink / sysctl / file writes", " ; ".join(f"{a} / {b} / {c}" for a, b, c in sorted(writes)), "0"))
    if "many_ips" in r["noop"]:
        m = r["noop"]["many_ips"]
        rows.append((f"no-op with {m['ips']:,} IPs on one ENI, metadata file: diff / reconfigure (ms)",
                     f"{m['diff']['median_ms']} / {m['reconfigure']['median_ms']} (applying them: {m['apply_ms']})",
                     f"<= {GOALS['many_ips_noop_ms']}"))
    dr = r["noop"]["daemon_resync"]
    rows.append(("daemon resync (no-op pass), Tencent tree (ms)", f"p50 {dr['pass_ms']['p50']}, p99 {dr['pass_ms']['p99']} (n={dr['passes']})",
                 f"<= {GOALS['noop_ms']}"))
    rows.append(("metadata requests per resync, Tencent tree", f"{dr['metadata_requests_per_resync']}", ""))
    if "restore" in r:
        rs = r["restore"]
        rows.append((f"restore: all {rs['rules']} rules deleted by another program -> all back (ms)",
                     f"p50 {rs['restore_ms']['p50']}, p99 {rs['restore_ms']['p99']} (n={rs['restore_ms']['n']}), "
                     f"metadata requests meanwhile: {rs['metadata_requests_before_back']}", ""))
    f = r["footprint"]
    for label, m in (("idle", f["idle"]), ("right after the start pass", f["after_start_pass"])):
        rows.append((f"RSS / PSS / private dirty, {label} (MB)",
                     f"{m['rss_kb'] / 1024:.1f} / {m['pss_kb'] / 1024:.1f} / {m['private_dirty_kb'] / 1024:.1f}",
                     f"private dirty <= {GOALS['private_dirty_mb']}" if label == "idle" else ""))
    rows.append(("threads / fds, idle", f"{f['idle']['threads']} / {f['idle']['fds']}", ""))
    rows.append(("binary (MB): as built / stripped (packaged)", f"{f['binary_bytes'] / 1e6:.1f} / {f['binary_stripped_bytes'] / 1e6:.1f}", ""))
    rows.append(("start to READY=1: nothing to do / 8 x 30 to configure (ms, p50)",
                 f"{f['ready_ms_nothing_to_do']['p50']} / {f['ready_ms_8x30_from_nothing']['p50']}", ""))
    w, u = f["wakeups_idle"], f["wakeups_unit_defaults"]
    rows.append((f"wakeups per minute, idle between resyncs ({w['seconds']} s)",
                 f"{w['per_minute']}: {w['busiest_thread_per_minute']} on the busiest thread, "
                 f"{w['other_threads_per_minute']} on all others", "0"))
    rows.append((f"wakeups per minute, 30 s resync + 2 min watchdog ({u['seconds']} s)",
                 f"{u['per_minute']} ({u['watchdog_pings']} watchdog pings)", ""))
    c = r["churn"]
    lo = c["leftovers"]
    rows.append((f"churn {c['cycles']} x {c['enis']} ENIs: leftover rules / routes / addresses / files",
                 f"{lo['rules']} / {lo['routes']} / {lo['addresses']} / {lo['files']}", "0"))
    rows.append(("churn: fds before -> after", f"{len(c['fds_before'])} -> {len(c['fds_after'])}", "equal"))
    rows.append(("churn: RSS / private dirty before -> after (MB)",
                 f"{c['before']['rss_kb'] / 1024:.1f} / {c['before']['private_dirty_kb'] / 1024:.1f} -> "
                 f"{c['after']['rss_kb'] / 1024:.1f} / {c['after']['private_dirty_kb'] / 1024:.1f}", ""))
    rows.append(("churn: warnings and errors logged", f"{c['warnings_and_errors_logged']}", "0"))
    w = [max(len(row[k]) for row in rows) for k in range(3)]
    lines = ["| " + " | ".join(row[k].ljust(w[k]) for k in range(3)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w[k] for k in range(3)) + " |")
    return "\n".join(lines)


def write_doc(path, r, table):
    with open(os.path.join(os.path.dirname(__file__), "benchmarks.md.in")) as f:
        template = f.read()
    m = r["machine"]
    machine_line = (f"{m['cpu']}, {m['cores']} cores, {m['memory_mb']} MB, Linux {m['kernel']}, {m['os']}; "
                    f"{m['iproute2']}; {m['hyperfine']}")
    doc = (template.replace("@TABLE@", table).replace("@MACHINE@", machine_line).replace("@DATE@", r["date"])
           .replace("@VERSION@", r["version"]).replace("@SECONDS@", str(r["seconds"])))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
