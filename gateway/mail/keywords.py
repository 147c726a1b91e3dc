"""The IMAP keywords a verdict puts on a message (DESIGN.md).

``$HGChecked`` on every analysed message; ``$Harassment`` when the policy tagged it, with
``$HG_<category>`` per tagged category; ``$HGHeld`` when its sender is under an active hold;
``$HGQuarantined`` when it could not be analysed (it then gets no ``$HGChecked``).
"""

from __future__ import annotations

from gateway.checkpoints import Verdict
from gateway.quarantine import QUARANTINE_KEYWORD

CHECKED = "$HGChecked"
HARASSMENT = "$Harassment"
HELD = "$HGHeld"
CATEGORY_PREFIX = "$HG_"


def keywords_for(verdict: Verdict) -> frozenset[str]:
    if verdict.quarantined:
        return frozenset({QUARANTINE_KEYWORD})
    words = {CHECKED}
    if verdict.categories or verdict.tags:
        words.add(HARASSMENT)
    words.update(CATEGORY_PREFIX + c for c in verdict.categories)
    if verdict.held:
        words.add(HELD)
    return frozenset(words)


def is_done(flags: set[str] | frozenset[str]) -> bool:
    """True when the server already carries this message's verdict (a restart saw it again)."""
    return CHECKED in flags or QUARANTINE_KEYWORD in flags
