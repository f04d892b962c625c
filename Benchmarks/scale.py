#!/usr/bin/env python3
"""GlobalDNS at the platform's size: 10k, 100k and 1M NameServices on one replica (issue 13).

For each size N (release build, `--threads 1`, a fresh state directory, the example zone, the API's
rate limit off for the loader), on 127.0.0.1 only:

- load: N NameServices created through the HTTP API at concurrency 32 (4 processes x 8 keep-alive
  connections; `api.threads: 2`, `api.maxRequestsInFlightPerClient: 32`), 4 targets each, half Locality and half RoundRobin, no healthCheck; time and rate;
- memory after the load settles: RSS and VmHWM of the server, the SQLite file's size;
- apply -> answer: from the 2xx of a PUT changing one name's address to the first UDP answer
  showing it, p50/p99 over SAMPLES changes, idle and while 100 updates/s stream in;
- lists: `GET /v1/nameservices` (all, one streamed body), the same in pages of 500 (`limit` /
  `continue`), a watch from scratch until N ADDED events, `globaldnsctl get` (time, client max RSS);
- restart: SIGTERM, start again; start -> ready (/readyz 200 and the last name answered), and start
  -> settled (the store revision still for 3 s) with the number of writes it made meanwhile;
- DNS: dnsperf (10 s, queries spread over all names) against this server and, in the same run, a
  server with 100 names: the QPS ratio.

Usage: Benchmarks/scale.sh [--sizes 10000,100000,1000000] [--samples 200] [--skip-lists]
Prints one Markdown table row per size and a JSON line with every figure.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def address(i, k):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" if k == 0 else f"10.{64 + k}.{(i >> 8) & 255}.{i & 255}"


def manifest(i, first=None):
    locality = i % 2 == 0
    targets = []
    for k in range(4):
        a = first if (k == 0 and first) else address(i, k)
        t = {"name": f"t{k}", "addresses": [a]}
        if locality:
            t["locality"] = ["us-east/us-east-1a", "us-east/us-east-1b", "us-west/us-west-1a", "eu-west/eu-west-1a"][k]
        targets.append(t)
    return json.dumps({
        "apiVersion": "globaldns.io/v1alpha1", "kind": "NameService",
        "metadata": {"name": f"n{i}", "labels": {"bench": "scale", "shard": str(i % 100)}},
        "spec": {"fqdn": f"n{i}.g.example.com", "ttl": 30, "policy": "Locality" if locality else "RoundRobin",
                 "targets": targets},
    })


class Server:
    def __init__(self, binary, state, names_hint=""):
        self.binary = binary
        self.state = state
        self.dns_port = free_port()
        self.api_port = free_port()
        self.config = os.path.join(state, "..", os.path.basename(state) + ".yaml")
        with open(self.config, "w") as f:
            f.write(f"""dns:
  listen: ["127.0.0.1:{self.dns_port}"]
zones:
  directory: {os.path.join(REPO, "zones")}
api:
  listen: 127.0.0.1:{self.api_port}
  rateLimit: {{requestsPerSecond: 0}}
  # the loader is one client with 32 connections: let them all be in flight, as before the
  # per-client caps (a fleet of controllers is many clients)
  maxRequestsInFlightPerClient: 32
  threads: 2
state:
  directory: {state}
log:
  level: warning
