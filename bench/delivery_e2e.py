"""End-to-end delivery: accept through the API, relay to Postfix's smtp-sink; Postfix itself as the reference.

Postroom runs as a user runs it (`python -m postroom serve`, fresh data dir, fixed API key, the
default SQLite with synchronous=FULL unless --database-url says otherwise) in delivery mode `relay`
with `relay_url = smtp://127.0.0.1:<sink>?tls=none`. wrk posts a fixed number of ~2 KB messages to
/v3/email/send (one recipient each, 64 keep-alive connections); the script follows smtp-sink's
message counter until every stored message has arrived, then reads accept and delivery times from the
database. In the same run a throw-away Postfix (own config, queue and data directories in a temp dir,
loopback ports, `relayhost = [127.0.0.1]:<sink>`) takes the same number of messages from smtp-source,
a new connection per message, and relays them to a second smtp-sink.

    python bench/delivery_e2e.py                     # 10,000 messages each side
    python bench/delivery_e2e.py --quick             # 1,000 messages, for development
    python bench/delivery_e2e.py --database-url postgresql://postgres@127.0.0.1:5432/test

Prints a table and, as the last line, one JSON object with every figure. Needs wrk and the Debian
postfix package (smtp-sink, smtp-source, postfix); the Postfix reference needs root. Only ever talks
to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from http_send import (
    cpu_seconds,
    database,
    free_port,
    log,
    make_body,
    post_once,
    start,
    stop,
    tail,
    wait_healthy,
)

HOST = "127.0.0.1"
SBIN = Path("/usr/sbin")
SMTP_SINK = SBIN / "smtp-sink"
SMTP_SOURCE = SBIN / "smtp-source"
POSTFIX = SBIN / "postfix"
POSTQUEUE = SBIN / "postqueue"
SENDER = "bench@example.com"
RECIPIENT = "receiver@test.example"

# wrk script: POST the body until this thread has `limit` answers, then stop the thread and say so on
# stdout (wrk's main thread sleeps for -d regardless; the script sends it SIGINT once every thread has
# said so). Requests in flight when a thread stops are still stored by the server; the database count
# is the truth. The last line `WRK_JSON {...}` carries the figures (latencies in µs).
WRK_LUA = r"""
local threads = {}
local index = 0

function setup(thread)
   index = index + 1
   thread:set("index", index)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.body = f:read("*a")
   f:close()
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-Smtp2go-Api-Key"] = args[2]
   local total, nthreads = tonumber(args[3]), tonumber(args[4])
   limit = math.floor(total / nthreads)
   if index <= total % nthreads then limit = limit + 1 end
   answered, accepted, other_2xx, non_2xx, stopped = 0, 0, 0, 0, false
end

