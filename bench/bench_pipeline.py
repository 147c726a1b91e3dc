"""In-process pipeline throughput: ingest -> detect -> contact -> policy -> effects, SQLite store,
no network, one process (one core). Target: >= 1,000 messages/s on mixed mail.

    python bench/bench_pipeline.py [--count 5000] [--batch 100] [--mode both|single|batched] [--stages]
        [--corpus benchmark|varied] [--history N] [--seen N] [--customers N] [--spacing SECONDS] [--every N]

Two ways of committing are measured, each on a fresh store with the same mail:

* ``single``: ``Pipeline.process`` per message, one transaction (one commit) per message, what
  the CLI and the helpdesk connectors do;
* ``batched``: ``Pipeline.process_many`` over groups of ``--batch`` messages, one commit per
  group, as the daemon commits the messages of one IMAP fetch.

The detector compiles every rule pattern before the clock starts (``Detector.warm``): the figure
is the steady state of a long-running process. Loading and compiling are start-up, which
``bench_imap.py`` counts from process start.

CPU time (``time.process_time``) is the fair figure on a shared machine; wall time moves with
everyone else's load. ``--stages`` adds the CPU per message of each stage (a timer around each
stage's call: ingest, detect, contact observe and history, the contact stage's batch preparation
(``prepare``: a batch's MinHash band keys and its customers' recent rows, once per batch), the
re-delivery check, the hold look-up, policy, effects; "rest" is the transaction, savepoints,
commit and glue).

The host's own speed moves by a third within minutes on a shared machine, every stage together.
So the benchmark also times a fixed reference workload (``bench/hostspeed.py``, nothing of the
project's) just before and just after the run: a figure measured while the reference ran slow
was measured on a slow host, not a slow build.

``--corpus varied`` runs mail whose texts rarely repeat (bench/mailcorpus.py) instead of the
benchmark mail, where many messages share a text; report it beside the benchmark figure, never
instead of it.

``--history N`` starts each run on a store that already holds N messages from other customers
(bench_contact.py's synthetic English and Japanese texts, received over the six days before the
mail), all within the campaign lookback, so the campaign index holds them too: the steady state
of a daemon whose lookback is full, where a fresh store measures its first hours. The store is
built once before the runs (not timed) and copied for each; the index is loaded before the clock
starts, as a daemon loads it once at start.

``--customers 1 --spacing 5 --every 1000``: one customer's flood (a message every 5 seconds),
with the CPU per message of each 1,000: flat when nothing the contact stage or the hold does for a
message grows with the customer's history.

``--seen N``: before the clock, the detector reads N other messages of the same kind (the same
generator with another seed: other customers' combinations, order numbers and products, none of
the timed messages). Detection keeps no state but its automata, which RE2 builds lazily as text
first needs each state: a daemon's detector has built them over its first tens of thousands of
messages, while ``warm()``'s texts cover only part of what varied mail reaches. No finding
changes (tested); only the cost of the detection stage. The other stages start as without it.
Without ``--seen`` a run measures a detector in its first hours (on the benchmark mail, whose
texts repeat, the difference is small).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.hostspeed import interpreter, reference_ms  # noqa: E402
from bench.mailcorpus import START as CORPUS_START  # noqa: E402
from bench.mailcorpus import corpus  # noqa: E402
from gateway.ingest import ingest  # noqa: E402
from gateway.pipeline import Pipeline  # noqa: E402
from gateway.store.db import Database  # noqa: E402


STAGES = ("ingest", "detect", "contact prepare", "contact observe", "contact history", "re-delivery check",
          "hold look-up", "policy", "effects")


def _timed(stages: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.process_time

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[name] += clock() - t0

    return wrapper


def _instrument(pipeline: Pipeline, stages: dict[str, float]) -> None:
    """Put a CPU timer around each stage's call (instance attributes shadow the methods)."""
    targets = [(pipeline.detector, "detect", "detect"), (pipeline.tracker, "observe", "contact observe"),
               (pipeline.tracker, "history", "contact history"), (pipeline.tracker, "prepare", "contact prepare"),
               (pipeline.policy, "decide", "policy"),
               (pipeline.effects, "recorded", "re-delivery check"), (pipeline.effects, "apply", "effects"),
               (pipeline.effects.holds, "active_ids_after_expiry", "hold look-up")]  # type: ignore[attr-defined]
    for obj, attr, name in targets:
        object.__setattr__(obj, attr, _timed(stages, name, getattr(obj, attr)))


