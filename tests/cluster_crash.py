#!/usr/bin/env python3
"""Multi-process cluster fault test: kill -9 a group's leader under load, restart it; kill -9
every node at once, restart them all; then check that nothing acknowledged was lost.

The cluster (3 `xraft node` processes and one `xraft proxy`) is run by scripts/cluster.sh;
leaders come from the nodes themselves (`xraft ctl`). Load through the proxy:
  - writers: several connections, XADD `*` one at a time over streams s0..s{N-1}, each payload
    unique; every reply is recorded the moment it is parsed: an ID (acknowledged), -TRYAGAIN
    (the proxy says: not applied), -TIMEOUT or a lost connection (outcome unknown);
  - consumers: XREADGROUP GROUP g cN COUNT 10 STREAMS ... > and XACK about half of what they get;
  - a probe writing to s0 every few ms measures how long writes to s0's group fail after its
    leader is killed (the failover time), and after the restart of every node.
Timeline: warm-up, kill -9 the leader of s0's group, restart it after a while, kill -9 all
nodes, restart all, recovery, stop the load.

Checks (exit 0 iff all hold):
  - every acknowledged XADD is in its stream exactly once, at its ID, with its payload;
  - no payload answered -TRYAGAIN ("not applied") is in any stream;
  - no payload twice; nothing that was never sent; IDs strictly increase in every stream;
  - an unknown outcome is present at most once;
  - every delivered id whose XACK was not sent is pending (unless a read's outcome was unknown
    for that consumer... ids are still checked to exist), no id whose XACK was acknowledged is
    pending, every pending id exists, the group's last-delivered-id >= every delivered id;
  - after the load stops, every group's replicas reach the same applied index with the same
    state digest (same streams, PELs, consumers, last-delivered ids), via `xraft ctl status`.
Stdlib only; talks to 127.0.0.1 only.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_restart import (  # noqa: E402
    Conn, ConnLost, RespError, fmt_id, info, parse_id, phase, xpending_all, xrange_all, flat_map,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "scripts", "cluster.sh")
GROUP = b"g"


def cluster(d, *args, check=True):
    r = subprocess.run([CLUSTER, *args[:1], d, *args[1:]], capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"scripts/cluster.sh {' '.join(args)} failed ({r.returncode})")
    return r.stdout.strip()


def classify(r):
    """'ok', 'fail' (known not applied) or 'unknown' for an XADD reply."""
    if isinstance(r, bytes):
        return "ok"
    if isinstance(r, RespError) and str(r).startswith("TRYAGAIN"):
        return "fail"
    return "unknown"


class Writer(threading.Thread):
    def __init__(self, wid, port, nstreams, seed, stop_evt):
        super().__init__(name=f"writer-{wid}", daemon=True)
        self.wid, self.port, self.nstreams = wid, port, nstreams
        self.rng = random.Random(seed)
        self.stop_evt = stop_evt
        self.acked = []      # (stream, id, payload)
        self.failed = []     # (stream, payload, error)
        self.unknown = []    # (stream, payload, why)
        self.end = "not started"

    def run(self):
        conn = None
        seq = 0
        while not self.stop_evt.is_set():
            if conn is None:
                try:
                    conn = Conn(self.port, timeout=20)
                except OSError:
                    time.sleep(0.05)
                    continue
            s = self.rng.randrange(self.nstreams)
            payload = f"{self.wid}:{seq}".encode()
            seq += 1
            try:
                conn.send(("XADD", f"s{s}", "*", "p", payload))
                r = conn.reply()
            except (ConnLost, OSError) as e:
                self.unknown.append((s, payload, f"connection: {e}"))
                conn.close()
                conn = None
                continue
            kind = classify(r)
            if kind == "ok":
                self.acked.append((s, parse_id(r), payload))
            elif kind == "fail":
                self.failed.append((s, payload, str(r)))
                time.sleep(0.005)
            else:
                self.unknown.append((s, payload, str(r)))
        self.end = "stopped"
        if conn:
            conn.close()


class Probe(threading.Thread):
    """XADD to one stream every few ms; records (sent_at, ok) for failover timing."""

    def __init__(self, port, key, stop_evt):
        super().__init__(name="probe", daemon=True)
        self.port, self.key, self.stop_evt = port, key, stop_evt
        self.results = []    # (sent_at, kind, payload, id)
        self.done = []       # when each result's reply came
        self.seq = 0

    def run(self):
        conn = None
        while not self.stop_evt.is_set():
            if conn is None:
                try:
                    conn = Conn(self.port, timeout=20)
                except OSError:
                    time.sleep(0.02)
                    continue
            payload = f"probe:{self.seq}".encode()
            self.seq += 1
            t = time.monotonic()
            try:
                conn.send(("XADD", self.key, "*", "p", payload))
                r = conn.reply()
                kind = classify(r)
                self.results.append((t, kind, payload, parse_id(r) if kind == "ok" else None))
                self.done.append(time.monotonic())
            except (ConnLost, OSError):
                self.results.append((t, "unknown", payload, None))
                self.done.append(time.monotonic())
                conn.close()
                conn = None
            time.sleep(0.005)
        if conn:
            conn.close()

    def recovery_after(self, t0):
        """Seconds from t0 until the reply to the first write sent after t0 that succeeded
        (the proxy holds a write while it finds the new leader: that wait counts)."""
        for (t, kind, _, _), done in zip(self.results, self.done):
            if t >= t0 and kind == "ok":
                info(f"probe: first write sent {t - t0:.3f}s after, answered {done - t0:.3f}s after")
                return done - t0
        return None


class Consumer(threading.Thread):
    def __init__(self, cid, port, nstreams, seed, stop_evt):
        super().__init__(name=f"consumer-{cid}", daemon=True)
        self.cid, self.port, self.nstreams = cid, port, nstreams
        self.name_b = f"c{cid}".encode()
        self.rng = random.Random(seed)
        self.stop_evt = stop_evt
        self.delivered = []          # (stream, id)
        self.ack_sent = set()
        self.ack_confirmed = set()
        self.unknown_reads = 0
        self.anomalies = []
        self.end = "not started"

    def run(self):
        conn = None
        keys = [f"s{i}" for i in range(self.nstreams)]
        while not self.stop_evt.is_set():
            if conn is None:
                try:
                    conn = Conn(self.port, timeout=20)
                except OSError:
                    time.sleep(0.05)
                    continue
            try:
                cmd = ["XREADGROUP", "GROUP", GROUP, self.name_b, "COUNT", "10", "STREAMS"]
                conn.send(cmd + keys + [">"] * self.nstreams)
                r = conn.reply()
                if isinstance(r, RespError):
                    if not str(r).startswith("TRYAGAIN"):
                        self.unknown_reads += 1
                    time.sleep(0.01)
                    continue
                if not r:
                    time.sleep(0.005)
                    continue
                to_ack = {}
                for item in r:
                    s = int(item[0][1:])
                    for e in item[1] or []:
                        i = parse_id(e[0])
                        self.delivered.append((s, i))
                        if self.rng.random() < 0.5:
                            to_ack.setdefault(s, []).append(i)
                for s, ids in to_ack.items():
                    for i in ids:
                        self.ack_sent.add((s, i))
                    conn.send(["XACK", f"s{s}", GROUP] + [fmt_id(i) for i in ids])
                    a = conn.reply()
                    if isinstance(a, int):
                        if a != len(ids):
                            self.anomalies.append(f"XACK s{s} of {len(ids)} pending ids returned {a}")
                        for i in ids:
                            self.ack_confirmed.add((s, i))
            except (ConnLost, OSError):
                self.unknown_reads += 1
                conn.close()
                conn = None
        self.end = "stopped"
        if conn:
            conn.close()


def ctl_status(d):
    out = cluster(d, "status", "--digest", "--json", check=False)
    try:
        return json.loads(out)
    except ValueError:
        return None


def wait_replicas_converge(d, timeout):
    """Every group's replicas at one applied index with one digest; returns (ok, detail)."""
    deadline = time.monotonic() + timeout
    detail = "no status"
    while time.monotonic() < deadline:
        st = ctl_status(d)
        if st:
            groups = {}
            bad = False
            for n in st["nodes"]:
                if "error" in n:
                    bad = True
                    detail = f"node {n['node']}: {n['error']}"
                    break
                for g in n["groups"]:
                    groups.setdefault(g["group"], []).append((n["node"], g["applied"], g["digest_index"], g["digest"]))
            if not bad:
                detail = "; ".join(
                    f"group {g}: " + ", ".join(f"n{n}@{a}={dg}" for n, a, _, dg in reps)
                    for g, reps in sorted(groups.items()))
                if all(len({(di, dg) for _, _, di, dg in reps}) == 1 for reps in groups.values()):
                    return True, detail
        time.sleep(0.3)
    return False, detail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--down", type=float, default=3.0, help="seconds the killed leader stays down")
    ap.add_argument("--recovery", type=float, default=3.0)
    ap.add_argument("--dir", default=None, help="cluster directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster directory")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    d = a.dir or tempfile.mkdtemp(prefix="xraft-cluster-crash.")
    phase(f"seed {seed}, cluster dir {d}")
    ok = False
    try:
        ok = run(a, d, rng)
    finally:
        cluster(d, "stop", check=False)
        if ok and not a.keep and not a.dir:
            subprocess.run(["rm", "-rf", d])
        else:
            info(f"cluster directory kept: {d}")
    print(f"cluster crash test: {'PASSED' if ok else 'FAILED'} (seed {seed})", flush=True)
    return 0 if ok else 1