function response(status, headers, body)
   answered = answered + 1
   if status == 200 and body ~= nil and string.find(body, '"succeeded":1', 1, true) then
      accepted = accepted + 1
   elseif status >= 200 and status < 300 then
      other_2xx = other_2xx + 1
   else
      non_2xx = non_2xx + 1
   end
   if answered >= limit and not stopped then
      stopped = true
      io.write("WRK_THREAD_DONE\n")
      io.flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local acc, o2, n2 = 0, 0, 0
   for _, t in ipairs(threads) do
      acc = acc + (t:get("accepted") or 0)
      o2 = o2 + (t:get("other_2xx") or 0)
      n2 = n2 + (t:get("non_2xx") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"accepted":%d,"other_2xx":%d,"non_2xx":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p99":%d,"max":%d}}\n',
      summary.requests, acc, o2, n2, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# --------------------------------------------------------------------------------------------- helpers


def wall() -> float:
    return time.time()  # wall clock: the database's timestamps are wall-clock UTC too


def naive_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def as_ts(value: Any) -> float:
    """A database timestamp (naive UTC; SQLite gives text) as seconds since the epoch."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return float(value.replace(tzinfo=UTC).timestamp())


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    values = sorted(seconds)
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round((values[-1] if values else 0.0) * 1000, 1),
        "mean": round(sum(values) / len(values) * 1000, 1) if values else 0.0,
    }


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return float(sum(parts) - idle), float(sum(parts))


class CpuSampler:
    """Samples the machine's busy jiffies (and some processes' CPU time) every 0.1 s in a thread, so the
    cores used over any window of the run (e.g. load start to last delivery) can be read afterwards."""

    def __init__(self, pids: tuple[int, ...] = (), interval: float = 0.1) -> None:
        self.pids = pids
        self.samples: list[tuple[float, float, float, float]] = []  # (wall, busy, total, process seconds)
        self._stop = threading.Event()
        self._interval = interval
        self._sample()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        busy, total = machine_busy()
        proc = sum(cpu_seconds(pid) for pid in self.pids)
        self.samples.append((wall(), busy, total, proc))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def _around(self, t0: float, t1: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        before = [s for s in self.samples if s[0] <= t0] or self.samples[:1]
        after = [s for s in self.samples if s[0] >= t1] or self.samples[-1:]
        return before[-1], after[0]

    def machine_cores(self, t0: float, t1: float) -> float:
        """Average busy cores of the whole machine between t0 and t1 (to the nearest 0.1 s outside)."""
        a, b = self._around(t0, t1)
        total = b[2] - a[2]
        return (b[1] - a[1]) / total * (os.cpu_count() or 1) if total > 0 else 0.0

    def process_cores(self, t0: float, t1: float) -> float:
        a, b = self._around(t0, t1)
        return (b[3] - a[3]) / (b[0] - a[0]) if b[0] > a[0] else 0.0


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")
        time.sleep(0.05)


def wait_port_closed(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------- smtp-sink


class Sink:
    """`smtp-sink -c` on a free loopback port; a thread follows its message counter with wall-clock times."""

    COUNTER = re.compile(rb"mesg=(\d+)")

    def __init__(self, workdir: Path, name: str) -> None:
        self.port = free_port()
        self.history: list[tuple[float, int]] = [(wall(), 0)]  # (time, messages) at each change
        self._changed = threading.Condition()
        cmd = [str(SMTP_SINK), "-c"]
        if os.geteuid() == 0:
            cmd += ["-u", "postfix"]  # smtp-sink refuses to run as root without a user to switch to
        cmd += [f"{HOST}:{self.port}", "1000"]
        self._err = (workdir / f"{name}.err").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, name=f"{name}-reader", daemon=True)
        self._reader.start()
        wait_port(self.port)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            now = wall()
            found = self.COUNTER.findall(chunk)
            if not found:
                continue
            value = int(found[-1])
            with self._changed:
                if value != self.history[-1][1]:
                    self.history.append((now, value))
                    self._changed.notify_all()

    @property
    def count(self) -> int:
        return self.history[-1][1]

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.count < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def time_of(self, count: int) -> float | None:
        """When the counter first reached `count`."""
        return next((t for t, n in self.history if n >= count), None)

    def count_at(self, ts: float) -> int:
        """The counter's value at time `ts`."""
        value = 0
        for t, n in self.history:
            if t > ts:
                break
            value = n
        return value

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self._err.close()


@dataclass
class SideResult:
    """The figures both sides share, all from the sink's counter and the load generator's clock."""

    messages: int = 0
    load_start: float = 0.0  # wall clock when the load generator started
    load_end: float = 0.0  # when it had all its answers
    sink_first: float = 0.0  # first measured message at the sink
    sink_last: float = 0.0  # last measured message at the sink
    sink_at_load_end: int = 0  # measured messages at the sink when the load generator finished
    latency_ms: dict[str, float] = field(default_factory=dict)  # accept → delivered
    machine_cores: float = 0.0  # busy cores of the whole machine, load start → last at sink
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inject_per_s(self) -> float:
        return self.messages / (self.load_end - self.load_start) if self.load_end > self.load_start else 0.0

    @property
    def delivered_during_load_per_s(self) -> float:
        span = self.load_end - self.load_start
        return self.sink_at_load_end / span if span > 0 else 0.0

    @property
    def delivered_per_s(self) -> float:
        """First to last message at the sink."""
        span = self.sink_last - self.sink_first
        return (self.messages - 1) / span if span > 0 else 0.0

    @property
    def e2e_per_s(self) -> float:
        """Messages / (last at the sink - load start): the headline figure, measured alike on both sides."""
        span = self.sink_last - self.load_start
        return self.messages / span if span > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "load_started_utc": naive_utc(self.load_start).isoformat(timespec="milliseconds"),
            "inject_per_s": round(self.inject_per_s, 1),
            "delivered_during_load_per_s": round(self.delivered_during_load_per_s, 1),
            "delivered_per_s": round(self.delivered_per_s, 1),
            "e2e_per_s": round(self.e2e_per_s, 1),
            "seconds_to_last_delivered": round(self.sink_last - self.load_start, 3),
            "load_seconds": round(self.load_end - self.load_start, 3),
            "queue_latency_ms": self.latency_ms,
            "machine_cpu_cores": round(self.machine_cores, 2),
            **self.extra,
        }


