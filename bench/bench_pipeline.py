"""In-process pipeline throughput: ingest -> detect -> contact -> policy -> effects, SQLite store,
no network, one process (one core). Target: >= 1,000 messages/s on mixed mail.

    python bench/bench_pipeline.py [--count 5000] [--batch 100] [--mode both|single|batched]

Two ways of committing are measured, each on a fresh store with the same mail:

* ``single``: ``Pipeline.process`` per message, one transaction (one commit) per message, what
  the CLI and the helpdesk connectors do;
* ``batched``: ``Pipeline.process_many`` over groups of ``--batch`` messages, one commit per
  group, as the daemon commits the messages of one IMAP fetch.

CPU time (``time.process_time``) is the fair figure on a shared machine; wall time moves with
everyone else's load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mailcorpus import corpus  # noqa: E402
from gateway.ingest import ingest  # noqa: E402
from gateway.pipeline import Pipeline  # noqa: E402
from gateway.store.db import Database  # noqa: E402


def run(raws: list[bytes], batch: int, detector: object) -> tuple[float, float, int, int]:
    """Process ``raws`` on a fresh store; ``batch`` 1 means one commit per message. Returns CPU
    seconds, wall seconds, messages tagged and commits."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp) / "bench.db")
        pipeline = Pipeline.create(db, detector=detector)
        commits = [0]
        db.conn.set_trace_callback(lambda sql: commits.__setitem__(0, commits[0] + (sql == "COMMIT")))
        tagged = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if batch <= 1:
            for raw in raws:
                result = pipeline.process(ingest(raw, source="bench"))
                tagged += bool(result.decision.categories)
        else:
            for start in range(0, len(raws), batch):
                messages = [ingest(raw, source="bench") for raw in raws[start : start + batch]]
                tagged += sum(bool(r.decision.categories) for r in pipeline.process_many(messages))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        db.conn.set_trace_callback(None)
        db.close()
    return cpu, wall, tagged, commits[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="messages per commit in the batched run")
    parser.add_argument("--mode", choices=("both", "single", "batched"), default="both")
    args = parser.parse_args()

    from gateway.detect import Detector

    detector = Detector.load()
    raws = corpus(args.count)
    size = sum(len(r) for r in raws)
    print(f"messages           {args.count} ({size / 1e6:.1f} MB of mixed mail)")
    modes = [("single", 1), ("batched", args.batch)]
    for name, batch in modes:
        if args.mode not in ("both", name):
            continue
        load = os.getloadavg()[0]
        cpu, wall, tagged, commits = run(raws, batch, detector)
        label = "one commit per message" if batch <= 1 else f"one commit per {batch} messages"
        print(f"\n[{name}] {label}: {commits} commits, {tagged} messages tagged")
        print(f"  per core         {args.count / cpu:,.0f} messages/s (CPU time, {cpu * 1000 / args.count:.2f} ms/message)")
        print(f"  wall             {args.count / wall:,.0f} messages/s ({wall:.1f} s, one process, load average {load:.1f})")
    print(f"\ncores available    {os.cpu_count()} (CPU time is the fair figure on a shared machine)")
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
