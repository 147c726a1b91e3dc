"""How fast this host is running right now, for reading a benchmark's CPU figures.

On a shared virtual machine the same code's CPU time per message moves by a third within
minutes, and every stage moves together: what changes is the host (a neighbour on the same
physical core), not the code. A benchmark's figure alone cannot tell a slower build from a
slower minute, so the benchmarks time this fixed reference workload just before and just after
their run and print it beside their figures.

The workload does the kinds of work the pipeline does — Python dicts and strings, JSON, SHA-256,
regular expressions and SQLite inserts — with nothing of the project's, so a change to the
project never changes it. It takes about 0.2 s of CPU; the best of three is reported, in
milliseconds (lower is faster).

    python bench/hostspeed.py            # prints the reference time now, and the interpreter

The interpreter matters as much as the host: the same code runs about 15% faster on Debian's
``/usr/bin/python3.11`` (the interpreter linked into its executable, built with link-time and
profile-guided optimization) than on a Python built by pyenv with its defaults (a shared
``libpython``, no profile-guided build); so the benchmarks print which one ran them
(:func:`interpreter`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sqlite3
import sys
import sysconfig
import time

_WORDS = ("refund order delivery account invoice please thank you again waited days support team reply "
          "問い合わせ 返金 注文 配送 お願い").split()
_PATTERN = re.compile(r"\b(?:refund|invoice|support)\w*\b|返金")


def _workload() -> int:
    """One fixed round of reference work; returns a checksum so nothing is optimised away."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, body TEXT, h TEXT)")
    db.execute("CREATE INDEX t_k ON t(k)")
    total = 0
    n = len(_WORDS)
    for i in range(6_000):
        words = [_WORDS[(i * 7 + j * 3) % n] for j in range(40)]
        text = " ".join(words)
        record = {"id": i, "customer": f"c{i % 97}", "words": words[:8], "length": len(text)}
        body = json.dumps(record, ensure_ascii=False)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        total += len(_PATTERN.findall(text))
        counts: dict[str, int] = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        total += max(counts.values())
        db.execute("INSERT INTO t (k, body, h) VALUES (?, ?, ?)", (record["customer"], body, digest))
        if i % 100 == 99:
            db.commit()
    db.commit()
    total += db.execute("SELECT COUNT(*) FROM t WHERE k = 'c5'").fetchone()[0]
    db.close()
    return total


def reference_ms(rounds: int = 3) -> float:
    """The best CPU time of ``rounds`` runs of the reference workload, in milliseconds."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        _workload()
        best = min(best, time.process_time() - t0)
    return best * 1000


def interpreter() -> str:
    """Which Python runs this: version, executable, and whether ``libpython`` is a shared library
    mapped into the process (pyenv's and many hand-built Pythons) or linked into the executable
    (Debian's), and the optimization flags its build was configured with when it records them
    (Debian's build applies its own, which its configuration does not show)."""
    shared = False
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
            shared = any("/libpython" in line for line in fh)
    except OSError:
        pass
    args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    flags = [f for f in ("--enable-optimizations", "--with-lto") if f in args]
    link = "libpython shared" if shared else "libpython linked into the executable"
    build = f"; configured with {' '.join(flags)}" if flags else ""
    return f"Python {platform.python_version()} ({os.path.realpath(sys.executable)}; {link}{build})"


if __name__ == "__main__":
    print(f"reference workload {reference_ms():.0f} ms CPU (best of 3; lower is a faster host)")
    print(f"interpreter        {interpreter()}")