# ------------------------------------------------------------------------------------------------ wrk


def run_wrk(
    url: str, body_file: Path, lua: Path, key: str, messages: int, args: argparse.Namespace
) -> tuple[dict[str, Any], float, float]:
    """Post `messages` bodies (plus what is in flight when the threads stop); (figures, start, end)."""
    threads = max(1, min(args.threads, messages))
    connections = max(threads, min(args.connections, messages))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{args.timeout:g}s",
        "--timeout=30s",
        "-s",
        str(lua),
        url,
        "--",
        str(body_file),
        key,
        str(messages),
        str(threads),
    ]
    lines: list[str] = []
    finished = threading.Event()
    started = wall()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ended = [0.0]

    def read() -> None:
        assert proc.stdout is not None
        done = 0
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("WRK_THREAD_DONE"):
                done += 1
                if done == threads:
                    ended[0] = wall()
                    finished.set()
        finished.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        finished.wait(args.timeout + 30)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # wrk prints its summary and runs done() on SIGINT
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    end = ended[0] or wall()
    raw = next((ln for ln in lines if ln.startswith("WRK_JSON ")), None)
    if raw is None:
        raise SystemExit(f"wrk printed no WRK_JSON line:\n{''.join(lines)}")
    figures = json.loads(raw[len("WRK_JSON ") :])
    figures["latency_ms"] = {k: round(v / 1000, 2) for k, v in figures.pop("latency_us").items()}
    if not ended[0]:
        log(f"wrk stopped before every thread had its answers ({args.timeout:g} s)")
    return figures, started, end


# ------------------------------------------------------------------------------------------- database


def fetch(db_url: str, data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one read-only query against the server's database (SQLite file or PostgreSQL)."""
    if not db_url or db_url.startswith("sqlite"):
        path = data_dir / "postroom.sqlite3"
        if db_url:
            from sqlalchemy.engine import make_url

            path = Path(make_url(db_url).database or "")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import psycopg

    with psycopg.connect(db_url) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]


def queue_state(db_url: str, data_dir: Path) -> tuple[int, int]:
    """(messages stored, deliveries still queued or in flight)."""
    messages = int(fetch(db_url, data_dir, "SELECT count(*) FROM messages")[0][0])
    queued = int(fetch(db_url, data_dir, "SELECT count(*) FROM deliveries WHERE status = 'queued'")[0][0])
    return messages, queued


def wait_drained(sink: Sink, db_url: str, data_dir: Path, timeout: float) -> tuple[int, bool]:
    """Until every stored message is at the sink and recorded as delivered; (messages stored, drained)."""
    deadline = time.monotonic() + timeout
    settle = time.monotonic() + 0.3  # requests in flight when wrk stopped are still being committed
    messages = 0
    while time.monotonic() < deadline:
        messages, queued = queue_state(db_url, data_dir)
        if queued == 0 and sink.count >= messages and time.monotonic() >= settle:
            return messages, True
        time.sleep(0.2)
    return messages, False


# ------------------------------------------------------------------------------------------- postroom


def py_spy_start(pid: int, out: str, gil: bool, rate: int) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        log("py-spy not found; --profile ignored")
        return None
    fmt = "raw" if out.endswith(".txt") else "flamegraph"
    cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", fmt, "--output", out]
    cmd += ["--nonblocking", "--threads"] + (["--gil"] if gil else [])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def py_spy_stop(spy: subprocess.Popen[bytes] | None, out: str) -> None:
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
    try:
        spy.wait(timeout=60)
        log(f"profile written to {out}")
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


