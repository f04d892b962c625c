#!/usr/bin/env python3
"""Apply-to-answer latency: how long from an acknowledged PUT to the first DNS answer that shows it.

Starts the release `globaldns` on loopback with a fresh state directory and the example zone, loads
N NameServices through the HTTP API (default 10,000), then, SAMPLES times, changes one NameService's
address and polls the server over UDP (a raw DNS query every 0.2 ms) until the answer carries the
new address. The latency is measured from the moment the PUT's response arrived (the write is
durable) to the first answer that shows it. Prints p50, p90, p99 and max, and the bulk-load rate.

Only 127.0.0.1 is used. Usage: Benchmarks/apply-latency.py [--names N] [--samples S]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def manifest(name, address):
    return json.dumps({
        "apiVersion": "globaldns.io/v1alpha1", "kind": "NameService",
        "metadata": {"name": name, "labels": {"bench": "apply-latency"}},
        "spec": {"fqdn": f"{name}.g.example.com", "ttl": 30, "policy": "RoundRobin",
                 "targets": [{"name": "gw", "addresses": [address], "locality": "us-west/us-west-1a"}]},
    })


def query(name):
    qid = random.randint(0, 65535)
    header = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
    return qid, header + qname + struct.pack(">HH", 1, 1)


def first_a(reply):
    """The first A record's address in a reply to our query (owner is a pointer, RDATA 4 bytes)."""
    ancount = struct.unpack(">H", reply[6:8])[0]
    if ancount == 0:
        return None
    i = 12
    while reply[i] != 0:
        i += 1 + reply[i]
    i += 5  # root + qtype + qclass
    # owner (pointer) 2, type 2, class 2, ttl 4, rdlength 2
    return socket.inet_ntoa(reply[i + 12:i + 16])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args()

    binary = os.path.join(subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"],
                                                  cwd=REPO, text=True).strip(), "globaldns")
    state = tempfile.mkdtemp(prefix="globaldns-apply-")
    dns_port, api_port = free_port(), free_port()
    server = subprocess.Popen([binary, "--zones", os.path.join(REPO, "zones"), "--dns-listen", f"127.0.0.1:{dns_port}",
                               "--api-listen", f"127.0.0.1:{api_port}", "--state", state, "--log-level", "warning"])
    try:
        conn = None
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
                conn.request("GET", "/readyz")
                if conn.getresponse().read() and True:
                    break
            except OSError:
                time.sleep(0.1)
        headers = {"Content-Type": "application/json"}

        t0 = time.monotonic()
        for i in range(args.names):
            conn.request("PUT", f"/v1/nameservices/n{i}", manifest(f"n{i}", f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"), headers)
            r = conn.getresponse()
            r.read()
            if r.status // 100 != 2:
                sys.exit(f"bulk load failed at n{i}: HTTP {r.status}")
        load_s = time.monotonic() - t0

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.05)
        # The last loaded name must be answered before measuring.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            qid, q = query(f"n{args.names - 1}.g.example.com")
            sock.sendto(q, ("127.0.0.1", dns_port))
            try:
                if first_a(sock.recv(4096)):
                    break
            except socket.timeout:
                pass

        latencies = []
        for k in range(args.samples):
            i = random.randrange(args.names)
            new = f"172.{16 + k % 16}.{k // 256 % 256}.{k % 256}"
            conn.request("PUT", f"/v1/nameservices/n{i}", manifest(f"n{i}", new), headers)
            r = conn.getresponse()
            r.read()
            acked = time.monotonic()
            if r.status // 100 != 2:
                sys.exit(f"update failed: HTTP {r.status}")
            name = f"n{i}.g.example.com"
            while True:
                qid, q = query(name)
                sock.sendto(q, ("127.0.0.1", dns_port))
                try:
                    reply = sock.recv(4096)
                except socket.timeout:
                    continue
                if first_a(reply) == new:
                    latencies.append(time.monotonic() - acked)
                    break
                if time.monotonic() - acked > 10:
                    sys.exit(f"{name} did not show {new} within 10 s")
                time.sleep(0.0002)

        latencies.sort()
        def pct(p):
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
        print(f"apply-to-answer latency at {args.names} NameServices, {len(latencies)} updates (ms): "
              f"p50 {pct(50):.2f}  p90 {pct(90):.2f}  p99 {pct(99):.2f}  max {latencies[-1] * 1000:.2f}")
        print(f"bulk load: {args.names} PUTs in {load_s:.1f} s ({args.names / load_s:.0f}/s, one connection, each durable)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
