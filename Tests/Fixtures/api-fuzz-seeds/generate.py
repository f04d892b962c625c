#!/usr/bin/env python3
"""Writes the seed corpus of Fuzz/APIFuzz: one request per file (see Fuzz/Sources/APIFuzz).

Byte 0: bits 0-1 the method (0 GET, 1 PUT, 2 DELETE, 3 PUT), bits 2-3 the Content-Type (0 none,
1 application/json, 2 application/yaml, 3 text/plain), bit 4 set = no bearer token. Then the
request target up to a newline, then the body. Run from this folder: python3 generate.py
"""
import json

GET, PUT, DELETE = 0, 1, 2
NONE, JSON, YAML, TEXT = 0, 1 << 2, 2 << 2, 3 << 2
NOAUTH = 0x10


def seed(name, flags, target, body=b""):
    if isinstance(body, str):
        body = body.encode()
    with open(f"{name}.bin", "wb") as f:
        f.write(bytes([flags]) + target.encode() + b"\n" + body)


def ns(name="checkout", **spec):
    s = {"fqdn": f"{name}.g.example.com", "ttl": 30, "policy": "RoundRobin",
         "targets": [{"name": "a", "addresses": ["192.0.2.10"], "locality": "us-west/us-west-1a/x"},
                     {"name": "b", "addresses": ["2001:db8::1"], "ratio": 3}]}
    s.update(spec)
    return {"apiVersion": "globaldns.io/v1alpha1", "kind": "NameService", "metadata": {"name": name}, "spec": s}


seed("put-json", PUT | JSON, "/v1/nameservices/checkout", json.dumps(ns()))
seed("put-ratio", PUT | JSON, "/v1/nameservices/canary", json.dumps(ns("canary", policy="Ratio", maxAnswers=2)))
seed("put-locality", PUT | JSON, "/v1/nameservices/geo", json.dumps(ns("geo", policy="Locality", failover=[{"from": "us-west", "to": "us-east"}])))
seed("put-healthcheck", PUT | JSON, "/v1/nameservices/hc", json.dumps(ns("hc", healthCheck={"port": 443, "intervalSeconds": 2.5, "timeoutSeconds": 1})))
seed("put-yaml", PUT | YAML, "/v1/nameservices/y", """apiVersion: globaldns.io/v1alpha1
kind: NameService
metadata: {name: y, labels: {team: payments}}
spec:
  fqdn: y.g.example.com
  ttl: 30
  policy: RoundRobin
  targets:
  - {name: a, addresses: [192.0.2.1]}
""")
seed("put-sniffed", PUT | NONE, "/v1/nameservices/checkout", json.dumps(ns()))
seed("put-noauth", PUT | JSON | NOAUTH, "/v1/nameservices/checkout", json.dumps(ns()))
seed("put-duplicate-member", PUT | JSON, "/v1/nameservices/dup",
     '{"metadata":{"name":"dup"},"spec":' + json.dumps(ns("dup")["spec"]) + ',"spec":{"fqdn":"other.g.example.com"}}')
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 9):
    lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
lines += ["? *a8", ": x"]
seed("put-yaml-alias-bomb", PUT | YAML, "/v1/nameservices/bomb", "\n".join(lines) + "\n")
seed("put-deep-json", PUT | JSON, "/v1/nameservices/deep", "[" * 5000 + "]" * 5000)
seed("put-bad-version", PUT | JSON, "/v1/nameservices/checkout",
     json.dumps(dict(ns(), metadata={"name": "checkout", "resourceVersion": "99999999999999999999"})))
seed("get-one", GET, "/v1/nameservices/checkout")
seed("get-status", GET, "/v1/nameservices/checkout/status")
seed("list", GET, "/v1/nameservices")
seed("list-selector", GET, "/v1/nameservices?labelSelector=team%3Dpayments,env!=prod,tier+in+(a,b),!legacy")
seed("list-paged", GET, "/v1/nameservices?limit=2&continue=abc")
seed("list-limit", GET, "/v1/nameservices?limit=1&labelSelector=team%3Dpayments")
seed("list-continue", GET, "/v1/nameservices?limit=1&continue=3%3Acheckout")
seed("list-limit-bad", GET, "/v1/nameservices?limit=-99999999999999999999999")
seed("watch-scratch-limit", GET, "/v1/nameservices?watch=true&limit=1&timeoutSeconds=0.01")
seed("watch-timeout-huge", GET | NOAUTH, "/v1/nameservices?watch=true&timeoutSeconds=1e300")
seed("watch-timeout-inf", GET | NOAUTH, "/v1/nameservices?watch=true&timeoutSeconds=inf")
seed("watch-timeout-nan", GET | NOAUTH, "/v1/nameservices?watch=1&timeoutSeconds=nan")
seed("watch-future", GET | NOAUTH, "/v1/nameservices?watch=true&resourceVersion=9223372036854775807")
seed("watch-negative", GET | NOAUTH, "/v1/nameservices?watch=true&resourceVersion=-1")
seed("delete", DELETE, "/v1/nameservices/checkout?resourceVersion=3")
seed("drain", PUT | JSON, "/v1/nameservices/checkout/targets/a/drain", '{"reason":"kernel","durationSeconds":1e300}')
seed("drain-until", PUT | JSON, "/v1/nameservices/checkout/targets/a/drain", '{"reason":"kernel","until":"2099-01-01T00:00:00Z"}')
seed("undrain", DELETE, "/v1/nameservices/checkout/targets/a/drain")
seed("readyz", GET, "/readyz")
seed("metrics", GET, "/metrics")