@dataclass
class Server:
    """A running Postroom under load: where to post, and where to look."""

    sink: Sink
    url: str
    body_file: Path
    lua: Path
    key: str
    db_url: str
    data_dir: Path
    pids: tuple[int, ...]  # serve, and the worker when it runs in its own process


def postroom_load(
    label: str, srv: Server, messages: int, args: argparse.Namespace, spy_out: str | None = None
) -> dict[str, Any]:
    """One wrk run of `messages` and the wait until all of them are delivered."""
    sink = srv.sink
    base = sink.count
    log(f"{label}: posting {messages} messages over {args.connections} connections")
    cpu = CpuSampler(srv.pids)
    spy = py_spy_start(srv.pids[-1], spy_out, args.profile_gil, args.profile_rate) if spy_out else None
    figures, started, ended = run_wrk(srv.url, srv.body_file, srv.lua, srv.key, messages, args)
    stored, drained = wait_drained(sink, srv.db_url, srv.data_dir, args.timeout)
    py_spy_stop(spy, spy_out or "")
    cpu.close()
    total = stored - base
    late = "" if drained else " (TIMEOUT)"
    log(f"{label}: {total} messages stored, {sink.count - base} at the sink{late}")
    return {
        "wrk": figures,
        "start": started,
        "end": ended,
        "base": base,
        "messages": total,
        "drained": drained,
        "cpu": cpu,
    }


