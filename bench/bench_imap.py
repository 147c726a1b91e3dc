"""End to end from a Dovecot mailbox: the daemon (``harassment-gateway run`` as its own process)
reads a mailbox of 10,000 messages, analyses each, sets keywords, moves held mail, commits
checkpoints. Target: >= 300 messages/s; the daemon's memory (RSS) stays flat over the run.

    python bench/bench_imap.py [--count 10000] [--mechanics]

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


def done(db_path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM verdicts").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def mechanics(count: int) -> int:
    import asyncio

    from gateway.config import Config, SourceConfig, StoreConfig
    from gateway.daemon import Daemon
    from gateway.model import Decision

    class Untagged:
        def __init__(self, message):
            self.message, self.findings, self.decision = message, [], Decision(message.id)

    server = Dovecot.start()
    try:
        server.append(corpus(count, seed=13))
        with tempfile.TemporaryDirectory() as tmp:
            source = SourceConfig(name="support", type="imap", host="127.0.0.1", port=server.port, security="none",
                                  username=server.user, password_env="P")
            config = Config(store=StoreConfig(path=f"{tmp}/g.db"), sources=(source,), env={"P": server.password})
            cpu0, t0 = time.process_time(), time.perf_counter()
            asyncio.run(Daemon(config, once=True, process=Untagged).run())
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        server.stop()
    print(f"mailbox side alone {count / wall:,.0f} messages/s ({count} messages, {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU in the daemon)", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--mechanics", action="store_true", help="measure the mailbox side alone")
    args = parser.parse_args()
    if args.mechanics:
        return mechanics(args.count)

    server = Dovecot.start()
    try:
        raws = corpus(args.count, seed=11)
        t0 = time.perf_counter()
        server.append(raws)
        print(f"mailbox            {args.count} messages appended in {time.perf_counter() - t0:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            config = {
                # The corpus is dated from January 2026: with the default 90-day retention the
                # purge job (first run 1 s after start) would drop the text of the mail already
                # stored, and later duplicates of it would go unseen.
                "store": {"path": "gateway.db", "retention_days": 3650},
                "sources": [{"name": "support", "type": "imap", "host": "127.0.0.1", "port": server.port,
                             "security": "none", "username": server.user, "password_env": "BENCH_IMAP_PASSWORD"}],
                "console": {"listen": f"127.0.0.1:{free_port()}"},
            }
            (work / "gateway.yaml").write_text(yaml.safe_dump(config))
            env = {**os.environ, "BENCH_IMAP_PASSWORD": server.password, "PYTHONPATH": str(ROOT)}
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", "gateway.yaml",
                                     "--log-level", "WARNING"], cwd=work, env=env)
            samples: list[tuple[int, int]] = []  # (messages done, RSS kB)
            first = None
            first_cpu = 0.0
            while proc.poll() is None:
                n = done(work / "gateway.db")
                if n and first is None:
                    first = (time.perf_counter(), n)
                    first_cpu = cpu_seconds(proc.pid)  # start-up (imports, rules) and the first batch
                samples.append((n, rss_kb(proc.pid)))
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
    marks = [samples[int(len(samples) * q / 10)] for q in range(1, 10)] + [samples[-1]]  # every tenth of the run
    print("daemon RSS         " + ", ".join(f"{n} msgs: {kb / 1024:.0f} MB" for n, kb in marks))
    mid = [kb for n, kb in samples if args.count * 0.2 <= n <= args.count]
    if mid:
        print(f"RSS growth         {(max(mid) - min(mid)) / 1024:.1f} MB from 20% to the end of the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
