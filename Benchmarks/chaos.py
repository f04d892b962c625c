#!/usr/bin/env python3
"""Benchmarks/chaos.py - DNS capacity while the control plane is abused (issue 12).

Starts a release `globaldns` on loopback (DNS 127.0.0.1:DNS_PORT, API 127.0.0.1:API_PORT, a write
token, the repository's zones/), stores a few NameServices, then measures DNS QPS with dnsperf
(saturating, -l DURATION) once without abuse (the baseline) and once during each flood below, and
prints each flood's QPS as a ratio to the mean of the baselines measured just before and just after
it (interleaved, since the machine's own QPS drifts over a run). After every flood it checks that the server is
still alive, answers a UDP dig and a fresh TCP dig, and reports its RSS and open descriptors.

On a machine with two or more CPUs the server is pinned to CPU 0 and dnsperf plus the flood
clients to CPU 1 (the floods at nice 19, so dnsperf keeps its offered load): whatever the API
costs comes out of the server's own core, which is what the ratio is meant to show.

Floods (each runs for the whole dnsperf run; all traffic goes to 127.0.0.1 only):
  api-lists      64 keep-alive connections looping unauthenticated GET /v1/nameservices and /metrics
  watch-stall    200 watches that never read while a writer replaces a 300-target object 10x/s
  watch-replay   connections opening watch&resourceVersion=1 and resetting at once, in a loop
  idle-conns     as many idle API connections as the server accepts (up to 5,000)
  slowloris      1,000 connections sending a request head one byte per second
  yaml-bomb      4 writers PUTting a 600-byte YAML body of nested aliases used as a mapping key
  dns-tcp-hog    300 DNS TCP connections from one address, each sending a query every 4 s
  ratio-heavy    a Ratio NameService at the spec caps with maxAnswers, queried 50 times a second

Goal (issue 12): ratio >= 0.9 during the API and watch floods.

Usage: Benchmarks/chaos.py [--bin .build/release/globaldns] [--duration 10] [--only a,b]
       (make chaos builds the release binary first)
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "chaos-token-0123456789abcdef"
FLOODS = ["api-lists", "watch-stall", "watch-replay", "idle-conns", "slowloris", "yaml-bomb",
          "dns-tcp-hog", "ratio-heavy"]


def log(msg):
    print(f"chaos: {msg}", flush=True)


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


class Server:
    def __init__(self, binary, scratch, pin):
        self.dns_port = free_port()
        self.api_port = free_port()
        while self.api_port == self.dns_port:
            self.api_port = free_port()
        self.scratch = scratch
        os.makedirs(f"{scratch}/state", exist_ok=True)
        config = f"{scratch}/globaldns.yaml"
        with open(config, "w") as f:
            f.write(f"dns: {{listen: [127.0.0.1:{self.dns_port}], drainTimeoutSeconds: 1}}\n"
                    f"zones: {{directory: {REPO}/zones}}\n"
                    f"api: {{listen: 127.0.0.1:{self.api_port}}}\n"
                    f"state: {{directory: {scratch}/state}}\n"
                    "log: {level: warning}\n")
        cmd = [binary, "--config", config]
        if pin:
            cmd = ["taskset", "-c", "0"] + cmd
        env = dict(os.environ, GLOBALDNS_API_TOKEN=TOKEN)
        self.log = open(f"{scratch}/globaldns.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"chaos: globaldns exited with {self.proc.returncode}; see {scratch}/globaldns.log")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("chaos: globaldns did not become ready in 60 s")

    def request(self, method, path, body=None, ctype="application/json", timeout=10):
        req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", method=method, data=body)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        if body is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def probe_get(self, path, timeout=5):
        """GET from 127.0.0.2, another client than the floods: its status, 0 if none in time."""
        import http.client
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout, source_address=("127.0.0.2", 0))
            c.request("GET", path)
            status = c.getresponse().status
            c.close()
            return status
        except OSError:
            return 0

    def put(self, name, spec):
        body = json.dumps({"apiVersion": "globaldns.io/v1alpha1", "kind": "NameService",
                           "metadata": {"name": name}, "spec": spec}).encode()
        status, text = self.request("PUT", f"/v1/nameservices/{name}", body)
        if status not in (200, 201):
            raise SystemExit(f"chaos: PUT {name}: {status} {text[:300]!r}")

    def alive(self):
        return self.proc.poll() is None

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return -1

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def dig(server, name, tcp=False):
    """Asks from 127.0.0.2: another client than the floods (per-client caps are per address)."""
    cmd = ["dig", "-b", "127.0.0.2", "@127.0.0.1", "-p", str(server.dns_port), name, "+short", "+time=2", "+tries=1"]
    if tcp:
        cmd.append("+tcp")
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() != ""


def dnsperf(server, qfile, duration, pin):
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.dns_port), "-d", qfile, "-l", str(duration),
           "-c", "8", "-q", "256", "-t", "2"]
    if pin:
        cmd = ["taskset", "-c", "1"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


# --- flood clients (threads in a child process started at nice 19) ---

def http_get_loop(port, path, stop):
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                while not stop.is_set():
                    s.sendall(req)
                    read_response(s)
        except OSError:
            time.sleep(0.05)


def read_response(s):
    """Reads one HTTP/1.1 response (Content-Length or chunked) and returns its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if m:
        need = int(m.group(1)) - len(rest)
        while need > 0:
            chunk = s.recv(min(need, 1 << 20))
            if not chunk:
                raise OSError("closed")
            need -= len(chunk)
        return status
    if re.search(rb"(?i)transfer-encoding:\s*chunked", head):
        buf = rest
        while not buf.endswith(b"0\r\n\r\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise OSError("closed")
            buf += chunk
    return status


def flood_api_lists(server, stop):
    threads = []
    for i in range(64):
        path = "/metrics" if i % 4 == 0 else "/v1/nameservices"
        threads.append(threading.Thread(target=http_get_loop, args=(server.api_port, path, stop), daemon=True))
    return threads


def big_spec(i, targets=300):
    return {"fqdn": f"big.g.example.com", "ttl": 30, "policy": "RoundRobin",
            "targets": [{"name": f"t{n}", "addresses": [f"198.51.100.{n % 250 + 1}"], "locality": f"r{i % 3}/z/s"}
                        for n in range(targets)]}


def flood_watch_stall(server, stop):
    socks = []

    def open_watchers():
        for _ in range(200):
            if stop.is_set():
                return
            try:
                s = socket.create_connection(("127.0.0.1", server.api_port), timeout=5)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)  # never read
            except OSError:
                pass
        stop.wait()
        for s in socks:
            s.close()

    def writer():
        i = 0
        while not stop.is_set():
            try:
                server.put("big", big_spec(i))
            except (OSError, SystemExit):
                pass
            i += 1
            time.sleep(0.1)

    return [threading.Thread(target=open_watchers, daemon=True), threading.Thread(target=writer, daemon=True)]


