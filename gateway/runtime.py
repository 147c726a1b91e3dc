"""Process-wide settings for a long-running gateway process, applied once start-up is done.

Start-up builds millions of Python objects that live as long as the process: the lexicons, the
rules' parsed patterns, the model's weights, the policy. CPython's cyclic garbage collector
walks every tracked object at each full collection, and with its default thresholds a full
collection comes every few hundred messages: about 4 % of the pipeline's CPU went to walking
the rules again and again, and another 3 % to the young collections that lead up to them.

:func:`settle_heap` moves what start-up built out of the collector's view (``gc.freeze``: the
objects stay alive and are freed by reference counting as ever; only the cycle search skips
them) and lets more young objects accumulate before a collection. Memory is unaffected: the
pipeline's per-message garbage is freed by reference counting, and cyclic garbage is still
collected, just in larger rounds.
"""

from __future__ import annotations

import gc

#: Allocations (net of frees) of container objects between two young collections (CPython's
#: default is 700; each young collection walks every young object, so the total work is the
#: same, but survivors are promoted, and older generations collected, far less often).
YOUNG_THRESHOLD = 5_000


def settle_heap(young: int = YOUNG_THRESHOLD) -> None:
    """Call once start-up is done (the rules loaded), before the first message: collect what
    start-up left behind, freeze the survivors and raise the young generation's threshold.
    Calling it again freezes what was built since (another pipeline, reloaded rules)."""
    gc.collect()
    gc.freeze()
    first, second, third = gc.get_threshold()
    if first and first < young:  # 0: collection disabled by the embedding program; leave it
        gc.set_threshold(young, second, third)