""")
        self.proc = None

    def start(self):
        self.started = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "--config", self.config, "--threads", "1"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.state + ".log", "a"))

    def api(self, timeout=600):
        return http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)

    def wait_ready(self, timeout=900):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode}; see {self.state}.log")
            try:
                c = self.api(5)
                c.request("GET", "/readyz")
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit("server not ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            t = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return time.monotonic() - t
        return 0

    def memory(self):
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS", "VmHWM")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0]) * 1024
        return out

    def revision(self):
        c = self.api()
        c.request("GET", "/v1/nameservices?limit=1")
        r = c.getresponse()
        body = json.loads(r.read())
        return int(body["metadata"]["resourceVersion"])


def query(name, qtype=1):
    qid = random.randint(0, 65535)
    header = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
    return header + qname + struct.pack(">HH", qtype, 1)


def answers(reply):
    """The A addresses in a reply to our query (owner pointers, RDATA 4 bytes)."""
    ancount = struct.unpack(">H", reply[6:8])[0]
    i = 12
    while reply[i] != 0:
        i += 1 + reply[i]
    i += 5
    out = []
    for _ in range(ancount):
        rtype, rdlen = struct.unpack(">H", reply[i + 2:i + 4])[0], struct.unpack(">H", reply[i + 10:i + 12])[0]
        if rtype == 1:
            out.append(socket.inet_ntoa(reply[i + 12:i + 16]))
        i += 12 + rdlen
    return out


def loader(args):
    api_port, names, threads = args
    chunks = [names[k::threads] for k in range(threads)]
    failures = []

    def run(chunk):
        c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=120)
        for i in chunk:
            for attempt in range(5):
                try:
                    c.request("PUT", f"/v1/nameservices/n{i}", manifest(i), {"Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    if r.status // 100 == 2:
                        break
                    failures.append(f"n{i}: HTTP {r.status}")
                    break
                except (OSError, http.client.HTTPException):
                    c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=120)
    ts = [threading.Thread(target=run, args=(ch,)) for ch in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return failures


def load(server, n, start=0):
    names = list(range(start, n))
    procs = 4
    t0 = time.monotonic()
    with multiprocessing.Pool(procs) as pool:
        failures = sum(pool.map(loader, [(server.api_port, names[k::procs], 8) for k in range(procs)]), [])
    if failures:
        sys.exit(f"load failed: {failures[:5]}")
    return time.monotonic() - t0


def wait_answer(server, name, expected, timeout=120):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.sendto(query(name), ("127.0.0.1", server.dns_port))
        try:
            if expected in answers(s.recv(65535)):
                return True
        except socket.timeout:
            pass
        time.sleep(0.0002)
    return False


def apply_latency(server, n, samples, background_rate=0):
    stop = threading.Event()
    def background():
        c = server.api()
        k = 0
        while not stop.is_set():
            t = time.monotonic()
            i = random.randrange(n)
            c.request("PUT", f"/v1/nameservices/n{i}", manifest(i, f"172.31.{k // 256 % 256}.{k % 256}"),
                      {"Content-Type": "application/json"})
            c.getresponse().read()
            k += 1
            time.sleep(max(0, 1 / background_rate - (time.monotonic() - t)))
    bg = None
    if background_rate:
        bg = threading.Thread(target=background)
        bg.start()
    c = server.api()
    lat = []
    try:
        for k in range(samples):
            i = random.randrange(n)
            if i % 2 == 0:
                i += 1  # RoundRobin names: every target answered, so the new address shows at once
                i %= n
            new = f"172.16.{k // 256 % 256}.{k % 256}"
            c.request("PUT", f"/v1/nameservices/n{i}", manifest(i, new), {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            acked = time.monotonic()
            if r.status // 100 != 2:
                sys.exit(f"update failed: HTTP {r.status}")
            if not wait_answer(server, f"n{i}.g.example.com", new, 30):
                sys.exit(f"n{i} did not show {new}")
            lat.append(time.monotonic() - acked)
    finally:
        stop.set()
        if bg:
            bg.join()
    lat.sort()
    return {"p50_ms": round(lat[len(lat) // 2] * 1000, 2), "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2)}


def timed_get(server, path):
    """Seconds and bytes for one GET read to the end."""
    c = server.api()
    t = time.monotonic()
    c.request("GET", path)
    r = c.getresponse()
    size = 0
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        size += len(b)
    return time.monotonic() - t, size, r.status


def paged_list(server):
    c = server.api()
    t = time.monotonic()
    token = None
    count = 0
    while True:
        path = "/v1/nameservices?limit=500" + (f"&continue={token}" if token else "")
        c.request("GET", path)
        body = json.loads(c.getresponse().read())
        count += len(body.get("items", []))
        token = body.get("metadata", {}).get("continue")
        if not token:
            break
    return time.monotonic() - t, count


def watch_from_scratch(server, n):
    s = socket.create_connection(("127.0.0.1", server.api_port))
    t = time.monotonic()
    s.sendall(b"GET /v1/nameservices?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
    seen = 0
    buf = b""
    while seen < n:
        b = s.recv(1 << 20)
        if not b:
            break
        seen += b.count(b'"type":"ADDED"')
    s.close()
    return time.monotonic() - t, seen


def ctl_get(server, binary_dir):
    # /usr/bin/time reports the client's own peak RSS (RUSAGE_CHILDREN would include the loaders).
    t = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", os.path.join(binary_dir, "globaldnsctl"), "get",
                        "--server", f"http://127.0.0.1:{server.api_port}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - t
    err = p.stderr.decode()
    maxrss = 0
    for line in err.splitlines():
        if line.startswith("maxrss_kb="):
            maxrss = int(line.split("=")[1]) * 1024
    return elapsed, maxrss, p.returncode, err[-300:]


def dnsperf(server, names, seconds=10):
    qfile = server.state + ".queries"
    with open(qfile, "w") as f:
        for i in random.sample(range(names), min(names, 100000)):
            f.write(f"n{i}.g.example.com A\n")
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(server.dns_port), "-d", qfile, "-l", str(seconds),
                          "-c", "4", "-Q", "200000"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Queries per second" in line:
            return float(line.split()[-1])
    return 0.0


def measure(binary, binary_dir, n, samples, skip_lists, base_qps, skip_restart=False):
    work = tempfile.mkdtemp(prefix=f"globaldns-scale-{n}-")
    state = os.path.join(work, "state")
    os.makedirs(state)
    server = Server(binary, state)
    row = {"names": n}
    try:
        server.start()
        server.wait_ready()
        load_s = load(server, n)
        row["load_s"] = round(load_s, 1)
        row["load_rate"] = round(n / load_s)
        if not wait_answer(server, f"n{n - 1}.g.example.com", address(n - 1, 0), 600):
            sys.exit("the last name never answered")
        time.sleep(3)
        row.update({k: v for k, v in server.memory().items()})
        db = sum(os.path.getsize(os.path.join(state, f)) for f in os.listdir(state))
        row["db_bytes"] = db
        row["apply_idle"] = apply_latency(server, n, samples)
        row["apply_100ups"] = apply_latency(server, n, samples, background_rate=100)
        if not skip_lists:
            t, size, status = timed_get(server, "/v1/nameservices")
            row["list_all_s"], row["list_all_bytes"] = round(t, 2), size
            row["server_hwm_after_list"] = server.memory()["VmHWM"]
            t, count = paged_list(server)
            row["list_paged_s"] = round(t, 2)
            t, seen = watch_from_scratch(server, n)
            row["watch_scratch_s"] = round(t, 2)
            t, rss, rc, err = ctl_get(server, binary_dir)
            row["ctl_get_s"], row["ctl_get_rss"] = round(t, 2), rss
            if rc != 0:
                row["ctl_get_error"] = err
        row["qps"] = dnsperf(server, n)
        row["qps_ratio"] = round(row["qps"] / base_qps, 2) if base_qps else None
        if skip_restart:
            return row
        # Restart. The last name's answer as it is now (the apply-latency samples may have
        # changed its first address).
        c = server.api(30)
        c.request("GET", f"/v1/nameservices/n{n - 1}")
        last_answer = json.loads(c.getresponse().read())["spec"]["targets"][0]["addresses"][0]
        c.close()
        rev_before = server.revision()
        row["sigterm_s"] = round(server.stop(), 2)
        server.start()
        ready = server.wait_ready()
        if not wait_answer(server, f"n{n - 1}.g.example.com", last_answer, 600):
            sys.exit("after the restart, the last name never answered")
        row["restart_ready_s"] = round(time.monotonic() - server.started, 2)
        last, still = server.revision(), time.monotonic()
        while time.monotonic() - still < 3:
            time.sleep(0.5)
            r = server.revision()
            if r != last:
                last, still = r, time.monotonic()
        row["restart_settled_s"] = round(still - server.started, 2)
        row["restart_writes"] = last - rev_before
        row["settled_rss"] = server.memory()["VmRSS"]
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return row


def baseline_qps(binary):
    work = tempfile.mkdtemp(prefix="globaldns-scale-base-")
    state = os.path.join(work, "state")
    os.makedirs(state)
    server = Server(binary, state)
    try:
        server.start()
        server.wait_ready()
        load(server, 100)
        wait_answer(server, "n99.g.example.com", address(99, 0), 60)
        return dnsperf(server, 100)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def mb(b):
    return f"{b / 1e6:,.0f} MB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--skip-lists", action="store_true")
    ap.add_argument("--skip-restart", action="store_true")
    args = ap.parse_args()
    binary_dir = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, text=True).strip()
    binary = os.path.join(binary_dir, "globaldns")
    base = baseline_qps(binary)
    print(f"baseline: 100 names, {base:,.0f} QPS", flush=True)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        row = measure(binary, binary_dir, n, args.samples, args.skip_lists, base, args.skip_restart)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| | " + " | ".join(f"{r['names']:,}" for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    def line(label, f):
        print(f"| {label} | " + " | ".join(f(r) for r in rows) + " |")
    line("load through the API (concurrency 32)", lambda r: f"{r['load_s']} s, {r['load_rate']:,}/s")
    line("RSS / VmHWM after load", lambda r: f"{mb(r['VmRSS'])} / {mb(r['VmHWM'])}")
    line("RSS per NameService", lambda r: f"{r['VmRSS'] / r['names']:,.0f} B")
    line("SQLite files", lambda r: mb(r["db_bytes"]))
    line("apply → answer p50 / p99, idle", lambda r: f"{r['apply_idle']['p50_ms']} / {r['apply_idle']['p99_ms']} ms")
    line("same, under 100 updates/s", lambda r: f"{r['apply_100ups']['p50_ms']} / {r['apply_100ups']['p99_ms']} ms")
    if not args.skip_lists:
        line("`GET /v1/nameservices` (all, streamed)", lambda r: f"{r['list_all_s']} s, {mb(r['list_all_bytes'])}")
        line("server VmHWM after that list", lambda r: mb(r["server_hwm_after_list"]))
        line("paged list (limit 500)", lambda r: f"{r['list_paged_s']} s")
        line("watch from scratch (all ADDED)", lambda r: f"{r['watch_scratch_s']} s")
        line("`globaldnsctl get` (time, client max RSS)", lambda r: f"{r['ctl_get_s']} s, {mb(r['ctl_get_rss'])}")
    if not args.skip_restart:
        line("restart: start → ready (last name answered)", lambda r: f"{r['restart_ready_s']} s")
        line("restart: start → settled, store writes", lambda r: f"{r['restart_settled_s']} s, {r['restart_writes']}")
        line("RSS settled after restart", lambda r: mb(r["settled_rss"]))
        line("SIGTERM → exit", lambda r: f"{r['sigterm_s']} s")
    line("DNS QPS (dnsperf, 1 thread) ÷ 100-name server", lambda r: f"{r['qps_ratio']} ({r['qps']:,.0f})")


if __name__ == "__main__":
    main()
