#!/usr/bin/env python3
"""Client flows of the compose smoke test (deploy/smoke.sh), with redis-py through the proxy.

  smoke_flow.py flow --port P        a task queue: producer XADD, consumer group, XREADGROUP,
                                      XACK, XPENDING, a crashed consumer's task taken over
                                      with XCLAIM and XAUTOCLAIM; asserts every reply
  smoke_flow.py produce --port P --key K --seconds S --out FILE
                                      XADD to K as fast as one connection can for S seconds;
                                      writes "<unix time> <id>" per acknowledged entry and
                                      "<unix time> ERR <error>" per error reply
  smoke_flow.py verify --port P --key K --acked FILE --after T
                                      every acknowledged id is in K exactly once, with its
                                      payload; some acknowledgements came after time T
"""
import argparse
import sys
import time

import redis


def flow(r):
    r.delete("smoke:tasks")
    ids = [r.xadd("smoke:tasks", {"task": f"t{i}", "n": i}) for i in range(10)]
    assert r.xlen("smoke:tasks") == 10
    r.xgroup_create("smoke:tasks", "workers", id="0")
    got = r.xreadgroup("workers", "alice", {"smoke:tasks": ">"}, count=4)
    alice = [e[0] for e in got[0][1]]
    assert alice == ids[:4], (alice, ids[:4])
    got = r.xreadgroup("workers", "bob", {"smoke:tasks": ">"}, count=4)
    bob = [e[0] for e in got[0][1]]
    assert bob == ids[4:8], bob
    assert r.xack("smoke:tasks", "workers", *alice[:2]) == 2
    summary = r.xpending("smoke:tasks", "workers")
    assert summary["pending"] == 6, summary
    per = {c["name"]: c["pending"] for c in summary["consumers"]}
    assert per == {"alice": 2, "bob": 4}, per
    # bob crashed: carol takes over his oldest task explicitly, then the rest automatically.
    claimed = r.xclaim("smoke:tasks", "workers", "carol", min_idle_time=0, message_ids=[bob[0]])
    assert [e[0] for e in claimed] == [bob[0]], claimed
    nxt, auto, deleted = r.xautoclaim("smoke:tasks", "workers", "carol", min_idle_time=0,
                                      start_id="0-0", count=100)
    auto_ids = [e[0] for e in auto]
    assert set(auto_ids) == set(alice[2:] + bob), auto_ids
    assert deleted == [], deleted
    detail = r.xpending_range("smoke:tasks", "workers", min="-", max="+", count=100)
    assert all(d["consumer"] == "carol" for d in detail), detail
    assert r.xack("smoke:tasks", "workers", *auto_ids) == len(auto_ids)
    assert r.xpending("smoke:tasks", "workers")["pending"] == 0
    info = r.xinfo_groups("smoke:tasks")[0]
    assert info["last-delivered-id"] == ids[7], info
    assert info["lag"] == 2, info
    print("redis-py flow: XADD x10, XGROUP CREATE, XREADGROUP (alice 4, bob 4), XACK, "
          "XPENDING (6: alice 2, bob 4), XCLAIM 1, XAUTOCLAIM 6, XACK, XINFO GROUPS lag 2: ok")


def produce(r, key, seconds, out):
    end = time.time() + seconds
    n = errors = 0
    with open(out, "w", buffering=1) as f:
        while time.time() < end:
            try:
                i = r.xadd(key, {"n": n})
                f.write(f"{time.time():.3f} {i}\n")
            except redis.exceptions.ResponseError as e:
                f.write(f"{time.time():.3f} ERR {e}\n")
                errors += 1
            except redis.exceptions.ConnectionError as e:
                f.write(f"{time.time():.3f} ERR connection {e}\n")
                errors += 1
                time.sleep(0.05)
            n += 1
    print(f"producer: {n} XADDs sent, {errors} errors")


def verify(r, key, acked_path, after, max_errors):
    acked = []
    late = 0
    errors = 0
    for line in open(acked_path):
        t, rest = line.split(" ", 1)
        rest = rest.strip()
        if rest.startswith("ERR"):
            print(f"error reply at {t}: {rest[4:]}")
            errors += 1
            continue
        acked.append(rest)
        if float(t) > after:
            late += 1
    entries = r.xrange(key, "-", "+")
    present = [e[0] for e in entries]
    missing = [i for i in acked if i not in set(present)]
    dup = len(present) - len(set(present))
    print(f"verify: {len(acked)} acknowledged XADDs, {late} acknowledged after the fault, "
          f"{len(present)} entries in {key}, {len(missing)} missing, {dup} duplicated")
    if missing:
        print("missing:", missing[:20])
    ok = not missing and dup == 0 and late > 0
    if late == 0:
        print("no write was acknowledged after the fault: writes did not continue")
    if 0 <= max_errors < errors:
        print(f"{errors} error replies (at most {max_errors} allowed)")
        ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["flow", "produce", "verify"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default="smoke:events")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--out")
    ap.add_argument("--acked")
    ap.add_argument("--after", type=float, default=0)
    ap.add_argument("--max-errors", type=int, default=-1,
                    help="verify: fail if more error replies than this (-1: any number)")
    a = ap.parse_args()
    r = redis.Redis(host="127.0.0.1", port=a.port, decode_responses=True, socket_timeout=30)
    if a.mode == "flow":
        flow(r)
        return 0
    if a.mode == "produce":
        produce(r, a.key, a.seconds, a.out)
        return 0
    return 0 if verify(r, a.key, a.acked, a.after, a.max_errors) else 1


if __name__ == "__main__":
    sys.exit(main())
