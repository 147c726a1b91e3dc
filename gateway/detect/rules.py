"""The rule object: a named phrase rule from a lexicon file, checked against one message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from gateway.detect import context as C
from gateway.detect.lexicon import RuleSpec, Settings
from gateway.detect.normalize import Normalized
from gateway.detect.parsing import LazyPatterns
from gateway.model import Evidence, Finding, Message, Severity


@dataclass
class Context:
    """What every rule sees for one message: the folded text and the thresholds."""

    message: Message
    norm: Normalized
    settings: Settings
    checked: list[str] = field(default_factory=list)  # rules that ran and did not fire
    #: Whether to record in ``checked`` the rules whose matches contexts scored below threshold
    #: (``explain`` does). Without it, a match's remaining contexts are skipped once its score is
    #: below threshold, since factors in [0, 1] can only lower it further: findings are the same.
    record: bool = True


@dataclass(frozen=True)
class PhraseRule:
    """A phrase rule: any of its patterns in the folded text, scored down by its contexts."""

    name: str
    category: str
    severity: Severity
    lang: str
    note: str
    score: float
    patterns: Sequence[re.Pattern[str]]  # compiled when first used (``parsing.LazyPatterns``)
    contexts: frozenset[str]

    @classmethod
    def from_spec(cls, spec: RuleSpec) -> "PhraseRule":
        return cls(spec.name, spec.category, spec.severity, spec.lang, spec.note, spec.score,
                   LazyPatterns(spec.patterns), spec.context)

    def check(self, message: Message, ctx: Context,
              which: "dict[int, list[tuple[int, int]] | None] | None" = None) -> list[Finding]:
        """One Finding with every passage that scores at or above the category's threshold.

        ``which`` limits the patterns tried to those the engine found worth running, each with
        the spans of text to search (None: all of it)."""
        text = ctx.norm.text
        threshold = ctx.settings.threshold(self.category)
        factors = ctx.settings.factors
        # Stop scoring a match once it is below threshold (only when nothing records why).
        cut = not ctx.record and all(0.0 <= f <= 1.0 for f in factors.values())
        if cut and self.score < threshold:
            return []
        checks = C.CHECKS
        lang = self.lang
        evidence: list[Evidence] = []
        best = 0.0
        notes: set[str] = set()
        lowered: set[str] = set()
        patterns = self.patterns
        for j in range(len(patterns)):
            if which is not None and j not in which:
                continue
            for m in _matches(patterns[j], text, None if which is None else which[j]):
                s, e = m.start(), m.end()
                score = self.score
                applied = []
                for kind in self.contexts:
                    if checks[kind](text, s, e, lang):
                        score *= factors.get(kind, 1.0)
                        applied.append(kind)
                        if cut and score < threshold:
                            break
                if score < threshold:
                    lowered.update(applied)
                    continue
                notes.update(applied)
                os_, oe = ctx.norm.span(s, e)
                orig = message.text[os_:oe]
                if any(e.start <= os_ and oe <= e.end for e in evidence):
                    best = max(best, score)
                    continue
                evidence = [e for e in evidence if not (os_ <= e.start and e.end <= oe)]
                evidence.append(Evidence(os_, oe, orig))
                best = max(best, score)
        if not evidence:
            if lowered:
                ctx.checked.append(f"{self.name} (matched, but {', '.join(C.EXPLAIN[k] for k in sorted(lowered))})")
            return []
        evidence.sort(key=lambda e: e.start)
        quoted = "; ".join(f"\u201c{e.text}\u201d" for e in evidence[:3])
        reason = f"{self.note}: {quoted}"
        if notes:
            reason += f" (score lowered: {', '.join(C.EXPLAIN[k] for k in sorted(notes))})"
        return [Finding(category=self.category, severity=self.severity, score=round(best, 4),
                        evidence=evidence, rule=self.name, reason=reason,
                        details={"lang": self.lang})]


class Starts(tuple):  # type: ignore[type-arg]
    """Ascending positions where a pattern's matches may start (a superset of where they do),
    given in place of windows: only these are tried."""


def _matches(rx: "re.Pattern[str]", text: str, windows: "list[tuple[int, int]] | Starts | None"):  # type: ignore[no-untyped-def]
    """Matches of ``rx`` in ``text``, searching only ``windows`` when given.

    A match that reaches a window's end is checked again against the whole text, since the end
    of a window looks like the end of the text to lookaheads and ``$``. With :class:`Starts`
    (for a pattern that cannot match the empty string), the pattern is tried only at those
    positions, in order, resuming after each match: what ``finditer`` finds, since it tries
    every position the same way and no other position can match.
    """
    if windows is None:
        yield from rx.finditer(text)
        return
    if isinstance(windows, Starts):
        pos = 0
        match = rx.match
        for c in windows:
            if c < pos:
                continue
            m = match(text, c)
            if m is not None:
                yield m
                pos = m.end()
        return
    seen: set[tuple[int, int]] = set()
    for a, b in windows:
        for m in rx.finditer(text, a, b):
            if m.end() >= b and b < len(text):
                m = rx.match(text, m.start())
                if m is None:
                    continue
            key = (m.start(), m.end())
            if key not in seen:
                seen.add(key)
                yield m
