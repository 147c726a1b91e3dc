"""End to end from a Dovecot mailbox: the daemon (``harassment-gateway run`` as its own process)
reads a mailbox of 10,000 messages, analyses each, sets keywords, moves held mail, commits
checkpoints. Target: >= 300 messages/s; the daemon's memory (RSS) stays flat over the run.

    python bench/bench_imap.py [--count 10000] [--mechanics | --trace TOP]

The daemon's RSS is printed at every tenth of the run beside the sizes of its bounded structures
(the store's row cache, the campaign index), read from its /metrics, so what fills and when it
stops can be told apart from a leak. ``--trace TOP`` runs the daemon in this process under
tracemalloc and prints the TOP source lines whose Python allocations grew from 30 % of the run to
its end (slow: several times the normal run).

``--mechanics`` runs the daemon in-process with an analysis that tags nothing, to measure the
mailbox side alone (fetch, ingest, verdict ledger, keywords, checkpoints) apart from the pipeline.

Needs Debian's dovecot (package dovecot-imapd); the server is started on 127.0.0.1 with its own
config, as the integration tests do.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.hostspeed import interpreter, reference_ms  # noqa: E402
from bench.mailcorpus import corpus  # noqa: E402
from tests.integration.dovecot import Dovecot, free_port  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (the machine may be shared)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def structures(port: int) -> dict[str, tuple[int, int]]:
    """The daemon's bounded structures from its /metrics: name -> (entries, bytes)."""
    import urllib.request

    sizes: dict[str, list[int]] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    for line in text.splitlines():
        for kind, at in (("hg_memory_structure_entries", 0), ("hg_memory_structure_bytes", 1)):
            if line.startswith(kind + '{structure="'):
                name = line.split('"')[1]
                sizes.setdefault(name, [0, 0])[at] = int(float(line.split()[-1]))
    return {name: (v[0], v[1]) for name, v in sizes.items()}


