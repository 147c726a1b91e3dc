"""Abusive wording, masked until a reader chooses to see it.

People who review harassment read a lot of it. The console therefore shows a message with each
abusive evidence span replaced by a label (``[insult]``); one click on the label reveals the words,
highlighted. Evidence that is not abusive in itself (a refund demand) is highlighted, not masked. :func:`segments` cuts a text into plain and evidence pieces for the templates, which
render each evidence piece as a ``<details>`` element — no script needed.

Evidence comes from several producers (detector findings, hold evidence lists, audit entries), so
:func:`spans_from` accepts the shapes they use: a finding-like object with an ``evidence`` list, or
a bare span with ``start``/``end``/``text``. A span whose text does not match the message at its
offsets is looked up by its text instead; one that cannot be placed is still masked on its own.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.model import Evidence, Finding, Severity

log = logging.getLogger(__name__)

__all__ = ["Segment", "Span", "label_for", "masked_text", "segments", "spans_from"]


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    category: str


@dataclass(frozen=True)
class Segment:
    """A piece of a message: plain text (``category`` empty) or masked evidence."""

    text: str
    category: str = ""
    label: str = ""  # the mask shown instead of the text; empty: highlighted but readable

    @property
    def is_evidence(self) -> bool:
        return bool(self.category)

    @property
    def is_masked(self) -> bool:
        return bool(self.label)


def _get(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def spans_from(items: Iterable[Any], *, message_id: str | None = None) -> list[Span]:
    """Evidence spans from findings, finding JSON or bare spans. With ``message_id``, items that
    name another message are skipped (a hold gathers evidence from several messages)."""
    out: list[Span] = []
    for item in items or ():
        item_message = _get(item, "message_id") or _get(item, "message")
        if message_id is not None and item_message and item_message != message_id:
            continue
        category = str(_get(item, "category", "") or "evidence")
        inner = _get(item, "evidence")
        pieces = inner if isinstance(inner, (list, tuple)) else [item]
        for piece in pieces:
            start, end, text = _get(piece, "start"), _get(piece, "end"), _get(piece, "text")
            if isinstance(start, int) and isinstance(end, int) and isinstance(text, str) and end > start:
                out.append(Span(start, end, text, str(_get(piece, "category", "") or category)))
    return out


def _place(text: str, span: Span) -> tuple[int, int] | None:
    if 0 <= span.start < span.end <= len(text) and text[span.start : span.end] == span.text:
        return span.start, span.end
    found = text.find(span.text) if span.text else -1
    return (found, found + len(span.text)) if found >= 0 else None


def segments(text: str, spans: Iterable[Span]) -> list[Segment]:
    """Cut ``text`` into plain and evidence segments; overlapping spans merge into one."""
    placed = sorted(
        (pos[0], pos[1], s.category) for s in spans if (pos := _place(text, s)) is not None
    )
    merged: list[list[Any]] = []
    for start, end, category in placed:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if category not in last[2]:
                last[2].append(category)
        else:
            merged.append([start, end, [category]])
    out: list[Segment] = []
    cursor = 0
    for start, end, categories in merged:
        if start > cursor:
            out.append(Segment(text[cursor:start]))
        piece = text[start:end]
        label = next((lab for c in categories if (lab := label_for(piece, c))), "")
        out.append(Segment(piece, ", ".join(categories), label))
        cursor = end
    if cursor < len(text):
        out.append(Segment(text[cursor:]))
    return out


@functools.cache
def _detector_mask() -> Callable[[str, list[Finding]], str] | None:
    try:
        from gateway.detect import mask
    except Exception:  # noqa: BLE001 - without the detector every span is masked, the safe side
        log.warning("console: gateway.detect.mask is unavailable; masking every evidence span")
        return None
    return mask


def label_for(piece: str, category: str) -> str:
    """The masked stand-in for ``piece``, or ``""`` when its category is shown unmasked.

    The detector's :func:`gateway.detect.mask` decides, so the console masks exactly what the
    helpdesk note masks and says it the same way (``[insult]``); demands such as a refund or a
    manager stay readable, only highlighted. Without the detector, every span is masked."""
    mask = _detector_mask()
    if mask is None:
        return f"[{category}]"
    finding = Finding(category, Severity.MEDIUM, 1.0, [Evidence(0, len(piece), piece)], "console", "")
    try:
        masked = mask(piece, [finding]).strip()
    except Exception:  # a label must never break a page, and masking is the safe side
        return f"[{category}]"
    return "" if masked == piece.strip() else masked


def masked_text(text: str, spans: Iterable[Span]) -> str:
    """The text with every evidence span replaced by its label (for titles and previews)."""
    return "".join(s.label if s.is_masked else s.text for s in segments(text, spans))