def run(a, d, rng):
    cluster(d, "start")
    port = int(cluster(d, "port"))
    c = Conn(port)
    for i in range(a.streams):
        c.call("XGROUP", "CREATE", f"s{i}", GROUP, "$", "MKSTREAM")
    stop = threading.Event()
    writers = [Writer(w, port, a.streams, rng.randrange(1 << 30), stop) for w in range(a.writers)]
    consumers = [Consumer(k, port, a.streams, rng.randrange(1 << 30), stop) for k in range(a.consumers)]
    probe = Probe(port, "s0", stop)
    for t in writers + consumers + [probe]:
        t.start()

    phase(f"load: {a.writers} writers, {a.consumers} consumers, {a.streams} streams; warm-up {a.warmup}s")
    time.sleep(a.warmup)
    group = cluster(d, "group-of", "s0")
    leader = cluster(d, "leader", group)
    phase(f"kill -9 node {leader}, leader of group {group} (holds s0)")
    cluster(d, "kill", leader)   # returns once the process is gone
    t_kill = time.monotonic()
    time.sleep(a.down)
    failover = probe.recovery_after(t_kill)
    info(f"failover: writes to s0 succeeded again {failover:.2f}s after the kill" if failover is not None
         else "failover: no successful write to s0 yet")
    phase(f"restart node {leader}")
    cluster(d, "restart", leader)
    cluster(d, "health")
    time.sleep(a.recovery)

    phase("kill -9 every node at once, then restart them all")
    cluster(d, "killall")
    t_all = time.monotonic()
    cluster(d, "restartall")
    cluster(d, "health", "60")
    time.sleep(a.recovery)
    full_restart = probe.recovery_after(t_all)
    info(f"full restart: writes to s0 succeeded again {full_restart:.2f}s after every node died" if full_restart is not None
         else "full restart: no successful write to s0")

    phase("stopping the load")
    stop.set()
    for t in writers + consumers + [probe]:
        t.join(timeout=30)
    c.close()

    problems = []
    acked = [(s, i, p) for w in writers for (s, i, p) in w.acked]
    failed = {p for w in writers for (_, p, _) in w.failed}
    unknown = {p for w in writers for (_, p, _) in w.unknown}
    probe_acked = [("s0", i, p) for (_, k, p, i) in probe.results if k == "ok"]
    failed |= {p for (_, k, p, _) in probe.results if k == "fail"}
    unknown |= {p for (_, k, p, _) in probe.results if k == "unknown"}
    info(f"writes: {len(acked) + len(probe_acked)} acknowledged, {len(failed)} refused (TRYAGAIN), "
         f"{len(unknown)} unknown")
    if failover is None:
        problems.append("writes to s0 never succeeded after the leader kill")
    elif failover > 3.0:
        problems.append(f"failover took {failover:.2f}s (> 3 s)")

    phase("verify streams")
    c = Conn(port)
    sent_payloads = {p for (_, _, p) in acked} | {p for (_, _, p) in probe_acked} | failed | unknown
    contents = {}
    for i in range(a.streams):
        entries = xrange_all(c, f"s{i}")
        contents[i] = entries
        ids = [e[0] for e in entries]
        if any(b <= x for x, b in zip(ids, ids[1:])):
            problems.append(f"s{i}: IDs not strictly increasing")
    where = {}
    for i, entries in contents.items():
        for (eid, p) in entries:
            if p in where:
                problems.append(f"payload {p!r} twice: s{where[p][0]} {fmt_id(where[p][1])} and s{i} {fmt_id(eid)}")
            where[p] = (i, eid)
            if p not in sent_payloads:
                problems.append(f"s{i} {fmt_id(eid)}: payload {p!r} never sent")
    for (s, i, p) in acked + [(0, i, p) for (_, i, p) in probe_acked]:
        got = where.get(p)
        if got is None:
            problems.append(f"LOST: acknowledged s{s} {fmt_id(i)} {p!r}")
        elif got != (s, i):
            problems.append(f"acknowledged {p!r} at s{s} {fmt_id(i)} but found at s{got[0]} {fmt_id(got[1])}")
    for p in failed:
        if p in where:
            problems.append(f"refused (TRYAGAIN) payload {p!r} was applied: s{where[p][0]} {fmt_id(where[p][1])}")
    present_unknown = sum(1 for p in unknown if p in where)
    info(f"streams: {sum(len(e) for e in contents.values())} entries; unknown outcomes present: "
         f"{present_unknown} of {len(unknown)}")

    phase("verify the consumer group")
    unknown_reads = sum(k.unknown_reads for k in consumers)
    delivered_total = sum(len(k.delivered) for k in consumers)
    for i in range(a.streams):
        pend = xpending_all(c, f"s{i}")
        pending = {(e[0], e[1]) for e in pend}
        ids_in_stream = {e[0] for e in contents[i]}
        for (pid, _cons) in pending:
            if pid not in ids_in_stream:
                problems.append(f"s{i}: pending {fmt_id(pid)} not in the stream")
        groups = c.call("XINFO", "GROUPS", f"s{i}")
        last = parse_id(flat_map(groups[0])[b"last-delivered-id"])
        for k in consumers:
            for (s, did) in k.delivered:
                if s != i:
                    continue
                if did > last:
                    problems.append(f"s{i}: delivered {fmt_id(did)} above last-delivered-id {fmt_id(last)}")
                if (s, did) in k.ack_confirmed and did in {p for p, _ in pending}:
                    problems.append(f"s{i}: {fmt_id(did)} acknowledged by XACK but still pending")
                if (s, did) not in k.ack_sent and (did, k.name_b) not in pending:
                    problems.append(f"s{i}: delivered {fmt_id(did)} to {k.name_b!r}, never acked, not pending")
    for k in consumers:
        problems.extend(k.anomalies)
    info(f"group: {delivered_total} deliveries, {sum(len(k.ack_confirmed) for k in consumers)} acks confirmed, "
         f"{unknown_reads} reads with unknown outcome")
    c.close()

    phase("verify the replicas agree (applied index and state digest per group)")
    same, detail = wait_replicas_converge(d, 30)
    info(detail)
    if not same:
        problems.append("replicas did not converge to one state per group: " + detail)

    for p in problems[:50]:
        print(f"PROBLEM: {p}", flush=True)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more", flush=True)
    phase(f"failover {failover if failover is None else round(failover, 2)}s, full restart "
          f"{full_restart if full_restart is None else round(full_restart, 2)}s, "
          f"{len(acked) + len(probe_acked)} acknowledged writes checked, {len(problems)} problem(s)")
    return not problems


if __name__ == "__main__":
    sys.exit(main())
