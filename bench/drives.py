"""Drives at 10 and at 200 in-flight applies: processes, memory, connections, heartbeats.

    python bench/drives.py [--sizes 10,200] [--observe 120] [--time-scale 0.1] [--workers 2]

For each size, on MariaDB at 127.0.0.1 (root, no password): fresh databases
``<prefix>_<size>_ternadmin`` and ``<prefix>_<size>_schemabot`` (standalone, migrated), the
PlanetScale emulator (``manage.py localscale serve``, its clock slowed by ``--time-scale`` so a
deploy takes minutes: 0.1 makes the 3 s deploy 30 s and the revert window 5 hours), that many
fresh PlanetScale applies (``seed_demo --fresh-apply planetscale --count N --seed-emulator``),
and the scheduler (``manage.py qcluster``, default settings but ``TERNADMIN_SWEEP_LIMIT`` above
N so that its first scheduled pass claims every apply). Sampling starts when that pass is
recorded and lasts ``--observe`` seconds, once a second:

- the ternadmin processes (the scheduler and every process under it; the drives are rows, so
  nothing else runs), their total resident memory (``VmRSS``) and their TCP connections to
  MariaDB's port (``/proc/<pid>/fd`` sockets matched with ``/proc/net/tcp``);
- the oldest heartbeat among in-flight applies (not terminal, leased), by the database's clock:
  ``MAX(TIMESTAMPDIFF(SECOND, updated_at, NOW()))``.

Reported: the peak of each, the applies still in flight at the end, and the ratios 200 / 10.
The databases are dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import MySQLdb

REPO = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(REPO / "manage.py")]
TERMINAL = ("completed", "failed", "stopped", "cancelled", "reverted")
MARIADB_PORT = 3306


@dataclass
class Peak:
    size: int
    processes: int = 0
    rss_mib: float = 0.0
    connections: int = 0
    oldest_heartbeat_s: int = 0
    samples: int = 0
    in_flight_at_end: int = 0
    claimed: int = 0
    steps: int = 0
    states_at_end: dict[str, int] = field(default_factory=dict)


def server() -> MySQLdb.Connection:
    return MySQLdb.connect(host="127.0.0.1", port=MARIADB_PORT, user="root", autocommit=True)


def environ(prefix: str, size: int, args: argparse.Namespace, port: int) -> dict[str, str]:
    base = f"mysql://root@127.0.0.1:{MARIADB_PORT}/{prefix}_{size}"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TERNADMIN_", "SCHEMABOT_"))}
    return {
        **keep,
        "TERNADMIN_DATABASE_URL": f"{base}_ternadmin",
        "SCHEMABOT_DATABASE_URL": f"{base}_schemabot",
        "SCHEMABOT_MODE": "standalone",
        "TERNADMIN_DEMO": "1",
        "TERNADMIN_LOG_LEVEL": "WARNING",
        "TERNADMIN_SWEEP_LIMIT": str(size + 50),
        "TERNADMIN_Q_WORKERS": str(args.workers),
        "TERNADMIN_DRIVE_LOOPS": str(args.workers - 1),
        "LOCALSCALE_PORT": str(port),
        "LOCALSCALE_MYSQL_PORT": str(port + 1),
        "LOCALSCALE_TIME_SCALE": str(args.time_scale),
        "PLANETSCALE_API_URL": f"http://127.0.0.1:{port}",
    }


def free_port() -> int:
    """A loopback port, and the one after it, that nothing listens on now."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as after:
            try:
                after.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [*MANAGE, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def databases(prefix: str, size: int) -> Iterator[None]:
    names = [f"{prefix}_{size}_ternadmin", f"{prefix}_{size}_schemabot"]
    cursor = server().cursor()
    for name in names:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield
    finally:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextmanager
def process_group(args: list[str], env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*MANAGE, *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_http(port: int) -> None:
    import httpx

    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the emulator did not answer")


def tree(root: int) -> list[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def mariadb_sockets() -> set[str]:
    """Inodes of established TCP connections to MariaDB's port on this machine."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            remote_port = int(parts[2].rsplit(":", 1)[1], 16)
            if remote_port == MARIADB_PORT and parts[3] == "01":
                inodes.add(parts[9])
    return inodes


def connections_of(pids: list[int]) -> int:
    sockets = mariadb_sockets()
    count = 0
    for pid in pids:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        count += sum(1 for link in links if link[8:-1] in sockets and link.startswith("socket:"))
    return count


def heartbeat(prefix: str, size: int) -> tuple[int, int]:
    cursor = server().cursor()
    terminal = ", ".join(f"'{state}'" for state in TERMINAL)
    cursor.execute(
        f"SELECT MAX(TIMESTAMPDIFF(SECOND, updated_at, NOW())), COUNT(*) "
        f"FROM `{prefix}_{size}_schemabot`.applies "
        f"WHERE state NOT IN ({terminal}) AND lease_token <> ''"
    )
    oldest, in_flight = cursor.fetchone()
    return int(oldest or 0), int(in_flight)


def first_pass(prefix: str, size: int, timeout: float = 180) -> int:
    cursor = server().cursor()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cursor.execute(
            f"SELECT claimed FROM `{prefix}_{size}_ternadmin`.applies_sweeprun "
            "ORDER BY started_at LIMIT 1"
        )
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.5)
    raise SystemExit("no sweep pass was recorded: is the scheduler running?")


def states(prefix: str, size: int) -> dict[str, int]:
    cursor = server().cursor()
    cursor.execute(
        f"SELECT state, COUNT(*) FROM `{prefix}_{size}_schemabot`.applies GROUP BY state"
    )
    return {state: int(count) for state, count in cursor.fetchall()}


def steps_run(prefix: str, size: int) -> int:
    cursor = server().cursor()
    cursor.execute(f"SELECT COALESCE(SUM(steps), 0) FROM `{prefix}_{size}_ternadmin`.applies_drive")
    return int(cursor.fetchone()[0])


def measure(size: int, args: argparse.Namespace, port: int, logs: Path) -> Peak:
    env = environ(args.prefix, size, args, port)
    peak = Peak(size)
    with databases(args.prefix, size):
        run(["migrate", "--no-input", "-v0"], env)
        run(["migrate", "--database", "schemabot", "--no-input", "-v0"], env)
        with process_group(["localscale", "serve"], env, logs / f"emulator-{size}.log"):
            wait_http(port)
            run(
                [
                    "seed_demo",
                    "--fresh-apply",
                    "planetscale",
                    "--count",
                    str(size),
                    "--seed-emulator",
                ],
                env,
            )
            with process_group(["qcluster"], env, logs / f"scheduler-{size}.log") as root:
                peak.claimed = first_pass(args.prefix, size)
                deadline = time.monotonic() + args.observe
                while time.monotonic() < deadline:
                    pids = tree(root)
                    peak.processes = max(peak.processes, len(pids))
                    rss = sum(rss_kib(pid) for pid in pids) / 1024
                    peak.rss_mib = max(peak.rss_mib, round(rss, 1))
                    peak.connections = max(peak.connections, connections_of(pids))
                    oldest, in_flight = heartbeat(args.prefix, size)
                    peak.oldest_heartbeat_s = max(peak.oldest_heartbeat_s, oldest)
                    peak.in_flight_at_end = in_flight
                    peak.samples += 1
                    time.sleep(1)
                peak.steps = steps_run(args.prefix, size)
                peak.states_at_end = states(args.prefix, size)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,200")
    parser.add_argument("--observe", type=float, default=120.0)
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2, help="TERNADMIN_Q_WORKERS")
    parser.add_argument("--prefix", default="drv_bench")
    parser.add_argument("--logs", default="var/bench-drives")
    args = parser.parse_args()
    logs = REPO / args.logs
    logs.mkdir(parents=True, exist_ok=True)
    peaks = [measure(int(size), args, free_port(), logs) for size in args.sizes.split(",")]
    print(json.dumps([asdict(peak) for peak in peaks], indent=2))
    print(
        "\n| in-flight applies | claimed | processes | total RSS | connections to MariaDB "
        "| oldest heartbeat | steps run | still in flight |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in peaks:
        print(
            f"| {p.size} | {p.claimed} | {p.processes} | {p.rss_mib:.0f} MiB | "
            f"{p.connections} | {p.oldest_heartbeat_s} s | {p.steps} | {p.in_flight_at_end} |"
        )
    if len(peaks) >= 2:
        low, high = peaks[0], peaks[-1]
        print(
            f"\nRSS {high.size} / {low.size}: {high.rss_mib / low.rss_mib:.2f}x; processes "
            f"{low.processes} → {high.processes}; connections {low.connections} → "
            f"{high.connections}"
        )


if __name__ == "__main__":
    main()
