#!/usr/bin/env python3
"""kill -9 / restart durability test for a Redis-Streams server (xraft or redis-server).

Phases:
  1. start the server (its command line has {port} and {dir} placeholders), wait for PING;
  2. create streams s0..s9, each with consumer group g (XGROUP CREATE ... $ MKSTREAM);
  3. writers: several connections XADD `*` (pipelined) TOTAL entries over the 10 streams,
     recording every acknowledged reply (stream, id, payload) the moment it is parsed;
     consumers: several connections XREADGROUP GROUP g cN COUNT 10 STREAMS s0..s9 > ... and
     XACK part of what they got, recording deliveries, XACKs sent and XACKs acknowledged;
  4. when a random 50-70% of the writes are acknowledged: kill -9 the server (process group);
  5. restart it on the same data dir, wait for PING;
  6. verify:
     - every acknowledged XADD id is in its stream (XRANGE) with the payload that was sent;
     - XLEN == number of entries >= acknowledged per stream; ids strictly increasing, no id and
       no payload twice, no payload that was never sent;
     - PEL (XPENDING summary + extended): every id delivered in a received XREADGROUP reply for
       which no XACK was sent is pending for the consumer it was delivered to; no id whose XACK
       was acknowledged is pending (an XACK without a received reply may go either way); every
       pending id exists; the summary matches the extended form;
     - the group's last-delivered-id is >= every delivered id; a fresh XREADGROUP `>` after the
       restart redelivers none of the delivered ids, and every entry is either pending, acked or
       newly delivered (nothing orphaned).
Exits 0 iff nothing is lost or duplicated and the PEL checks hold. Only talks to 127.0.0.1.
Stdlib only (a small RESP2 client is included).
"""

import argparse
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
NSTREAMS = 10
GROUP = b"g"


def now():
    return time.strftime("%H:%M:%S")


def phase(msg):
    print(f"[{now()}] == {msg}", flush=True)