def done(db_path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM verdicts").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _in_process_config(server: Dovecot, tmp: str, **store: object) -> object:
    """The config of a daemon run in this process against ``server``'s mailbox, its store in ``tmp``
    (``store``: more StoreConfig fields)."""
    from gateway.config import Config, SourceConfig, StoreConfig

    source = SourceConfig(name="support", type="imap", host="127.0.0.1", port=server.port, security="none",
                          username=server.user, password_env="P")
    return Config(store=StoreConfig(path=f"{tmp}/g.db", **store), sources=(source,),  # type: ignore[arg-type]
                  env={"P": server.password})


def mechanics(count: int) -> int:
    import asyncio

    from gateway.daemon import Daemon
    from gateway.model import Decision

    class Untagged:
        def __init__(self, message):
            self.message, self.findings, self.decision = message, [], Decision(message.id)

    server = Dovecot.start()
    try:
        server.append(corpus(count, seed=13))
        with tempfile.TemporaryDirectory() as tmp:
            config = _in_process_config(server, tmp)
            cpu0, t0 = time.process_time(), time.perf_counter()
            asyncio.run(Daemon(config, once=True, process=Untagged).run())
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        server.stop()
    print(f"mailbox side alone {count / wall:,.0f} messages/s ({count} messages, {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU in the daemon)", flush=True)
    return 0


def trace(count: int, top: int) -> int:
    """The real daemon in this process under tracemalloc: Python allocations that grew between
    30 % of the run and its end, by file and line (what still grows once the caches filled)."""
    import asyncio
    import threading
    import tracemalloc

    from gateway.daemon import Daemon

    server = Dovecot.start()
    try:
        server.append(corpus(count, seed=11))
        with tempfile.TemporaryDirectory() as tmp:
            config = _in_process_config(server, tmp, retention_days=3650)
            daemon = Daemon(config, serve_web=False)
            marks = {int(count * 0.3): "30%", count: "end"}
            snaps: dict[str, tuple[tracemalloc.Snapshot, int, int]] = {}

            def watch() -> None:
                while len(snaps) < len(marks):
                    n = sum(s.processed + s.duplicates + s.failed for s in daemon.metrics.sources())
                    for mark, name in marks.items():
                        if n >= mark and name not in snaps:
                            snaps[name] = (tracemalloc.take_snapshot(), rss_kb(os.getpid()), n)
                            print(f"snapshot at {n} messages: RSS {snaps[name][1] / 1024:.0f} MB, traced "
                                  f"{tracemalloc.get_traced_memory()[0] / 2**20:.1f} MB", flush=True)
                    time.sleep(0.05)
                daemon.request_stop()

            tracemalloc.start(1)  # one frame: deeper stacks make the daemon many times slower
            threading.Thread(target=watch, daemon=True).start()
            asyncio.run(daemon.run())
            tracemalloc.stop()
    finally:
        server.stop()
    if len(snaps) < 2:
        print("the run ended before both snapshots")
        return 1
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    first, last = snaps["30%"][0].filter_traces(ignore), snaps["end"][0].filter_traces(ignore)
    span = snaps["end"][2] - snaps["30%"][2]
    traced = sum(t.size for t in last.traces) - sum(t.size for t in first.traces)
    print(f"\nfrom {snaps['30%'][2]} to {snaps['end'][2]} messages: RSS {(snaps['end'][1] - snaps['30%'][1]) / 1024:+.1f} MB, "
          f"traced Python memory {traced / 2**20:+.1f} MB ({traced / max(span, 1):+.0f} B per message)")
    print(f"\ngrowth by line (top {top}):")
    for stat in last.compare_to(first, "lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+8d} blocks  {_short(frame.filename)}:{frame.lineno}")
    return 0


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--mechanics", action="store_true", help="measure the mailbox side alone")
    parser.add_argument("--trace", type=int, default=0, metavar="TOP",
                        help="run the daemon in-process under tracemalloc and print the TOP lines whose "
                             "allocations grew from 30%% of the run to its end")
    parser.add_argument("--spacing", type=float, default=37, metavar="SECONDS",
                        help="seconds between the messages' dates (37: ~2,300 a day; 180: 480 a day, so a "
                             "30,000-message run spans 62 days, twice the 30-day duplicate lookback)")
    args = parser.parse_args()
    if args.mechanics:
        return mechanics(args.count)
    if args.trace:
        return trace(args.count, args.trace)

    ref_before = reference_ms()
    server = Dovecot.start()
    try:
        raws = corpus(args.count, seed=11, spacing=args.spacing)
        t0 = time.perf_counter()
        server.append(raws)
        print(f"mailbox            {args.count} messages appended in {time.perf_counter() - t0:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            port = free_port()
            config = {
                # The corpus is dated from January 2026: with the default 90-day retention the
                # purge job (first run 1 s after start) would drop the text of the mail already
                # stored, and later duplicates of it would go unseen.
                "store": {"path": "gateway.db", "retention_days": 3650},
                "sources": [{"name": "support", "type": "imap", "host": "127.0.0.1", "port": server.port,
                             "security": "none", "username": server.user, "password_env": "BENCH_IMAP_PASSWORD"}],
                "console": {"listen": f"127.0.0.1:{port}"},
            }
            (work / "gateway.yaml").write_text(yaml.safe_dump(config))
            env = {**os.environ, "BENCH_IMAP_PASSWORD": server.password, "PYTHONPATH": str(ROOT)}
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", "gateway.yaml",
                                     "--log-level", "WARNING"], cwd=work, env=env)
            samples: list[tuple[int, int, dict[str, tuple[int, int]]]] = []  # (messages done, RSS kB, structures)
            first = None
            first_cpu = 0.0
            while proc.poll() is None:
                n = done(work / "gateway.db")
                if n and first is None:
                    first = (time.perf_counter(), n)
                    first_cpu = cpu_seconds(proc.pid)  # start-up (imports, rules) and the first batch
                samples.append((n, rss_kb(proc.pid), structures(port) if n else {}))
                if n >= args.count:
                    break
                time.sleep(0.25)
            end = time.perf_counter()
            daemon_cpu = cpu_seconds(proc.pid)
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        flags = server.flags()
        held = server.count("Held")
    finally:
        server.stop()

    checked = sum("$HGChecked" in f for f in flags.values())
    tagged = sum("$Harassment" in f for f in flags.values())
    print(f"processed          {checked + held} of {args.count} ($HGChecked; {tagged} tagged, {held} held)")
    print(f"host speed         reference workload {ref_before:.0f} ms before, {reference_ms():.0f} ms after"
          " (bench/hostspeed.py; lower is faster)")
    print(f"interpreter        {interpreter()} (the daemon's too: this one runs it)")
    print(f"end to end         {args.count / (end - start):,.0f} messages/s (including start-up, {end - start:.1f} s)")
    if first is not None:
        t_first, n_first = first
        print(f"steady state       {(args.count - n_first) / (end - t_first):,.0f} messages/s (after the first verdict)")
    if daemon_cpu:
        print(f"daemon CPU         {daemon_cpu:.1f} s: {args.count / daemon_cpu:,.0f} messages per CPU-second "
              f"(load average {os.getloadavg()[0]:.1f})")
        if first is not None and daemon_cpu > first_cpu:
            print(f"daemon CPU, steady {daemon_cpu - first_cpu:.1f} s after the first verdict: "
                  f"{(args.count - first[1]) / (daemon_cpu - first_cpu):,.0f} messages per CPU-second "
                  f"(start-up took {first_cpu:.1f} s)")
    # every tenth of the messages: RSS and the bounded structures (row cache, campaign index)
    marks = [next((x for x in samples if x[0] >= args.count * q / 10), samples[-1]) for q in range(1, 11)]
    print("daemon memory      messages    RSS   row cache (rows, MB)   campaign index (entries, MB)")
    for n, kb, sizes in marks:
        rows, index = sizes.get("row_cache", (0, 0)), sizes.get("campaign_index", (0, 0))
        print(f"                   {n:>8} {kb / 1024:5.0f} MB  {rows[0]:>8} {rows[1] / 2**20:6.1f}"
              f"          {index[0]:>8} {index[1] / 2**20:6.1f}")
    mid = [kb for n, kb, _ in samples if args.count * 0.2 <= n <= args.count]
    if mid:
        print(f"RSS growth         {(max(mid) - min(mid)) / 1024:.1f} MB from 20% to the end of the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
