"""In-process pipeline throughput: ingest -> detect -> contact -> policy -> effects, SQLite store,
no network, one process (one core). Target: >= 1,000 messages/s on mixed mail.

    python bench/bench_pipeline.py [--count 5000]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()

    raws = corpus(args.count)
    size = sum(len(r) for r in raws)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp) / "bench.db")
        pipeline = Pipeline.create(db)
        tagged = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for raw in raws:
            result = pipeline.process(ingest(raw, source="bench"))
            tagged += bool(result.decision.categories)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        db.close()
    print(f"messages           {args.count} ({size / 1e6:.1f} MB, {tagged} tagged)")
    print(f"wall time          {wall:.2f} s")
    print(f"throughput         {args.count / wall:,.0f} messages/s (wall, one process)")
    print(f"per core           {args.count / cpu:,.0f} messages/s (CPU time)")
    print(f"cores available    {os.cpu_count()} (load average {os.getloadavg()[0]:.1f}: CPU time is the fair figure)")
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
