#!/usr/bin/env python3
"""Writes the malformed-query corpus (Tests/Fixtures/malformed/*.bin) and the fuzzer's valid seed
queries (Tests/Fixtures/fuzz-seeds/*.bin). Deterministic: running it again gives the same bytes.

Each malformed file is listed in MALFORMED with the outcome QueryResponder must produce; the table
is repeated in README.md and asserted by Tests/DNSServerTests/MalformedCorpusTests.swift.
Usage: python3 Tests/Fixtures/malformed/generate.py   (from the repository root or anywhere)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "..", "fuzz-seeds")


def name(text):
    if text in (".", ""):
        return b"\x00"
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def hdr(id, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", id, flags, qd, an, ns, ar)


def q(qname="www.example.com.", qtype=1, qclass=1):
    return name(qname) + struct.pack(">HH", qtype, qclass)


def rr(owner, rtype, rclass, ttl, rdata, rdlen=None):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata) if rdlen is None else rdlen) + rdata


def opt(size=1232, version=0, do=False, options=b"", owner=b"\x00", rdlen=None):
    ttl = (version << 16) | (0x8000 if do else 0)
    return rr(owner, 41, size, ttl, options, rdlen)


def option(code, data, length=None):
    return struct.pack(">HH", code, len(data) if length is None else length) + data


def ecs(family, source, scope, address):
    return option(8, struct.pack(">HBB", family, source, scope) + bytes(address))


# (file name, bytes, expected outcome): "drop", or "RCODE/question" where question is "echo"
# (the question is copied back) or "none" (QDCOUNT 0 in the reply), and "+opt" when the reply must
# carry an OPT record.
MALFORMED = []


def add(fname, data, outcome):
    MALFORMED.append((fname, data, outcome))


ID = 0xF001
add("empty", b"", "drop")
add("short-11-bytes", hdr(0xF002)[:11], "drop")
add("response-qr1", hdr(0xF003, flags=0x8000) + q(), "drop")
add("response-qr1-formerr-shape", hdr(0xF004, flags=0x8000, qd=0), "drop")
add("header-only-qdcount-0", hdr(0xF005, qd=0), "FORMERR/none")
add("qdcount-0-with-question", hdr(0xF006, qd=0) + q(), "FORMERR/none")
add("qdcount-2", hdr(0xF007, qd=2) + q() + q("example.com.", 6), "FORMERR/none")
add("qname-compression-pointer", hdr(0xF008) + b"\xc0\x0c" + struct.pack(">HH", 1, 1), "FORMERR/none")
add("qname-pointer-loop", hdr(0xF009) + b"\x03www\xc0\x0c" + struct.pack(">HH", 1, 1), "FORMERR/none")
add("label-length-64", hdr(0xF00A) + bytes([64]) + b"a" * 64 + name("example.com.") + struct.pack(">HH", 1, 1),
    "FORMERR/none")
add("label-type-0x40", hdr(0xF00B) + bytes([0x41]) + b"a" * 0x41 + b"\x00" + struct.pack(">HH", 1, 1), "FORMERR/none")
add("label-type-0x80", hdr(0xF00C) + bytes([0x81]) + b"a" * 0x81 + b"\x00" + struct.pack(">HH", 1, 1), "FORMERR/none")
add("name-over-255", hdr(0xF00D) + (bytes([63]) + b"a" * 63) * 4 + b"\x00" + struct.pack(">HH", 1, 1), "FORMERR/none")
add("truncated-question-name", hdr(0xF00E) + name("www.example.com.")[:-1], "FORMERR/none")
add("truncated-question-type", hdr(0xF00F) + name("www.example.com.") + b"\x00\x01", "FORMERR/none")
add("truncated-opt", hdr(0xF010, ar=1) + q() + opt()[:7], "FORMERR/echo")
add("opt-rdlength-past-end", hdr(0xF011, ar=1) + q() + opt(options=option(3, b""), rdlen=10), "FORMERR/echo")
add("two-opt", hdr(0xF012, ar=2) + q() + opt() + opt(), "FORMERR/echo")
add("opt-non-root-owner", hdr(0xF013, ar=1) + q() + opt(owner=name("a.")), "FORMERR/echo")
add("opt-owner-pointer", hdr(0xF014, ar=1) + q() + opt(owner=b"\xc0\x0c"), "FORMERR/echo")
add("opt-option-past-rdata", hdr(0xF015, ar=1) + q() + opt(options=option(3, b"ab", length=10)), "FORMERR/echo")
add("opt-option-header-cut", hdr(0xF016, ar=1) + q() + opt(options=b"\x00\x03\x00"), "FORMERR/echo")
add("ecs-family-0", hdr(0xF017, ar=1) + q() + opt(options=ecs(0, 0, 0, [])), "FORMERR/echo")
add("ecs-family-3", hdr(0xF018, ar=1) + q() + opt(options=ecs(3, 8, 0, [10])), "FORMERR/echo")
add("ecs-v4-prefix-33", hdr(0xF019, ar=1) + q() + opt(options=ecs(1, 33, 0, [192, 0, 2, 1, 0])), "FORMERR/echo")
add("ecs-v6-prefix-129", hdr(0xF01A, ar=1) + q() + opt(options=ecs(2, 129, 0, [0x20, 1] + [0] * 15)), "FORMERR/echo")
add("ecs-address-too-long", hdr(0xF01B, ar=1) + q() + opt(options=ecs(1, 24, 0, [192, 0, 2, 0])), "FORMERR/echo")
add("ecs-address-too-short", hdr(0xF01C, ar=1) + q() + opt(options=ecs(1, 24, 0, [192, 0])), "FORMERR/echo")
add("ecs-bits-past-prefix", hdr(0xF01D, ar=1) + q() + opt(options=ecs(1, 23, 0, [192, 0, 3])), "FORMERR/echo")
add("ecs-v6-bits-past-prefix", hdr(0xF01E, ar=1) + q() + opt(options=ecs(2, 36, 0, [0x20, 1, 0xd, 0xb8, 0xf8])),
    "FORMERR/echo")
add("ecs-scope-nonzero", hdr(0xF01F, ar=1) + q() + opt(options=ecs(1, 24, 24, [192, 0, 2])), "FORMERR/echo")
add("ecs-option-too-short", hdr(0xF020, ar=1) + q() + opt(options=option(8, b"\x00\x01\x18")), "FORMERR/echo")
add("ecs-twice", hdr(0xF021, ar=1) + q() + opt(options=ecs(1, 24, 0, [192, 0, 2]) + ecs(1, 24, 0, [192, 0, 2])),
    "FORMERR/echo")
add("trailing-garbage", hdr(0xF022) + q() + b"\xde\xad\xbe", "FORMERR/echo")
add("trailing-garbage-after-opt", hdr(0xF023, ar=1) + q() + opt() + b"\x00", "FORMERR/echo")
add("ancount-missing-records", hdr(0xF024, an=1) + q(), "FORMERR/echo")
add("nscount-missing-records", hdr(0xF025, ns=3) + q(), "FORMERR/echo")
add("arcount-missing-records", hdr(0xF026, ar=2) + q() + opt(), "FORMERR/echo")
add("answer-rdlength-past-end", hdr(0xF027, an=1) + q() + rr(b"\xc0\x0c", 1, 1, 60, b"\xc0\x00", rdlen=4),
    "FORMERR/echo")
add("answer-owner-forward-pointer", hdr(0xF028, an=1) + q() + rr(b"\xc0\x21", 1, 1, 60, b"\x01\x02\x03\x04"),
    "FORMERR/echo")
add("answer-owner-label-0x40", hdr(0xF029, an=1) + q() + rr(b"\x41" + b"a" * 0x41 + b"\x00", 1, 1, 60, b"\x01\x02\x03\x04"),
    "FORMERR/echo")
add("answer-owner-over-255", hdr(0xF02A, an=1) + q() + rr((bytes([63]) + b"b" * 63) * 4 + b"\x00", 1, 1, 60, b""),
    "FORMERR/echo")
add("opt-in-answer-section", hdr(0xF02B, an=1) + q() + opt(), "FORMERR/echo")
add("edns-version-1", hdr(0xF02C, ar=1) + q() + opt(version=1), "BADVERS/echo+opt")
add("opcode-update-no-question", hdr(0xF02D, flags=5 << 11, qd=0), "NOTIMP/none")

# Valid queries of varied shapes (the zone is Fuzz/Sources/DNSFuzz's example.com / example.org).
SEEDS_LIST = []


def seed(fname, data):
    SEEDS_LIST.append((fname, data))


nsid = option(3, b"")
seed("a-plain", hdr(0x0001, flags=0x0100) + q())
seed("a-edns", hdr(0x0002, ar=1) + q() + opt())
seed("aaaa-edns4096-do", hdr(0x0003, ar=1) + q(qtype=28) + opt(size=4096, do=True))
seed("a-mixed-case", hdr(0x0004) + q("WwW.ExAmPlE.CoM."))
for i, (qname, qtype) in enumerate([
        ("example.com.", 6), ("example.com.", 2), ("example.com.", 15), ("example.com.", 16),
        ("alias.example.com.", 1), ("chain1.example.com.", 28), ("loop1.example.com.", 1),
        ("dangling.example.com.", 1), ("outside.example.com.", 1), ("x.wild.example.com.", 1),
        ("y.wild.example.com.", 15), ("a.b.cwild.example.com.", 1), ("sub.example.com.", 2),
        ("www.sub.example.com.", 1), ("sub.example.com.", 43), ("nope.example.com.", 1),
        ("ent.x.example.com.", 1), ("_sip._tcp.example.com.", 33), ("example.net.", 1),
        ("opaque.example.com.", 65280), ("hinfo.example.com.", 13), ("example.org.", 6)]):
    seed("q%02d-%s-%d" % (i, qname.rstrip(".").replace(".", "_") or "root", qtype), hdr(0x0100 + i) + q(qname, qtype))
seed("any-udp", hdr(0x0200) + q("example.com.", 255))
seed("any-edns", hdr(0x0201, ar=1) + q("example.com.", 255) + opt())
seed("axfr", hdr(0x0202) + q("example.com.", 252))
seed("ixfr", hdr(0x0203) + q("example.com.", 251))
seed("ecs-v4-24", hdr(0x0300, ar=1) + q() + opt(options=ecs(1, 24, 0, [192, 0, 2])))
seed("ecs-v6-56", hdr(0x0301, ar=1) + q(qtype=28) + opt(options=ecs(2, 56, 0, [0x20, 1, 0xd, 0xb8, 0, 0, 1])))
seed("ecs-v4-0", hdr(0x0302, ar=1) + q() + opt(options=ecs(1, 0, 0, [])))
seed("nsid", hdr(0x0303, ar=1) + q() + opt(options=nsid))
seed("nsid-ecs-cookie", hdr(0x0304, ar=1) + q() + opt(options=nsid + ecs(1, 22, 0, [198, 51, 100])
                                                      + option(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")))
seed("ch-id-server", hdr(0x0400) + q("id.server.", 16, 3))
seed("ch-hostname-bind-nsid", hdr(0x0401, ar=1) + q("hostname.bind.", 16, 3) + opt(options=nsid))
seed("ch-version-bind", hdr(0x0402) + q("version.bind.", 16, 3))
seed("big-txt-edns512", hdr(0x0500, ar=1) + q("big.example.com.", 16) + opt(size=512))
seed("big-a-no-edns", hdr(0x0501) + q("big.example.com.", 1))
seed("big-any-edns65535", hdr(0x0502, ar=1) + q("big.example.com.", 255) + opt(size=65535))
seed("tsig-unknown-key", hdr(0x0600, ar=1) + q() + rr(name("key.example."), 250, 255, 0,
                                                        name("hmac-sha256.") + b"\x00" * 16))
seed("notify", hdr(0x0700, flags=4 << 11) + q("example.com.", 6))
# GSLB: a Locality name with ECS (v4, v6), the explain query (CH TXT), a Ratio name.
seed("global-locality-ecs", hdr(0x0800, ar=1) + q("checkout.example.com.") + opt(options=ecs(1, 24, 0, [10, 20, 200])))
seed("global-locality-ecs6", hdr(0x0801, ar=1) + q("checkout.example.com.", 28)
     + opt(options=ecs(2, 56, 0, [0x20, 1, 0xd, 0xb8, 0, 0x10, 0])))
seed("global-explain", hdr(0x0802, ar=1) + q("checkout.example.com.", 16, 3) + opt(options=ecs(1, 16, 0, [10, 10])))
seed("global-ratio", hdr(0x0803) + q("ratio.example.com."))


def main():
    os.makedirs(SEEDS, exist_ok=True)
    for fname, data, _ in MALFORMED:
        with open(os.path.join(HERE, fname + ".bin"), "wb") as f:
            f.write(data)
    for fname, data in SEEDS_LIST:
        with open(os.path.join(SEEDS, fname + ".bin"), "wb") as f:
            f.write(data)
    for fname, data, outcome in MALFORMED:
        print("| `%s.bin` | %d | %s |" % (fname, len(data), outcome))


if __name__ == "__main__":
    main()