def flood_watch_replay(server, stop):
    def loop():
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", server.api_port), timeout=5)
                s.sendall(b"GET /v1/nameservices?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: x\r\n\r\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()  # RST at once
            except OSError:
                time.sleep(0.05)
    return [threading.Thread(target=loop, daemon=True) for _ in range(8)]


def flood_idle(server, stop, count=5000):
    def run():
        socks = []
        for _ in range(count):
            if stop.is_set():
                break
            try:
                socks.append(socket.create_connection(("127.0.0.1", server.api_port), timeout=2))
            except OSError:
                time.sleep(0.01)
        stop.wait()
        for s in socks:
            s.close()
    return [threading.Thread(target=run, daemon=True)]


def keep_sending(socks, payload, period, stop, read=False):
    """Every `period` seconds sends `payload` on each socket (and, with `read`, takes whatever
    answer is waiting without blocking) until `stop`; sockets the server closed are dropped."""
    while not stop.is_set():
        for s in list(socks):
            try:
                s.sendall(payload)
                if read:
                    try:
                        s.recv(65536, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        pass
            except OSError:
                socks.remove(s)
        stop.wait(period)
    for s in socks:
        s.close()


def flood_slowloris(server, stop, count=1000):
    def run():
        socks = []
        for _ in range(count):
            try:
                s = socket.create_connection(("127.0.0.1", server.api_port), timeout=2)
                s.sendall(b"GET /v1/nameservices HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                pass
        keep_sending(socks, b"X", 1, stop)
    return [threading.Thread(target=run, daemon=True)]


def yaml_bomb():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{','.join([prev] * 9)}]")
    lines.append("? *a8")
    lines.append(": x")
    return ("\n".join(lines) + "\n").encode()


def flood_yaml_bomb(server, stop):
    body = yaml_bomb()

    def loop():
        while not stop.is_set():
            try:
                server.request("PUT", "/v1/nameservices/bomb", body, ctype="application/yaml", timeout=120)
            except OSError:
                time.sleep(0.05)
    return [threading.Thread(target=loop, daemon=True) for _ in range(4)]


def dns_query(name, qid):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"
    return header + q + struct.pack(">HH", 1, 1)


def flood_dns_tcp_hog(server, stop, count=300):
    def run():
        socks = []
        for _ in range(count):
            try:
                socks.append(socket.create_connection(("127.0.0.1", server.dns_port), timeout=2))
            except OSError:
                pass
        q = dns_query("www.g.example.com", 7)
        framed = struct.pack(">H", len(q)) + q
        keep_sending(socks, framed, 4, stop, read=True)
    return [threading.Thread(target=run, daemon=True)]


def flood_ratio_heavy(server, stop):
    def run():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        q = dns_query("heavy.g.example.com", 9)
        while not stop.is_set():
            s.sendto(q, ("127.0.0.1", server.dns_port))
            try:
                s.recv(65536)
            except OSError:
                pass
            stop.wait(0.02)
    return [threading.Thread(target=run, daemon=True)]


def heavy_spec(server):
    """The largest Ratio spec the server accepts (halving the target count on 422)."""
    n = 1000
    while n >= 1:
        spec = {"fqdn": "heavy.g.example.com", "ttl": 30, "policy": "Ratio", "maxAnswers": n,
                "targets": [{"name": f"t{i}", "ratio": i % 100 + 1,
                             "addresses": [f"127.1.{i // 250}.{i % 250 + 1}"]}
                            for i in range(n)]}
        body = json.dumps({"apiVersion": "globaldns.io/v1alpha1", "kind": "NameService",
                           "metadata": {"name": "heavy"}, "spec": spec}).encode()
        status, _ = server.request("PUT", "/v1/nameservices/heavy", body)
        if status in (200, 201):
            return n
        n //= 2
    return 0


BUILDERS = {
    "api-lists": flood_api_lists, "watch-stall": flood_watch_stall, "watch-replay": flood_watch_replay,
    "idle-conns": flood_idle, "slowloris": flood_slowloris, "yaml-bomb": flood_yaml_bomb,
    "dns-tcp-hog": flood_dns_tcp_hog, "ratio-heavy": flood_ratio_heavy,
}


def run_flood_child(args):
    """The flood client process: `chaos.py --flood NAME --dns-port P --api-port A`, until SIGTERM."""
    class Target:  # the parts of Server the floods use
        dns_port = args.dns_port
        api_port = args.api_port
        request = Server.request
        put = Server.put
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for t in BUILDERS[args.flood](Target(), stop):
        t.start()
    stop.wait()
    time.sleep(0.5)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=f"{REPO}/.build/release/globaldns")
    p.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run (default 10)")
    p.add_argument("--only", default=",".join(FLOODS), help="comma-separated floods")
    p.add_argument("--flood", help=argparse.SUPPRESS)
    p.add_argument("--dns-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--api-port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.flood:
        return run_flood_child(args)

    for tool in ("dnsperf", "dig"):
        if not shutil.which(tool):
            raise SystemExit(f"chaos: {tool} is not installed (make deps)")
    floods = [f for f in args.only.split(",") if f]
    for f in floods:
        if f not in BUILDERS:
            raise SystemExit(f"chaos: unknown flood {f!r}; known: {', '.join(FLOODS)}")
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    scratch = tempfile.mkdtemp(prefix="globaldns-chaos.")
    server = Server(args.bin, scratch, pin)
    log(f"globaldns pid {server.proc.pid}: DNS 127.0.0.1:{server.dns_port}, API 127.0.0.1:{server.api_port}, "
        f"scratch {scratch}, pinned: {pin}")
    rows = []
    try:
        for i in range(200):
            server.put(f"svc{i}", {"fqdn": f"svc{i}.g.example.com", "ttl": 30, "policy": "RoundRobin",
                                   "targets": [{"name": "a", "addresses": [f"192.0.2.{i % 250 + 1}"]},
                                               {"name": "b", "addresses": [f"198.51.100.{i % 250 + 1}"]}]})
        heavy = heavy_spec(server) if "ratio-heavy" in floods else 0
        if "ratio-heavy" in floods:
            log(f"ratio-heavy: the largest accepted Ratio spec has {heavy} targets and maxAnswers {heavy}")
        qfile = f"{scratch}/queries"
        with open(qfile, "w") as f:
            for i in range(200):
                f.write(f"svc{i}.g.example.com A\n")
            f.write("www.g.example.com A\ndocs.g.example.com A\nnope.g.example.com A\n")
        time.sleep(1)
        if not dig(server, "svc1.g.example.com"):
            raise SystemExit("chaos: svc1.g.example.com does not answer before any flood")

        dnsperf(server, qfile, 3, pin)  # warm-up: the first seconds of a fresh process are slower
        baseline = dnsperf(server, qfile, args.duration, pin)
        log(f"baseline: {baseline:,.0f} QPS")
        before = baseline
        rows.append(("(none)", baseline, 1.0, True, True, True, server.rss_mib(), server.fds()))
        for name in floods:
            child = subprocess.Popen(
                (["taskset", "-c", "1"] if pin else []) +
                ["nice", "-n", "19", sys.executable, os.path.abspath(__file__), "--flood", name,
                 "--dns-port", str(server.dns_port), "--api-port", str(server.api_port)])
            time.sleep(3)  # let the flood build up
            qps = dnsperf(server, qfile, args.duration, pin)
            udp_ok = dig(server, "svc2.g.example.com")
            tcp_ok = dig(server, "svc3.g.example.com", tcp=True)
            status = server.probe_get("/v1/nameservices/svc1")
            rss, fds = server.rss_mib(), server.fds()
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
            alive = server.alive()
            time.sleep(2)
            # Interleaved: a baseline right after each flood too; the flood's ratio is to the mean
            # of the baselines just before and just after it (this machine drifts by 20 % and more
            # over a run, so a ratio to one early baseline measures the drift).
            after = dnsperf(server, qfile, args.duration, pin) if alive else 0
            ratio = qps / ((before + after) / 2) if before + after > 0 else 0
            log(f"{name}: baselines around it {before:,.0f} / {after:,.0f} QPS")
            before = after
            log(f"{name}: {qps:,.0f} QPS ({ratio:.2f}x), alive={alive}, udp dig={udp_ok}, fresh tcp dig={tcp_ok}, "
                f"api GET={status}, RSS {rss:.0f} MiB, fds {fds}")
            rows.append((name, qps, ratio, alive, udp_ok, tcp_ok, rss, fds))
            if not alive:
                log(f"globaldns died during {name}; see {scratch}/globaldns.log")
                break
        if server.alive():
            log(f"last baseline: {before:,.0f} QPS ({before / baseline:.2f}x of the first)")
    finally:
        server.stop()

    print()
    print("| flood | DNS QPS | x baselines around it | alive | UDP dig | fresh TCP dig (other client) | RSS MiB | fds |")
    print("|---|---:|---:|---|---|---|---:|---:|")
    for name, qps, ratio, alive, udp, tcp, rss, fds in rows:
        print(f"| {name} | {qps:,.0f} | {ratio:.2f} | {alive} | {udp} | {tcp} | {rss:.0f} | {fds} |")
    failed = [r[0] for r in rows if not (r[3] and r[4])]
    if failed:
        print(f"\nchaos: the server died or stopped answering UDP during: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