def info(msg):
    print(f"[{now()}]    {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# Minimal RESP2 client
# --------------------------------------------------------------------------------------------
class RespError(Exception):
    pass


class ConnLost(Exception):
    pass


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *cmds):
        try:
            self.sock.sendall(b"".join(encode(c) for c in cmds))
        except OSError as e:
            raise ConnLost(str(e)) from e

    def _fill(self):
        if self.pos > 65536 and self.pos > len(self.buf) // 2:
            del self.buf[: self.pos]
            self.pos = 0
        try:
            data = self.sock.recv(262144)
        except OSError as e:
            raise ConnLost(str(e)) from e
        if not data:
            raise ConnLost("connection closed by server")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _bulk(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data

    def reply(self):
        """One reply; an error reply is returned as a RespError instance (not raised)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._bulk(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b"_":
            return None
        if t in (b"%", b"~", b">"):  # RESP3, not expected (we never send HELLO 3)
            n = int(rest)
            m = 2 if t == b"%" else 1
            return [self.reply() for _ in range(n * m)]
        raise ConnLost(f"protocol error: unexpected line {line[:80]!r}")

    def call(self, *args):
        self.send(args)
        r = self.reply()
        if isinstance(r, RespError):
            raise r
        return r


def parse_id(b):
    ms, _, seq = b.partition(b"-")
    return (int(ms), int(seq or 0))


def fmt_id(t):
    return f"{t[0]}-{t[1]}"


# --------------------------------------------------------------------------------------------
# Server process control
# --------------------------------------------------------------------------------------------
class Server:
    def __init__(self, argv, port, logpath):
        self.argv = argv
        self.port = port
        self.logpath = logpath
        self.proc = None
        self.piddir = os.environ.get("XRAFT_PIDDIR")

    def start(self, timeout):
        logf = open(self.logpath, "ab")
        logf.write(f"\n===== start {now()}: {shlex.join(self.argv)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.argv, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        if self.piddir and os.path.isdir(self.piddir):
            open(os.path.join(self.piddir, str(self.proc.pid)), "w").close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} during startup "
                                   f"(log: {self.logpath})\n{self.log_tail()}")
            try:
                c = Conn(self.port, timeout=2)
                try:
                    if c.call("PING") == b"PONG":
                        c.call("XLEN", "s0")  # no LOADING error any more
                        return
                finally:
                    c.close()
            except (OSError, ConnLost, RespError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout}s (log: {self.logpath})\n"
                           f"{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _forget(self):
        if self.piddir and self.proc is not None:
            try:
                os.unlink(os.path.join(self.piddir, str(self.proc.pid)))
            except OSError:
                pass

    def kill9(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._forget()

    def stop(self, grace=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                info(f"server did not stop within {grace}s of SIGTERM: SIGKILL")
                self.kill9()
        # Anything left in its process group (a wrapper's child) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._forget()

    def log_tail(self, n=25):
        try:
            with open(self.logpath, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join("    | " + ln for ln in lines[-n:])
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------
# Load: writers and consumers
# --------------------------------------------------------------------------------------------
class Writer(threading.Thread):
    def __init__(self, wid, port, count, depth, seed, outdir, stop_evt):
        super().__init__(name=f"writer-{wid}", daemon=True)
        self.wid, self.port, self.count, self.depth = wid, port, count, depth
        self.rng = random.Random(seed)
        self.path = os.path.join(outdir, f"xadd-acked-w{wid}.log")
        self.stop_evt = stop_evt
        self.acked = []           # (stream_idx, id_tuple, payload_bytes)
        self.nacked = 0           # read by the main thread for the kill decision
        self.sent = 0
        self.errors = []          # error replies (a bug: XADD * must not fail here)
        self.end = "not started"

    def run(self):
        try:
            conn = Conn(self.port)
        except OSError as e:
            self.end = f"connect failed: {e}"
            return
        f = open(self.path, "w", buffering=1)
        seq = 0
        try:
            while seq < self.count and not self.stop_evt.is_set():
                n = min(self.depth, self.count - seq)
                batch = []
                for k in range(n):
                    s = self.rng.randrange(NSTREAMS)
                    payload = f"{self.wid}:{seq + k}".encode()
                    batch.append((s, payload))
                conn.send(*[("XADD", f"s{s}", "*", "p", p) for s, p in batch])
                self.sent += n
                for s, payload in batch:
                    r = conn.reply()
                    if isinstance(r, RespError) or not isinstance(r, bytes):
                        self.errors.append((s, payload, r))
                        continue
                    i = parse_id(r)
                    f.write(f"s{s} {fmt_id(i)} {payload.decode()}\n")
                    self.acked.append((s, i, payload))
                    self.nacked += 1
                seq += n
            self.end = "finished" if seq >= self.count else "stopped"
        except ConnLost as e:
            self.end = f"connection lost ({e})"
        except Exception as e:  # noqa: BLE001 - reported in the summary
            self.end = f"exception {type(e).__name__}: {e}"
        finally:
            f.close()
            conn.close()


class Consumer(threading.Thread):
    def __init__(self, cid, port, seed, ack_ratio, outdir, stop_evt):
        super().__init__(name=f"consumer-{cid}", daemon=True)
        self.cid, self.port = cid, port
        self.name_b = f"c{cid}".encode()
        self.rng = random.Random(seed)
        self.ack_ratio = ack_ratio
        self.path = os.path.join(outdir, f"consumer-c{cid}.log")
        self.stop_evt = stop_evt
        self.delivered = []       # (stream_idx, id) from received XREADGROUP replies
        self.ack_sent = set()     # (stream_idx, id) for which an XACK was sent
        self.ack_confirmed = set()
        self.anomalies = []
        self.end = "not started"
        self.calls = 0

    def run(self):
        try:
            conn = Conn(self.port)
        except OSError as e:
            self.end = f"connect failed: {e}"
            return
        f = open(self.path, "w", buffering=1)
        keys = [f"s{i}" for i in range(NSTREAMS)]
        try:
            while not self.stop_evt.is_set():
                cmd = ["XREADGROUP", "GROUP", GROUP, self.name_b, "COUNT", "10", "STREAMS"]
                cmd += keys + [">"] * NSTREAMS
                conn.send(cmd)
                r = conn.reply()
                self.calls += 1
                if isinstance(r, RespError):
                    self.anomalies.append(f"XREADGROUP error: {r}")
                    time.sleep(0.01)
                    continue
                if not r:
                    time.sleep(0.003)
                    continue
                to_ack = {}
                for item in r:
                    sname, entries = item[0], item[1]
                    s = int(sname[1:])
                    for e in entries or []:
                        i = parse_id(e[0])
                        self.delivered.append((s, i))
                        f.write(f"delivered s{s} {fmt_id(i)}\n")
                        if self.rng.random() < self.ack_ratio:
                            to_ack.setdefault(s, []).append(i)
                if not to_ack:
                    continue
                cmds = []
                order = []
                for s, ids in to_ack.items():
                    for i in ids:
                        self.ack_sent.add((s, i))
                        f.write(f"ack-sent s{s} {fmt_id(i)}\n")
                    cmds.append(["XACK", f"s{s}", GROUP] + [fmt_id(i) for i in ids])
                    order.append((s, ids))
                conn.send(*cmds)
                for s, ids in order:
                    a = conn.reply()
                    if isinstance(a, RespError) or not isinstance(a, int):
                        self.anomalies.append(f"XACK s{s} reply {a!r}")
                        continue
                    if a != len(ids):
                        self.anomalies.append(f"XACK s{s} of {len(ids)} pending ids returned {a}")
                    for i in ids:
                        self.ack_confirmed.add((s, i))
                        f.write(f"ack-ok s{s} {fmt_id(i)}\n")
            self.end = "stopped"
        except ConnLost as e:
            self.end = f"connection lost ({e})"
        except Exception as e:  # noqa: BLE001
            self.end = f"exception {type(e).__name__}: {e}"
        finally:
            f.close()
            conn.close()


# --------------------------------------------------------------------------------------------
# Verification helpers
# --------------------------------------------------------------------------------------------
def xrange_all(conn, key):
    out = []
    start = "-"
    while True:
        r = conn.call("XRANGE", key, start, "+", "COUNT", 10000)
        if not r:
            return out
        for e in r:
            fields = e[1] or []
            payload = None
            for k in range(0, len(fields) - 1, 2):
                if fields[k] == b"p":
                    payload = fields[k + 1]
            out.append((parse_id(e[0]), payload))
        last = out[-1][0]
        start = fmt_id((last[0], last[1] + 1)) if last[1] < 2**64 - 1 else fmt_id((last[0] + 1, 0))
        if len(r) < 10000:
            return out


def xpending_all(conn, key):
    out = []
    start = "-"
    while True:
        r = conn.call("XPENDING", key, GROUP, start, "+", 10000)
        if not r:
            return out
        for e in r:
            out.append((parse_id(e[0]), e[1], e[2], e[3]))
        last = out[-1][0]
        start = fmt_id((last[0], last[1] + 1))
        if len(r) < 10000:
            return out


def flat_map(lst):
    return {lst[k]: lst[k + 1] for k in range(0, len(lst) - 1, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True, help="server data dir (reused on restart)")
    ap.add_argument("--workdir", required=True, help="where the ack logs and server log go")
    ap.add_argument("--server-cmd", help="server command line with {port} and {dir} placeholders "
                    "(alternative to the arguments after --)")
    ap.add_argument("--total", type=int, default=100_000, help="XADDs in all (default 100000)")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--pipeline", type=int, default=16, help="XADDs in flight per writer")
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--ack-ratio", type=float, default=0.6)
    ap.add_argument("--kill-min", type=float, default=0.5)
    ap.add_argument("--kill-max", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--start-timeout", type=float, default=60.0)
    ap.add_argument("--restart-timeout", type=float, default=180.0)
    ap.add_argument("--write-timeout", type=float, default=420.0,
                    help="fail if the kill point is not reached within this many seconds")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    argv = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if a.server_cmd:
        argv = shlex.split(a.server_cmd)
    if not argv:
        ap.error("no server command (use --server-cmd or -- CMD ARGS...)")
    argv = [x.replace("{port}", str(a.port)).replace("{dir}", a.dir) for x in argv]
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    os.makedirs(a.dir, exist_ok=True)
    os.makedirs(a.workdir, exist_ok=True)
    server = Server(argv, a.port, os.path.join(a.workdir, "server.log"))

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.time()
    try:
        return run(a, seed, rng, server)
    finally:
        server.stop()
        info(f"total time {time.time() - t0:.1f}s; logs in {a.workdir}")


def run(a, seed, rng, server):
    kill_frac = rng.uniform(a.kill_min, a.kill_max)
    kill_at = int(a.total * kill_frac)
    phase(f"start server: {shlex.join(server.argv)}")
    info(f"seed={seed} total={a.total} writers={a.writers} pipeline={a.pipeline} "
         f"consumers={a.consumers} kill at {kill_at} acked XADDs ({kill_frac:.0%})")
    server.start(a.start_timeout)

    phase("setup: streams s0..s9 with consumer group g")
    c = Conn(a.port)
    for i in range(NSTREAMS):
        c.call("XGROUP", "CREATE", f"s{i}", GROUP, "$", "MKSTREAM")
    c.close()

    phase("load: writers + consumers")
    stop_evt = threading.Event()
    per = [a.total // a.writers + (1 if w < a.total % a.writers else 0) for w in range(a.writers)]
    writers = [Writer(w, a.port, per[w], a.pipeline, rng.randrange(1 << 30), a.workdir, stop_evt)
               for w in range(a.writers)]
    consumers = [Consumer(k, a.port, rng.randrange(1 << 30), a.ack_ratio, a.workdir, stop_evt)
                 for k in range(a.consumers)]
    for t in consumers + writers:
        t.start()
    tl = time.time()
    last_report = tl
    reason = None
    while True:
        acked = sum(w.nacked for w in writers)
        if acked >= kill_at:
            reason = "kill point reached"
            break
        if not server.alive():
            reason = "SERVER DIED BY ITSELF"
            break
        if not any(w.is_alive() for w in writers):
            reason = "writers ended before the kill point"
            break
        if time.time() - tl > a.write_timeout:
            reason = f"write timeout ({a.write_timeout}s)"
            break
        if time.time() - last_report >= 5:
            last_report = time.time()
            info(f"{acked} XADDs acked ({acked / (last_report - tl):.0f}/s), "
                 f"{sum(len(k.delivered) for k in consumers)} delivered")
        time.sleep(0.001)
    acked_at_kill = sum(w.nacked for w in writers)
    load_s = time.time() - tl
    phase(f"kill -9 the server ({reason}; {acked_at_kill} XADDs acked in {load_s:.1f}s, "
          f"{acked_at_kill / max(load_s, 1e-9):.0f}/s)")
    server.kill9()
    stop_evt.set()
    for t in writers + consumers:
        t.join(timeout=60)
    stuck = [t.name for t in writers + consumers if t.is_alive()]
    for w in writers:
        info(f"{w.name}: sent={w.sent} acked={len(w.acked)} errors={len(w.errors)} end={w.end}")
    for k in consumers:
        info(f"{k.name}: calls={k.calls} delivered={len(k.delivered)} ack_sent={len(k.ack_sent)} "
             f"ack_confirmed={len(k.ack_confirmed)} end={k.end}")
    problems = []
    if reason != "kill point reached":
        problems.append(f"load phase: {reason}")
    if stuck:
        problems.append(f"threads did not stop after the kill: {stuck}")

    phase("restart the server on the same data dir")
    tr = time.time()
    server.start(a.restart_timeout)
    info(f"ready again after {time.time() - tr:.2f}s")

    phase("verify streams (XRANGE/XLEN)")
    acked_by_stream = [dict() for _ in range(NSTREAMS)]
    xadd_errors = []
    sent_payloads = set()
    for w in writers:
        xadd_errors += w.errors
        for s, i, p in w.acked:
            if i in acked_by_stream[s]:
                problems.append(f"s{s}: the server acknowledged id {fmt_id(i)} twice")
            acked_by_stream[s][i] = p
        # Payloads this writer may have put on the wire: 0 .. sent-1.
        for q in range(w.sent):
            sent_payloads.add(f"{w.wid}:{q}".encode())
    if xadd_errors:
        problems.append(f"{len(xadd_errors)} XADD error replies, e.g. {xadd_errors[:3]!r}")

    c = Conn(a.port)
    acked_total = found = lost = dups = mismatched = phantom = unacked_present = 0
    entries_by_stream = []
    for s in range(NSTREAMS):
        key = f"s{s}"
        try:
            entries = xrange_all(c, key)
            xlen = c.call("XLEN", key)
        except RespError as e:
            problems.append(f"{key}: XRANGE/XLEN failed after the restart: {e}")
            entries, xlen = [], -1
        ids = [e[0] for e in entries]
        id_set = set(ids)
        d = len(ids) - len(id_set)
        payloads = [e[1] for e in entries]
        pd = len(payloads) - len(set(payloads))
        dups += d + pd
        if any(ids[k] >= ids[k + 1] for k in range(len(ids) - 1)):
            problems.append(f"{key}: XRANGE ids not strictly increasing")
        by_id = dict(entries)
        acked = acked_by_stream[s]
        acked_total += len(acked)
        missing = [i for i in acked if i not in by_id]
        lost += len(missing)
        found += len(acked) - len(missing)
        bad = [i for i, p in acked.items() if i in by_id and by_id[i] != p]
        mismatched += len(bad)
        ph = [p for p in payloads if p not in sent_payloads]
        phantom += len(ph)
        unacked_present += len(ids) - (len(acked) - len(missing))
        if xlen != len(entries):
            problems.append(f"{key}: XLEN {xlen} != {len(entries)} entries in XRANGE")
        if xlen < len(acked):
            problems.append(f"{key}: XLEN {xlen} < {len(acked)} acknowledged XADDs")
        if missing:
            problems.append(f"{key}: {len(missing)} acknowledged ids LOST, e.g. "
                            f"{[fmt_id(i) for i in missing[:5]]}")
        if d or pd:
            problems.append(f"{key}: {d} duplicate ids, {pd} duplicate payloads")
        if bad:
            problems.append(f"{key}: {len(bad)} entries with a different payload than sent")
        if ph:
            problems.append(f"{key}: {len(ph)} entries with a payload never sent, e.g. {ph[:3]!r}")
        info(f"{key}: xlen={xlen} entries={len(entries)} acked={len(acked)} "
             f"lost={len(missing)} dups={d + pd}")
        entries_by_stream.append(id_set)

    phase("verify consumer group (XPENDING/XINFO GROUPS)")
    delivered = {}            # (s, id) -> consumer name
    ack_sent, ack_confirmed = set(), set()
    for k in consumers:
        for key in k.delivered:
            if key in delivered:
                problems.append(f"s{key[0]} {fmt_id(key[1])} delivered twice with '>' "
                                f"(to {delivered[key]!r} and {k.name_b!r})")
            delivered[key] = k.name_b
        ack_sent |= k.ack_sent
        ack_confirmed |= k.ack_confirmed
        problems += [f"{k.name}: {x}" for x in k.anomalies[:5]]
    pel_missing = pel_wrong = pel_zombie = pel_dangling = pel_summary_bad = 0
    pel_total = 0
    pel_sets = []
    for s in range(NSTREAMS):
        key = f"s{s}"
        try:
            ext = xpending_all(c, key)
            summ = c.call("XPENDING", key, GROUP)
            groups = c.call("XINFO", "GROUPS", key)
        except RespError as e:
            problems.append(f"{key}: XPENDING/XINFO failed after the restart: {e}")
            ext, summ, groups = [], [0, None, None, None], []
        pel = {i: cons for i, cons, _idle, _n in ext}
        pel_total += len(pel)
        pel_sets.append(pel)
        cnt = summ[0]
        per_cons = {}
        for _i, cons, _idle, _n in ext:
            per_cons[cons] = per_cons.get(cons, 0) + 1
        summ_cons = {x[0]: int(x[1]) for x in (summ[3] or [])}
        if cnt != len(ext) or summ_cons != per_cons or (
                ext and (parse_id(summ[1]) != ext[0][0] or parse_id(summ[2]) != ext[-1][0])):
            pel_summary_bad += 1
            problems.append(f"{key}: XPENDING summary {summ!r} disagrees with the extended form "
                            f"({len(ext)} entries, per consumer {per_cons!r})")
        must = [(i, cons) for (ss, i), cons in delivered.items()
                if ss == s and (ss, i) not in ack_sent]
        miss = [i for i, _cons in must if i not in pel]
        wrong = [i for i, cons in must if i in pel and pel[i] != cons]
        zomb = [i for (ss, i) in ack_confirmed if ss == s and i in pel]
        dang = [i for i in pel if i not in entries_by_stream[s]]
        pel_missing += len(miss)
        pel_wrong += len(wrong)
        pel_zombie += len(zomb)
        pel_dangling += len(dang)
        if miss:
            problems.append(f"{key}: {len(miss)} delivered, never-acked ids NOT in the PEL, e.g. "
                            f"{[fmt_id(i) for i in miss[:5]]}")
        if wrong:
            problems.append(f"{key}: {len(wrong)} pending ids owned by the wrong consumer")
        if zomb:
            problems.append(f"{key}: {len(zomb)} ids whose XACK was acknowledged are pending "
                            f"again, e.g. {[fmt_id(i) for i in zomb[:5]]}")
        if dang:
            problems.append(f"{key}: {len(dang)} pending ids that are not in the stream")
        g = next((flat_map(x) for x in groups if flat_map(x).get(b"name") == GROUP), None)
        if g is None:
            problems.append(f"{key}: consumer group g is gone after the restart")
            continue
        ldi = parse_id(g[b"last-delivered-id"])
        mx = max((i for (ss, i) in delivered if ss == s), default=(0, 0))
        if ldi < mx:
            problems.append(f"{key}: last-delivered-id {fmt_id(ldi)} < delivered {fmt_id(mx)}")
        info(f"{key}: pending={len(pel)} (summary {cnt}) must_be_pending={len(must)} "
             f"missing={len(miss)} acked_but_pending={len(zomb)} last-delivered-id={fmt_id(ldi)}")

    phase("verify: drain the group after the restart (XREADGROUP >)")
    redelivered = orphaned = drained_n = 0
    keys = [f"s{i}" for i in range(NSTREAMS)]
    drained = [set() for _ in range(NSTREAMS)]
    while True:
        try:
            r = c.call("XREADGROUP", "GROUP", GROUP, "drain", "COUNT", 1000, "STREAMS",
                       *keys, *([">"] * NSTREAMS))
        except RespError as e:
            problems.append(f"XREADGROUP after the restart failed: {e}")
            break
        if not r:
            break
        for item in r:
            s = int(item[0][1:])
            for e in item[1] or []:
                drained[s].add(parse_id(e[0]))
    for s in range(NSTREAMS):
        drained_n += len(drained[s])
        red = [i for i in drained[s] if (s, i) in delivered]
        redelivered += len(red)
        orph = [i for i in entries_by_stream[s]
                if i not in drained[s] and i not in pel_sets[s] and (s, i) not in ack_sent]
        orphaned += len(orph)
        if red:
            problems.append(f"s{s}: {len(red)} ids delivered before the crash were delivered "
                            f"again with '>', e.g. {[fmt_id(i) for i in red[:5]]}")
        if orph:
            problems.append(f"s{s}: {len(orph)} entries neither pending, acked nor deliverable, "
                            f"e.g. {[fmt_id(i) for i in orph[:5]]}")
    c.close()
    info(f"drained {drained_n} undelivered entries; redelivered={redelivered} orphaned={orphaned}")

    pel_ok = not (pel_missing or pel_wrong or pel_zombie or pel_dangling or pel_summary_bad
                  or redelivered or orphaned)
    must_total = sum(1 for k in delivered if k not in ack_sent)
    unknown_acks = len(ack_sent - ack_confirmed)
    phase("summary")
    print(f"acked_xadds={acked_total}, found={found}, lost={lost}, duplicates={dups}, "
          f"payload_mismatch={mismatched}, phantom={phantom}, unacked_but_present={unacked_present}, "
          f"delivered={len(delivered)}, xack_confirmed={len(ack_confirmed)}, "
          f"xack_unknown={unknown_acks}, must_be_pending={must_total}, pel={pel_total}, "
          f"pel_missing={pel_missing}, acked_but_pending={pel_zombie}, redelivered={redelivered}, "
          f"orphaned={orphaned}, pel_ok={str(pel_ok).lower()}", flush=True)
    if acked_total == 0:
        problems.append("no XADD was acknowledged before the kill: nothing was tested")
    if problems:
        print("FAIL:", flush=True)
        for p in problems[:60]:
            print(f"  - {p}", flush=True)
        if len(problems) > 60:
            print(f"  ... and {len(problems) - 60} more", flush=True)
        return 1
    print("PASS: every acknowledged write survived kill -9; PEL consistent", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