def _count_commits(db: Database, commits: list[int]) -> None:
    """Count the store's commits in ``commits[0]``: each outermost ``Database.tx()`` that ends
    without an error commits. (Not with a statement trace callback: for every statement SQLite
    then spells out its SQL with every bound value, the message texts included, and Python
    decodes it: 9% more instructions a message, counted by callgrind on varied mail.)"""
    outer = db.tx

    @contextmanager
    def tx() -> Iterator[Any]:
        outermost = not db.conn.in_transaction
        with outer() as conn:
            yield conn
        if outermost:
            commits[0] += 1

    db.tx = tx  # type: ignore[method-assign]


def rss_mb() -> float:
    """The process's resident memory now (Linux /proc), else its peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def history_store(path: Path, count: int, before: datetime) -> int:
    """Make ``path`` a store holding ``count`` messages (bench_contact.py's synthetic texts, 5% of
    them in clusters of edited re-sends) from 1 in 5 as many customers of their own, received over
    the six days before ``before``; returns how many are indexed for campaigns (long enough)."""
    from bench.bench_contact import Generator, build_corpus, store_synthetic
    from gateway.contact.fingerprint import MinHasher, comparable
    from gateway.store.messages import SqliteMessageStore

    gen = Generator(7)
    texts, _ = build_corpus(gen, count, 0.05)
    comps = [comparable(t) for t in texts]
    keys, ok = MinHasher().bands_for_many(comps)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp) / "history.db")
        Pipeline.create(db)  # every table, as the runs' pipelines find them
        store_synthetic(SqliteMessageStore(db), gen, texts, comps, keys, ok, before - timedelta(days=6),
                        ids="history-", customers="h", threads="history-")
        db.close()
        shutil.copy(Path(tmp) / "history.db", path)
    return int(ok.sum())


def run(raws: list[bytes], batch: int, detector: object,
        stages: dict[str, float] | None = None, every: int = 0,
        history: Path | None = None) -> tuple[float, float, int, int]:
    """Process ``raws`` on a fresh store (a copy of ``history`` when given); ``batch`` 1 means
    one commit per message. Returns CPU seconds, wall seconds, messages tagged and commits;
    ``stages`` (when given) gets the CPU seconds of each stage."""
    with tempfile.TemporaryDirectory() as tmp:
        if history is not None:
            shutil.copy(history, Path(tmp) / "bench.db")
        db = Database.open(Path(tmp) / "bench.db")
        pipeline = Pipeline.create(db, detector=detector)
        pipeline.effects.renderer.check()  # the reply templates compiled before the clock, as the daemon does at start
        if history is not None:
            len(pipeline.tracker.index)  # loaded before the clock, as a daemon loads it at start
        read = ingest
        if stages is not None:
            stages.update(dict.fromkeys(STAGES, 0.0))
            _instrument(pipeline, stages)
            read = _timed(stages, "ingest", ingest)
        commits = [0]
        collecting: list[float] = [0.0, 0.0]  # CPU in the garbage collector; when the running one began
        if stages is not None:
            def on_gc(phase: str, info: dict[str, int]) -> None:
                if phase == "start":
                    collecting[1] = time.process_time()
                else:
                    collecting[0] += time.process_time() - collecting[1]

            gc.callbacks.append(on_gc)
        _count_commits(db, commits)
        tagged = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        lap = [cpu0]

        def laps(done: int, step: int) -> None:  # --every: RSS and CPU per message of each lap
            if every and done // every != (done - step) // every:
                now = time.process_time()
                print(f"  {done:>9,} messages  RSS {rss_mb():7.1f} MB  lap CPU {(now - lap[0]) * 1000 / every:.2f} "
                      "ms/message", flush=True)
                lap[0] = now

        if batch <= 1:
            for n, raw in enumerate(raws, 1):
                result = pipeline.process(read(raw, source="bench"))
                tagged += bool(result.decision.categories)
                laps(n, 1)
        else:
            for start in range(0, len(raws), batch):
                messages = [read(raw, source="bench") for raw in raws[start : start + batch]]
                tagged += sum(bool(r.decision.categories) for r in pipeline.process_many(messages))
                laps(start + len(messages), len(messages))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        if stages is not None:
            gc.callbacks.remove(on_gc)
            stages["gc"] = collecting[0]  # (inside the stages' own timers: shown apart, not added)
        db.close()
    return cpu, wall, tagged, commits[0]


SEEN_SEED = 8  # ``--seen``: another seed than the timed mail's (``corpus``'s default, 7)


def see(detector: Any, count: int, varied: bool) -> int:
    """``--seen``: run ``count`` messages of the same kind as the timed mail, but another seed's,
    through ``detector`` (nothing stored anywhere); returns how many findings it made of them."""
    found = 0
    for raw in corpus(count, varied=varied, seed=SEEN_SEED):
        found += len(detector.detect(ingest(raw, source="seen")))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="messages per commit in the batched run")
    parser.add_argument("--mode", choices=("both", "single", "batched"), default="both")
    parser.add_argument("--stages", action="store_true", help="also print the CPU per message of each stage")
    parser.add_argument("--corpus", choices=("benchmark", "varied"), default="benchmark",
                        help="the benchmark mail (texts reused) or varied mail (texts rarely repeat)")
    parser.add_argument("--every", type=int, default=0, metavar="N",
                        help="print RSS and lap CPU every N messages (a memory-plateau run)")
    parser.add_argument("--history", type=int, default=0, metavar="N",
                        help="start each run on a store already holding N messages of other customers")
    parser.add_argument("--seen", type=int, default=0, metavar="N",
                        help="let the detector read N other messages of the same kind before the clock")
    parser.add_argument("--customers", type=int, default=400, metavar="N",
                        help="customers writing the mail (1: one customer's flood; with --every, the cost as it grows)")
    parser.add_argument("--spacing", type=float, default=37, metavar="SECONDS",
                        help="seconds between messages (37: about 2,300 a day)")
    args = parser.parse_args()

    from gateway.detect import Detector

    detector = Detector.load()
    cpu0 = time.process_time()
    patterns = detector.warm()  # steady state: every pattern compiled before the clock starts
    from gateway.runtime import settle_heap

    settle_heap()  # as the daemon does once its rules are loaded
    warm_cpu = time.process_time() - cpu0
    if args.seen:
        cpu0 = time.process_time()
        see(detector, args.seen, args.corpus == "varied")
        print(f"detector           read {args.seen:,} other messages of the {args.corpus} kind before timing "
              f"(seed {SEEN_SEED}; {time.process_time() - cpu0:.1f} s CPU): its automata built as a running daemon's are")
    raws = corpus(args.count, varied=args.corpus == "varied", customers=args.customers, spacing=args.spacing)
    size = sum(len(r) for r in raws)
    print(f"messages           {args.count} ({size / 1e6:.1f} MB of mixed mail, {args.corpus} corpus, "
          f"{args.customers:,} customer{'s' if args.customers != 1 else ''}, one every {args.spacing:g} s)")
    print(f"rules              {patterns} patterns compiled before timing ({warm_cpu:.1f} s CPU, once per process;"
          " bench_imap.py measures from process start)")
    history: Path | None = None
    history_dir = tempfile.TemporaryDirectory()
    if args.history:
        history = Path(history_dir.name) / "history.db"
        indexed = history_store(history, args.history, CORPUS_START)
        print(f"history            {args.history:,} messages of other customers stored before each run "
              f"({indexed:,} in the campaign index)")
    modes = [("single", 1), ("batched", args.batch)]
    for name, batch in modes:
        if args.mode not in ("both", name):
            continue
        load = os.getloadavg()[0]
        stages: dict[str, float] | None = {} if args.stages else None
        ref_before = reference_ms()
        if args.every:
            print(f"\n[{name}] RSS before the run {rss_mb():.1f} MB")
        cpu, wall, tagged, commits = run(raws, batch, detector, stages, args.every, history)
        ref_after = reference_ms()
        label = "one commit per message" if batch <= 1 else f"one commit per {batch} messages"
        print(f"\n[{name}] {label}: {commits} commits, {tagged} messages tagged")
        print(f"  per core         {args.count / cpu:,.0f} messages/s (CPU time, {cpu * 1000 / args.count:.2f} ms/message)")
        print(f"  wall             {args.count / wall:,.0f} messages/s ({wall:.1f} s, one process, load average {load:.1f})")
        print(f"  host speed       reference workload {ref_before:.0f} ms before, {ref_after:.0f} ms after"
              " (bench/hostspeed.py; lower is faster)")
        if stages is not None:
            collected = stages.pop("gc", 0.0)
            rest = cpu - sum(stages.values())
            print("  CPU ms/message   " + ", ".join(f"{k} {v * 1000 / args.count:.3f}" for k, v in stages.items())
                  + f", rest {rest * 1000 / args.count:.3f}")
            print(f"  of which the garbage collector {collected * 1000 / args.count:.3f} ms/message (within the stages above)")
    print(f"\ncores available    {os.cpu_count()} (CPU time is the fair figure on a shared machine)")
    print(f"interpreter        {interpreter()}")
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
          + (" (building the history's texts and keys included)" if args.history else ""))
    history_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
