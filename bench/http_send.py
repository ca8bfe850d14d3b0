"""Load benchmark of /v3/email/send, with a bare Starlette endpoint on the same stack as the yardstick.

Starts `postroom serve` the way a user does (fresh data dir, fixed API key, capture delivery, the
default SQLite with synchronous=FULL unless --database-url says otherwise), drives it with wrk at a
fixed concurrency with a ~2 KB JSON body, then does the same against bench/reference_app.py (one
POST route that reads the body and answers a small JSON object, uvicorn with the same options).
Afterwards the server is stopped and the rows it stored are counted against the 2xx answers wrk saw.

    python bench/http_send.py                       # 10 s at 64 connections, SQLite
    python bench/http_send.py --duration 15 --connections 128
    python bench/http_send.py --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/http_send.py --template --skip-reference   # also sends naming a template, same run

With --template, after the plain sends the same server gets a template holding the same text body
(with placeholders, an `{{#each}}` and an `{{#if}}`) and is measured again with sends that name it
(`template_id` + `template_data`, no subject or body), alternating with plain sends for
--template-rounds rounds (the machine's load shifts between runs): the medians of each and their
ratio template/plain are printed.

Prints a table and, as the last line, one JSON object with every figure. Needs `wrk` on PATH.
Only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LUA = HERE / "send.lua"
REFERENCE_APP = HERE / "reference_app.py"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def make_body(size: int, key_in_body: str | None) -> bytes:
    """A /v3/email/send body whose text_body is about `size` bytes of ASCII prose in short lines."""
    line = "The quick brown fox jumps over the lazy dog while the benchmark keeps on sending. "
    text: list[str] = []
    n = 0
    while n < size:
        chunk = f"{len(text):04d} {line}"
        text.append(chunk)
        n += len(chunk) + 1
    body: dict[str, Any] = {
        "sender": "Bench Sender <bench@example.com>",
        "to": ["Receiver <receiver@example.org>"],
        "subject": "Postroom load benchmark",
        "text_body": "\n".join(text)[:size],
    }
    if key_in_body:
        body["api_key"] = key_in_body
    return json.dumps(body).encode()


TEMPLATE_ID = "bench-template"


def make_template(size: int, key_in_body: str | None) -> tuple[bytes, bytes]:
    """A /v3/template/add body whose text is the plain send's (about `size` bytes) with placeholders,
    a loop and a condition, and a send body naming it."""
    prose = json.loads(make_body(size, None))["text_body"]
    template: dict[str, Any] = {
        "id": TEMPLATE_ID,
        "template_name": "Benchmark",
        "subject": "Postroom load benchmark for {{ name }}",
        "text_body": "Hello {{ name }},\n" + prose + "\n{{#each items}}- {{this}}\n{{/each}}"
        "{{#if vip}}VIP{{/if}}",
    }
    send: dict[str, Any] = {
        "sender": "Bench Sender <bench@example.com>",
        "to": ["Receiver <receiver@example.org>"],
        "template_id": TEMPLATE_ID,
        "template_data": {"name": "Receiver <r>", "items": ["one", "two", "three"], "vip": True},
    }
    if key_in_body:
        template["api_key"] = send["api_key"] = key_in_body
    return json.dumps(template).encode(), json.dumps(send).encode()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before it was healthy:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} was not healthy after {timeout:.0f} s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGINT (uvicorn's graceful shutdown: in-flight requests finish, lifespan shutdown runs)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def post_once(url: str, body: bytes, key: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "X-Smtp2go-Api-Key": key}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# ------------------------------------------------------------------------------------------------ wrk


@dataclass
class WrkResult:
    requests: int = 0
    duration_s: float = 0.0
    accepted: int = 0
    other_2xx: int = 0
    non_2xx: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    server_cpu: float = 0.0  # cores the server process used on average during the run
    text: str = ""

    @property
    def rps(self) -> float:
        return self.accepted / self.duration_s if self.duration_s else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted_per_s": round(self.rps, 1),
            "requests": self.requests,
            "accepted": self.accepted,
            "other_2xx": self.other_2xx,
            "non_2xx": self.non_2xx,
            "socket_errors": self.errors,
            "duration_s": round(self.duration_s, 3),
            "latency_ms": self.latency_ms,
            "server_cpu_cores": round(self.server_cpu, 2),
        }


def run_wrk(
    url: str, body_file: Path, key: str, args: argparse.Namespace, seconds: float, server_pid: int
) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        f"--timeout={args.timeout:g}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(body_file),
        key,
    ]
    cpu0, t0 = cpu_seconds(server_pid), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + args.timeout + 60)
    cpu1, t1 = cpu_seconds(server_pid), time.monotonic()
    if out.returncode != 0:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no WRK_JSON line:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line[len("WRK_JSON ") :])
    lat = raw["latency_us"]
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        accepted=raw["accepted"],
        other_2xx=raw["other_2xx"],
        non_2xx=raw["non_2xx"],
        errors=raw["errors"],
        latency_ms={k: round(v / 1000, 2) for k, v in lat.items()},
        server_cpu=(cpu1 - cpu0) / (t1 - t0) if t1 > t0 else 0.0,
        text=out.stdout.replace(line, "").strip(),
    )


def measure(
    url: str,
    body_file: Path,
    key: str,
    args: argparse.Namespace,
    pid: int,
    label: str,
    profile: str | None = None,
) -> tuple[WrkResult | None, WrkResult]:
    """Warm-up (unless --warmup 0), then the measured run; py-spy watches the measured run if asked."""
    warm = None
    if args.warmup > 0:
        log(f"{label}: warm-up {args.warmup:g} s")
        warm = run_wrk(url, body_file, key, args, args.warmup, pid)
    spy = py_spy(pid, profile, args.duration, args.profile_gil) if profile else None
    log(
        f"{label}: measuring {args.duration:g} s at {args.connections} connections, "
        f"{args.threads} wrk threads"
    )
    result = run_wrk(url, body_file, key, args, args.duration, pid)
    if spy is not None:
        spy.wait(timeout=60)
        log(f"profile written to {profile}")
    if args.verbose:
        print(result.text, file=sys.stderr)
    return warm, result


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- database


@contextlib.contextmanager
def database(url: str | None, data_dir: Path) -> Iterator[str]:
    """The URL Postroom gets: empty for the default SQLite file, or a fresh PostgreSQL database."""
    if not url or url.startswith("sqlite"):
        yield url or ""
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgres://", "postgresql://", 1))
    name = f"postroom_bench_{secrets.token_hex(5)}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"created PostgreSQL database {name}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped PostgreSQL database {name}")


def count_rows(url: str, data_dir: Path) -> dict[str, int]:
    queries = {
        "messages": "SELECT count(*) FROM messages",
        "deliveries": "SELECT count(*) FROM deliveries",
        "deliveries_delivered": "SELECT count(*) FROM deliveries WHERE status = 'delivered'",
        "events": "SELECT count(*) FROM events",
    }
    if not url:
        path = data_dir / "postroom.sqlite3"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        path = Path(make_url(url).database or "")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}
    import psycopg

    with psycopg.connect(url) as conn:
        return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}  # type: ignore[index]


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=float, default=10, help="measured seconds per target (default 10)")
    p.add_argument(
        "--warmup", type=float, default=3, help="warm-up seconds before each measurement (default 3)"
    )
    p.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument(
        "--timeout", type=float, default=10, help="wrk per-request timeout in seconds (default 10)"
    )
    p.add_argument("--body-size", type=int, default=2048, help="bytes of text_body (default 2048)")
    p.add_argument("--key-in-body", action="store_true", help="send the API key in the body, not the header")
    p.add_argument(
        "--database-url",
        default="",
        help="postgresql://… runs against a fresh database created and dropped on that server; "
        "default: SQLite in the temporary data dir",
    )
    p.add_argument("--skip-reference", action="store_true", help="do not measure the reference endpoint")
    p.add_argument(
        "--template",
        action="store_true",
        help="also measure sends naming a template (template_id + template_data) on the same server",
    )
    p.add_argument(
        "--template-rounds",
        type=int,
        default=3,
        help="with --template: rounds of (template, plain) measurements (default 3)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir (path is printed)")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for postroom serve, e.g. POSTROOM_SQLITE_SYNCHRONOUS=NORMAL",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="attach py-spy to the server during the measured run and write FILE "
        "(.svg flame graph, .txt collapsed stacks); skews the figures",
    )
    p.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (py-spy --gil)",
    )
    p.add_argument("--verbose", action="store_true", help="also print wrk's own report")
    args = p.parse_args(argv)
    if args.duration <= 0 or args.duration > 120:
        p.error("--duration must be in (0, 120] seconds")
    return args


def start(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    out = log_path.open("wb")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def py_spy(pid: int, out: str, seconds: float, gil: bool) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        log("py-spy not found; --profile ignored")
        return None
    fmt = "raw" if out.endswith(".txt") else "flamegraph"
    cmd = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        f"{max(1, int(seconds))}",
        "--rate",
        "250",
        "--format",
        fmt,
        "--output",
        out,
        "--nonblocking",
        "--threads",
    ]
    if gil:
        cmd.append("--gil")  # only the thread holding the GIL: where the Python CPU time goes
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bench_postroom(args: argparse.Namespace, body: bytes, key: str, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / "data"
    with database(args.database_url, data_dir) as db_url:
        port = free_port()
        env = {
            **os.environ,
            "POSTROOM_API_KEY": key,
            "POSTROOM_DELIVERY_MODE": "capture",
            "POSTROOM_LOG_LEVEL": "warning",
            "POSTROOM_CONFIG": str(workdir / "no-postroom.toml"),
        }
        env.pop("POSTROOM_DATABASE_URL", None)
        for item in args.server_env:
            name, _, value = item.partition("=")
            env[name] = value
        cmd = [
            sys.executable,
            "-m",
            "postroom",
            "serve",
            "--data-dir",
            str(data_dir),
            "--http-host",
            HOST,
            "--http-port",
            str(port),
        ]
        if db_url:
            cmd += ["--database-url", db_url]
        log_path = workdir / "postroom.log"
        log(f"starting: {' '.join(cmd)}")
        proc = start(cmd, env, log_path)
        try:
            wait_healthy(proc, f"http://{HOST}:{port}/healthz", log_path)
            url = f"http://{HOST}:{port}/v3/email/send"
            status, answer = post_once(url, body, key)
            if status != 200 or answer.get("data", {}).get("succeeded") != 1:
                raise SystemExit(f"a single send failed: HTTP {status} {answer}")
            body_file = workdir / "body.json"
            body_file.write_bytes(body)
            wrk_key = "" if args.key_in_body else key
            warm, result = measure(url, body_file, wrk_key, args, proc.pid, "postroom", args.profile)
            rounds: list[tuple[WrkResult, WrkResult]] = []
            if args.template:
                v3 = f"http://{HOST}:{port}/v3"
                rounds = bench_template(args, v3, key, wrk_key, body_file, workdir, proc.pid)
        finally:
            t0 = time.monotonic()
            code = stop(proc)
            stop_s = time.monotonic() - t0
        if code not in (0, -signal.SIGINT):
            log(f"postroom exited with {code}:\n{tail(log_path)}")
        rows = count_rows(db_url, data_dir)
    answered_2xx = 1 + result.accepted + result.other_2xx + (warm.accepted + warm.other_2xx if warm else 0)
    in_flight = args.connections * (2 if warm else 1)
    if rounds:
        answered_2xx += 1 + sum(r.accepted + r.other_2xx for pair in rounds for r in pair)
        in_flight += args.connections * 2 * len(rounds)
    return {
        "warm": warm,
        "result": result,
        "rounds": rounds,
        "rows": rows,
        "answered_2xx": answered_2xx,
        "in_flight_bound": in_flight,
        "stop_s": stop_s,
        "backend": "postgresql" if db_url else "sqlite",
    }


def bench_template(
    args: argparse.Namespace, v3: str, key: str, wrk_key: str, plain_file: Path, workdir: Path, pid: int
) -> list[tuple[WrkResult, WrkResult]]:
    """Add the benchmark template, check one send with it, then measure plain sends and sends naming
    it in turn; (plain, template) per round."""
    template, send = make_template(args.body_size, key if args.key_in_body else None)
    status, answer = post_once(v3 + "/template/add", template, key)
    if status != 200:
        raise SystemExit(f"adding the template failed: HTTP {status} {answer}")
    status, answer = post_once(v3 + "/email/send", send, key)
    if status != 200 or answer.get("data", {}).get("succeeded") != 1:
        raise SystemExit(f"a single send with the template failed: HTTP {status} {answer}")
    body_file = workdir / "template-body.json"
    body_file.write_bytes(send)
    url = v3 + "/email/send"
    rounds = []
    for n in range(args.template_rounds):
        log(f"round {n + 1} of {args.template_rounds}: template, then plain, {args.duration:g} s each")
        templated = run_wrk(url, body_file, wrk_key, args, args.duration, pid)
        plain = run_wrk(url, plain_file, wrk_key, args, args.duration, pid)
        rounds.append((plain, templated))
    return rounds


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench_reference(args: argparse.Namespace, body: bytes, workdir: Path) -> WrkResult:
    port = free_port()
    log_path = workdir / "reference.log"
    proc = start(
        [sys.executable, str(REFERENCE_APP), "--host", HOST, "--port", str(port)], dict(os.environ), log_path
    )
    try:
        wait_healthy(proc, f"http://{HOST}:{port}/healthz", log_path)
        body_file = workdir / "body.json"
        body_file.write_bytes(body)
        _, result = measure(f"http://{HOST}:{port}/v3/email/send", body_file, "", args, proc.pid, "reference")
        return result
    finally:
        stop(proc)


def row(name: str, r: WrkResult) -> str:
    lat = r.latency_ms
    return (
        f"{name:<22}{r.rps:>10.0f}{lat['p50']:>10.2f}{lat['p99']:>10.2f}{lat['max']:>10.1f}"
        f"{r.non_2xx + r.other_2xx:>9}{r.socket_errors:>8}{r.server_cpu:>8.2f}"
    )


def report(
    args: argparse.Namespace, pr: dict[str, Any], ref: WrkResult | None, body_len: int
) -> dict[str, Any]:
    res: WrkResult = pr["result"]
    print()
    print(
        f"/v3/email/send load: {args.connections} connections, {args.threads} wrk threads, "
        f"{args.duration:g} s measured after {args.warmup:g} s warm-up, body {body_len} B, "
        f"backend {pr['backend']}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'target':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'non-2xx':>9}{'errors':>8}"
        f"{'srv cpu':>8}"
    )
    print(row("postroom", res))
    rounds: list[tuple[WrkResult, WrkResult]] = pr["rounds"]
    template_ratio = plain_median = template_median = None
    for n, (plain, templated) in enumerate(rounds, 1):
        print(row(f"round {n}: template", templated))
        print(row(f"round {n}: plain", plain))
    if rounds:
        plain_median = median([p.rps for p, _ in rounds])
        template_median = median([t.rps for _, t in rounds])
        template_ratio = template_median / plain_median if plain_median else None
        print(
            f"medians: plain {plain_median:.0f}/s, template {template_median:.0f}/s; ratio template/plain: "
            + (f"{template_ratio:.3f}" if template_ratio is not None else "n/a")
        )
    ratio = None
    if ref is not None:
        print(row("reference (starlette)", ref))
        ratio = res.rps / ref.rps if ref.rps else None
        print(f"ratio postroom/reference: {ratio:.3f}" if ratio is not None else "ratio: n/a")
    rows = pr["rows"]
    diff = rows["messages"] - pr["answered_2xx"]
    ok = 0 <= diff <= pr["in_flight_bound"] and rows["deliveries"] >= rows["messages"]
    print(
        f"durability: {pr['answered_2xx']} answered 2xx (incl. warm-up and 1 check request) vs "
        f"{rows['messages']} rows in messages ({diff:+d}; in flight at cut-off <= {pr['in_flight_bound']}), "
        f"{rows['deliveries']} deliveries ({rows['deliveries_delivered']} delivered), "
        f"{rows['events']} events -> {'OK' if ok else 'MISMATCH'}"
    )
    print(f"server stop took {pr['stop_s']:.1f} s")
    return {
        "bench": "http_send",
        "connections": args.connections,
        "threads": args.threads,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "body_bytes": body_len,
        "backend": pr["backend"],
        "cpus": os.cpu_count(),
        "postroom": res.as_json(),
        "reference": ref.as_json() if ref is not None else None,
        "ratio": round(ratio, 4) if ratio is not None else None,
        "template_rounds": [{"plain": p.as_json(), "template": t.as_json()} for p, t in rounds],
        "template_median_per_s": round(template_median, 1) if template_median is not None else None,
        "plain_median_per_s": round(plain_median, 1) if plain_median is not None else None,
        "template_ratio": round(template_ratio, 4) if template_ratio is not None else None,
        "durability": {
            "answered_2xx": pr["answered_2xx"],
            **rows,
            "difference": diff,
            "in_flight_bound": pr["in_flight_bound"],
            "ok": ok,
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    key = "api-" + secrets.token_hex(16).upper()
    body = make_body(args.body_size, key if args.key_in_body else None)
    workdir = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    try:
        pr = bench_postroom(args, body, key, workdir)
        ref = None if args.skip_reference else bench_reference(args, body, workdir)
        figures = report(args, pr, ref, len(body))
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, separators=(",", ":")))
    return 0 if figures["durability"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
