"""settle_heap: start-up's objects frozen out of the collector's walks, cyclic garbage made
afterwards still collected. Run in a child process: the settings are process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, json
    from gateway.runtime import YOUNG_THRESHOLD, settle_heap

    rules = [{"term": str(i), "parts": [i] * 3} for i in range(50_000)]  # start-up's long-lived objects
    before = gc.get_threshold()
    settle_heap()
    frozen = gc.get_freeze_count()
    after = gc.get_threshold()

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a

    for _ in range(10):
        cycle()
    collected = gc.collect()
    print(json.dumps({"before": before, "after": after, "frozen": frozen, "collected": collected,
                      "young": YOUNG_THRESHOLD, "rules": len(rules)}))
    """
)


def _run(code: str) -> dict:  # type: ignore[type-arg]
    import json

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_start_up_objects_are_frozen_and_young_collections_come_less_often() -> None:
    got = _run(CHILD)
    assert got["frozen"] >= 50_000  # the dicts and lists built before the call, at least
    assert got["after"][0] == max(got["young"], got["before"][0])
    assert got["after"][1:] == got["before"][1:]


def test_cyclic_garbage_made_after_settling_is_still_collected() -> None:
    got = _run(CHILD)
    assert got["collected"] >= 20  # ten two-node cycles (and their instance dicts)


def test_a_disabled_collector_stays_disabled() -> None:
    got = _run("import gc\ngc.set_threshold(0)\n" + CHILD)
    assert got["after"][0] == 0