def bench_postroom(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    key = "api-" + secrets.token_hex(16).upper()
    body = json.loads(make_body(args.size, None))
    body["to"] = [f"Receiver <{RECIPIENT}>"]
    body["subject"] = "Postroom end-to-end delivery benchmark"
    body_bytes = json.dumps(body).encode()
    body_file = workdir / "body.json"
    body_file.write_bytes(body_bytes)
    lua = workdir / "send_count.lua"
    lua.write_text(WRK_LUA)
    data_dir = workdir / "data"
    sink = Sink(workdir, "postroom-sink")
    try:
        with database(args.database_url, data_dir) as db_url:
            port = free_port()
            env = {
                **os.environ,
                "POSTROOM_API_KEY": key,
                "POSTROOM_DELIVERY_MODE": "relay",
                "POSTROOM_RELAY_URL": f"smtp://{HOST}:{sink.port}?tls=none",
                "POSTROOM_SMTP_PORT": "0",
                "POSTROOM_LOG_LEVEL": "warning",
                "POSTROOM_CONFIG": str(workdir / "no-postroom.toml"),
            }
            env.pop("POSTROOM_DATABASE_URL", None)
            for item in args.server_env:
                name, _, value = item.partition("=")
                env[name] = value
            common = ["--data-dir", str(data_dir)] + (["--database-url", db_url] if db_url else [])
            cmd = [sys.executable, "-m", "postroom", "serve", *common, "--http-host", HOST]
            cmd += ["--http-port", str(port)] + (["--no-workers"] if args.worker_process else [])
            log_path = workdir / "postroom.log"
            log(f"starting: {' '.join(cmd)} (relay to smtp-sink on {HOST}:{sink.port})")
            proc = start(cmd, env, log_path)
            worker: subprocess.Popen[bytes] | None = None
            try:
                wait_healthy(proc, f"http://{HOST}:{port}/healthz", log_path)
                if args.worker_process:
                    wcmd = [sys.executable, "-m", "postroom", "worker", *common]
                    log(f"starting: {' '.join(wcmd)}")
                    worker = start(wcmd, env, workdir / "worker.log")
                url = f"http://{HOST}:{port}/v3/email/send"
                status, answer = post_once(url, body_bytes, key)
                if status != 200 or answer.get("data", {}).get("succeeded") != 1:
                    raise SystemExit(f"a single send failed: HTTP {status} {answer}")
                if not sink.wait_for(1, 30):
                    raise SystemExit(f"the first message never reached smtp-sink:\n{tail(log_path)}")
                pids = (proc.pid,) + ((worker.pid,) if worker else ())
                srv = Server(sink, url, body_file, lua, key, db_url, data_dir, pids)
                warm = None
                if args.warmup_messages:
                    warm = postroom_load("postroom warm-up", srv, args.warmup_messages, args)
                run = postroom_load("postroom", srv, args.messages, args, args.profile)
            finally:
                if worker is not None:
                    stop(worker)  # SIGINT: the worker finishes its lanes, releases leases, exits
                code = stop(proc)
            if code not in (0, -signal.SIGINT):
                log(f"postroom exited with {code}:\n{tail(log_path)}")
            db = postroom_figures(db_url, data_dir, run["start"])
    finally:
        sink.close()
    return {"run": run, "warm": warm, "sink": sink, "db": db, "body_bytes": len(body_bytes)}


def postroom_figures(db_url: str, data_dir: Path, since: float) -> dict[str, Any]:
    """Accept and delivery times of the measured messages (created at or after `since`), from the database."""
    created = {
        email_id: as_ts(ts)
        for email_id, ts in fetch(db_url, data_dir, "SELECT email_id, created_at FROM messages")
    }
    created = {k: v for k, v in created.items() if v >= since - 0.001}
    delivered: dict[str, float] = {}
    for email_id, ts in fetch(
        db_url, data_dir, "SELECT email_id, created_at FROM events WHERE event = 'delivered'"
    ):
        if email_id in created:
            delivered[email_id] = min(as_ts(ts), delivered.get(email_id, float("inf")))
    statuses = dict(
        fetch(
            db_url,
            data_dir,
            "SELECT d.status, count(*) FROM deliveries d JOIN messages m ON m.email_id = d.email_id "
            "GROUP BY d.status",
        )
    )
    sizes = fetch(db_url, data_dir, "SELECT avg(size) FROM messages")
    figures: dict[str, Any] = {
        "messages": len(created),
        "delivered": len(delivered),
        "deliveries_by_status_all_runs": {str(k): int(v) for k, v in statuses.items()},
        "avg_message_bytes": round(float(sizes[0][0] or 0)),
    }
    if created and delivered:
        first_accept, last_accept = min(created.values()), max(created.values())
        first_deliv, last_deliv = min(delivered.values()), max(delivered.values())
        accept_span = last_accept - first_accept
        during = sum(1 for t in delivered.values() if t <= last_accept)
        figures.update(
            {
                "accepted_per_s": round(len(created) / accept_span, 1) if accept_span > 0 else None,
                "delivered_per_s": round(len(delivered) / (last_deliv - first_deliv), 1)
                if last_deliv > first_deliv
                else None,
                "e2e_per_s": round(len(delivered) / (last_deliv - first_accept), 1),
                "delivered_while_accepting_per_s": round(during / accept_span, 1)
                if accept_span > 0
                else None,
                "seconds_first_accept_to_last_delivered": round(last_deliv - first_accept, 3),
                "queue_latency_ms": latency_summary([delivered[k] - created[k] for k in delivered]),
            }
        )
    return figures


def postroom_result(pr: dict[str, Any]) -> SideResult:
    run, sink, db = pr["run"], pr["sink"], pr["db"]
    base, n, cpu = run["base"], run["messages"], run["cpu"]
    last = sink.time_of(base + n) or 0.0
    return SideResult(
        messages=n,
        load_start=run["start"],
        load_end=run["end"],
        sink_first=sink.time_of(base + 1) or 0.0,
        sink_last=last,
        sink_at_load_end=max(0, sink.count_at(run["end"]) - base),
        latency_ms=db.get("queue_latency_ms", {}),
        machine_cores=cpu.machine_cores(run["start"], last),
        extra={
            "server_cpu_cores": round(cpu.process_cores(run["start"], last), 2),
            "drained": run["drained"],
            "wrk": run["wrk"],
            "database": db,
        },
    )


# -------------------------------------------------------------------------------------------- postfix

# The services of Debian's default master.cf (without the pipe-based transports), with chroot off:
# a queue directory in a temp dir has none of the files a chroot jail needs.
MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

# Everything not named here is Postfix's default: the durable queue (fsync of every queue file),
# default_destination_concurrency_limit = 20, smtp_connection_cache_on_demand = yes,
# in_flow_delay = 1s, default_process_limit = 100. TLS is off because smtp-sink does not offer it
# (Postroom relays with tls=none too); the log goes to a file so the per-message delay= can be read,
# with microseconds rather than the default 10 ms (delay_logging_resolution_limit only affects the log).
MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:{sink_port}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
delay_logging_resolution_limit = 6
smtpd_banner = $myhostname ESMTP
{extra}
"""


@contextlib.contextmanager
def postfix_instance(directory: Path, sink_port: int, extra: list[str]) -> Iterator[int]:
    """A throw-away Postfix in `directory` relaying everything to the sink; its listen port. Stopped
    afterwards. The directory must be reachable for the `postfix` user: its daemons run as that user."""
    directory.mkdir(mode=0o755)
    port = free_port()
    conf = directory / "conf"
    for name in ("conf", "queue", "data"):
        (directory / name).mkdir()
    shutil.chown(directory / "data", "postfix", "postfix")
    (conf / "main.cf").write_text(MAIN_CF.format(dir=directory, sink_port=sink_port, extra="\n".join(extra)))
    (conf / "master.cf").write_text(MASTER_CF.format(listen=f"{HOST}:{port}"))
    try:
        postfix_cmd(directory, "check")
        postfix_cmd(directory, "start")
        wait_port(port)
        yield port
    finally:
        if (directory / "queue" / "pid" / "master.pid").exists():
            postfix_cmd(directory, "stop", check=False)
            wait_port_closed(port)
            wait_master_gone(directory)


def postfix_cmd(directory: Path, command: str, check: bool = True) -> None:
    result = subprocess.run(
        [str(POSTFIX), "-c", str(directory / "conf"), command], capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        maillog = directory / "maillog"
        text = maillog.read_text(errors="replace")[-3000:] if maillog.exists() else ""
        raise SystemExit(f"postfix {command} failed ({result.returncode}): {result.stderr}{text}")


def wait_master_gone(directory: Path, timeout: float = 15.0) -> None:
    pid_file = directory / "queue" / "pid" / "master.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)


def queue_empty(directory: Path) -> bool:
    result = subprocess.run(
        [str(POSTQUEUE), "-c", str(directory / "conf"), "-p"], capture_output=True, text=True, timeout=30
    )
    return "Mail queue is empty" in result.stdout


def smtp_source(port: int, messages: int, args: argparse.Namespace) -> tuple[float, float, int, str]:
    """(start, end, exit status, stderr) of one smtp-source run: a new connection per message."""
    cmd = [
        str(SMTP_SOURCE),
        "-s",
        str(args.sessions),
        "-m",
        str(messages),
        "-l",
        str(args.size),
        "-f",
        SENDER,
        "-t",
        RECIPIENT,
        "-M",
        "bench.example",
        f"{HOST}:{port}",
    ]
    started = wall()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    return started, wall(), done.returncode, done.stderr.strip()[:500]


DELAY = re.compile(r"status=sent")
DELAY_VALUE = re.compile(r"\bdelay=([0-9.]+)")


def postfix_delays(directory: Path, skip: int) -> list[float]:
    """delay= of each `status=sent` line of the maillog after the first `skip` (the warm-up)."""
    path = directory / "maillog"
    if not path.exists():
        return []
    values = []
    for line in path.read_text(errors="replace").splitlines():
        if "postfix/smtp[" in line and DELAY.search(line) and (m := DELAY_VALUE.search(line)):
            values.append(float(m.group(1)))
    return values[skip:]


def bench_postfix(args: argparse.Namespace, workdir: Path, messages: int) -> SideResult:
    sink = Sink(workdir, "postfix-sink")
    try:
        directory = workdir / "postfix"
        with postfix_instance(directory, sink.port, args.postfix_param) as port:
            log(f"postfix: listening on {HOST}:{port}, relayhost [{HOST}]:{sink.port}")
            warm = 0
            if args.warmup_messages:
                warm = args.warmup_messages
                log(f"postfix warm-up: {warm} messages")
                smtp_source(port, warm, args)
                if not sink.wait_for(warm, args.timeout):
                    raise SystemExit(f"postfix warm-up: only {sink.count} of {warm} reached the sink")
                time.sleep(0.5)
            log(f"postfix: {messages} messages over {args.sessions} smtp-source sessions")
            cpu = CpuSampler()
            started, ended, status, err = smtp_source(port, messages, args)
            if status != 0:
                log(f"smtp-source exited {status}: {err}")
            drained = sink.wait_for(warm + messages, args.timeout)
            cpu.close()
            cores = cpu.machine_cores(started, sink.time_of(warm + messages) or wall())
            time.sleep(0.3)  # the smtp client logs its status=sent line after the sink's 250
            empty = queue_empty(directory)
            delays = postfix_delays(directory, warm)
            if not drained:
                log(f"postfix: only {sink.count - warm} of {messages} reached the sink")
        return SideResult(
            messages=messages,
            load_start=started,
            load_end=ended,
            sink_first=sink.time_of(warm + 1) or 0.0,
            sink_last=sink.time_of(warm + messages) or 0.0,
            sink_at_load_end=max(0, sink.count_at(ended) - warm),
            latency_ms=latency_summary(delays),
            machine_cores=cores,
            extra={
                "smtp_source_exit": status,
                "drained": drained,
                "queue_empty_after": empty,
                "sent_lines_in_maillog": len(delays),
                "settings_changed": args.postfix_param,
            },
        )
    finally:
        sink.close()


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--messages", type=int, default=10000, help="messages in the measured run (default 10000)")
    p.add_argument("--quick", action="store_true", help="1000 messages and a 100-message warm-up")
    p.add_argument(
        "--warmup-messages", type=int, default=None, help="messages sent first on each side (default 200)"
    )
    p.add_argument("--size", type=int, default=2048, help="message text bytes (default 2048)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections to Postroom (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--sessions", type=int, default=20, help="parallel smtp-source sessions (default 20)")
    p.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds each load run and each drain may take (default 300)",
    )
    p.add_argument(
        "--database-url",
        default="",
        help="postgresql://… runs against a fresh database created and dropped on that server; "
        "default: SQLite in the temporary data dir",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for postroom serve, e.g. POSTROOM_MX_CONCURRENCY=20 (repeatable)",
    )
    p.add_argument(
        "--postfix-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra main.cf line for the reference Postfix, e.g. smtp_connection_cache_on_demand=no",
    )
    p.add_argument(
        "--worker-process",
        action="store_true",
        help="serve --no-workers plus a separate `postroom worker` process (default: workers inside serve)",
    )
    p.add_argument("--skip-reference", action="store_true", help="do not run the Postfix reference")
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="attach py-spy to the server during the measured run (.svg flame graph, .txt collapsed "
        "stacks); skews the figures",
    )
    p.add_argument(
        "--profile-gil", action="store_true", help="with --profile: only the thread holding the GIL"
    )
    p.add_argument(
        "--profile-rate", type=int, default=250, help="with --profile: samples per second (default 250)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (path is printed)")
    args = p.parse_args(argv)
    if args.quick and args.messages == 10000:
        args.messages = 1000
    if args.warmup_messages is None:
        args.warmup_messages = 100 if args.quick else 200
    if args.messages < 1 or args.messages > 200_000:
        p.error("--messages must be between 1 and 200000")
    if args.warmup_messages < 0 or args.warmup_messages > 10_000:
        p.error("--warmup-messages must be between 0 and 10000")
    if args.timeout <= 0 or args.timeout > 1800:
        p.error("--timeout must be in (0, 1800] seconds")
    return args


def row(name: str, r: SideResult) -> str:
    lat = r.latency_ms
    return (
        f"{name:<22}{r.messages:>8}{r.inject_per_s:>10.0f}{r.delivered_during_load_per_s:>10.0f}"
        f"{r.delivered_per_s:>10.0f}{r.e2e_per_s:>10.0f}{lat.get('p50', 0):>10.1f}{lat.get('p99', 0):>10.1f}"
        f"{lat.get('max', 0):>10.1f}{r.machine_cores:>6.2f}"
    )


def report(args: argparse.Namespace, pr: dict[str, Any], ours: SideResult, ref: SideResult | None) -> dict:
    db = pr["db"]
    backend = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    print()
    print(
        f"end-to-end delivery: {ours.messages} messages of ~{args.size} B text, one recipient each, relayed "
        f"to smtp-sink on loopback; backend {backend}, {os.cpu_count()} CPUs"
    )
    workers = "a separate `postroom worker`" if args.worker_process else "the worker inside serve"
    print(
        f"postroom: wrk {args.connections} keep-alive connections -> /v3/email/send -> {workers} -> relay "
        "(tls=none); "
        f"reference: smtp-source {args.sessions} sessions, new connection per message -> postfix -> relayhost"
    )
    print(
        f"{'target':<22}{'msgs':>8}{'inject/s':>10}{'dlv/s ld':>10}{'dlv/s':>10}{'e2e/s':>10}"
        f"{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'cpu':>6}"
    )
    print(row("postroom", ours))
    ratio = None
    if ref is not None:
        print(row("postfix (reference)", ref))
        ratio = ours.e2e_per_s / ref.e2e_per_s if ref.e2e_per_s else None
        print(f"ratio postroom/postfix (e2e/s): {ratio:.3f}" if ratio is not None else "ratio: n/a")
    print(
        "  inject/s: messages / load time; dlv/s ld: reached the sink while the load ran; dlv/s: first to "
        "last at the sink;\n  e2e/s: messages / (last at the sink - load start); p50/p99/max: queue latency, "
        "accept -> delivered\n  (postroom: database timestamps; postfix: delay= in its log); cpu: busy cores "
        "of the machine"
    )
    if "e2e_per_s" in db:
        print(
            f"postroom from the database: accepted {db['accepted_per_s']}/s, "
            f"delivered {db['delivered_per_s']}/s "
            f"(first to last), delivered while accepting {db['delivered_while_accepting_per_s']}/s, "
            f"e2e {db['e2e_per_s']}/s (first accepted -> last delivered, "
            f"{db['seconds_first_accept_to_last_delivered']} s); avg message {db['avg_message_bytes']} B; "
            f"server cpu {ours.extra['server_cpu_cores']} cores"
        )
    wrk = pr["run"]["wrk"]
    ok = (
        ours.extra["drained"]
        and db["delivered"] == db["messages"] == ours.messages
        and wrk["non_2xx"] == 0
        and wrk["other_2xx"] == 0
        and sum(wrk["errors"].values()) == 0
    )
    print(
        f"check: postroom {db['messages']} stored, {db['delivered']} delivered, sink got {ours.messages} "
        f"(non-2xx {wrk['non_2xx']}, socket errors {sum(wrk['errors'].values())})"
        + (
            f"; postfix {ref.messages} sent, sink got {ref.messages if ref.extra['drained'] else 'fewer'}, "
            f"queue empty after: {ref.extra['queue_empty_after']}"
            if ref is not None
            else ""
        )
    )
    if ref is not None:
        ok = ok and ref.extra["drained"] and ref.extra["smtp_source_exit"] == 0
    print(f"-> {'OK' if ok else 'MISMATCH'}")
    target = ours.e2e_per_s >= 1000 and (ref is None or ours.e2e_per_s >= ref.e2e_per_s)
    print(
        f"target (>= 1000 msgs/s e2e{' and >= postfix' if ref is not None else ''}): "
        f"{'met' if target else 'not met'}"
    )
    return {
        "bench": "delivery_e2e",
        "messages": ours.messages,
        "warmup_messages": args.warmup_messages,
        "size": args.size,
        "body_bytes": pr["body_bytes"],
        "connections": args.connections,
        "sessions": args.sessions,
        "backend": backend,
        "worker_process": args.worker_process,
        "cpus": os.cpu_count(),
        "postroom": ours.as_json(),
        "postfix": ref.as_json() if ref is not None else None,
        "ratio": round(ratio, 4) if ratio is not None else None,
        "target_met": target,
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the finally blocks stop what was started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    for binary in (SMTP_SINK, SMTP_SOURCE, POSTFIX):
        if not binary.exists():
            raise SystemExit(f"{binary} not found (Debian: apt-get install -y postfix)")
    if not args.skip_reference:
        if os.geteuid() != 0:
            raise SystemExit("the Postfix reference needs root (or pass --skip-reference)")
        pwd.getpwnam("postfix")
    workdir = Path(tempfile.mkdtemp(prefix="postroom-bench-e2e-"))
    workdir.chmod(0o755)
    try:
        pr = bench_postroom(args, workdir)
        ours = postroom_result(pr)
        ref = None if args.skip_reference else bench_postfix(args, workdir, ours.messages)
        figures = report(args, pr, ours, ref)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, separators=(",", ":")))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
