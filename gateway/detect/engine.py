"""The Detector: every phrase rule from ``rules/`` over one message's folded text.

Speed comes from running only the patterns that can match the message. First choice: the RE2
prefilter (``prefilter.py``): all patterns, loosened, as a few automata that each read the text
once; the few patterns it reports are run with Python's ``re``, tried only at the positions where
their looser RE2 forms matched (every real match starts there), so the result is the exhaustive
scan's. Without RE2 (or when it cannot decide), the engine runs the patterns
whose trigger words occur in the message (words every match must contain, derived from the
template when the rules load), and only near those words.
English triggers are looked up among the message's words; Japanese ones by the character pairs
they start with. A message with a masked or stretched word (``f*ck``, ``kiiill``) runs every English
pattern over the whole text, since its words cannot be read. ``detect_exhaustive`` is the reference.
"""

from __future__ import annotations

import hashlib
import re
import re._parser as sre_parse
from functools import lru_cache
from pathlib import Path

from gateway.detect.fuzzy import build_rewrites
from gateway.detect.lexicon import Lexicon, load_lexicon
from gateway.detect.model import ModelDetector, load_model_settings
from gateway.detect.merge import merge_overlapping
from gateway.detect.normalize import Normalized, Normalizer, words_of
from gateway.detect.prefilter import Prefilter, ascii_copy
from gateway.detect.rules import Context, PhraseRule, Starts
from gateway.model import Finding, Message

_WINDOW = 160  # characters searched on each side of a trigger word
_MAX_STARTS = 400  # beyond this many candidate start positions, search the text instead


def _key(trigger: str) -> str:
    """Index key of a trigger: ``w:word`` for a whole word, ``p:abcd`` for a stem's first four letters."""
    return trigger if trigger.startswith("w:") else "p:" + trigger[2:6]


def _message_keys(words: set[str], stems: tuple[int, ...] = ()) -> set[str]:
    """The index keys a message's words answer to; ``stems`` are the lengths (under 4) of the
    short stems the rules use (``guns?``, ``dies?``), so a longer word finds its stem too."""
    keys = {"w:" + w for w in words}
    keys.update(["w:" + w[:-1] for w in words if w.endswith("s")])
    keys.update(["w:" + w[:-2] for w in words if w.endswith("es")])
    keys.update(["p:" + w[:4] for w in words])
    for n in stems:
        keys.update(["p:" + w[:n] for w in words if len(w) > n])
    return keys


_STRETCHED = re.compile(r"([a-z])\1\1")


class Detector:
    """Finds harassment categories in a message, with evidence in the original text."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.settings = lexicon.settings
        self.rules: list[PhraseRule] = [PhraseRule.from_spec(spec) for spec in lexicon.rules]
        self._en_index: dict[str, list[tuple[int, int]]] = {}
        self._ja_index: dict[str, list[tuple[str, int, int]]] = {}
        self._en_all: list[tuple[int, int]] = []
        self._requires: dict[tuple[int, int], tuple[frozenset[str], ...]] = {}
        for i, spec in enumerate(lexicon.rules):
            for j, needs in enumerate(spec.requires):
                if needs:
                    conv = (lambda t: _key(t)) if spec.lang == "en" else (lambda t: t)
                    self._requires[(i, j)] = tuple(frozenset(conv(t) for t in need) for need in needs)
            for j, triggers in enumerate(spec.triggers):
                if spec.lang == "en":
                    self._en_all.append((i, j))
                    for t in triggers:
                        self._en_index.setdefault(_key(t), []).append((i, j))
                else:
                    for t in triggers:
                        self._ja_index.setdefault(t[:2], []).append((t, i, j))
        self._en_keys = frozenset(self._en_index)
        self._ja_keys = frozenset(self._ja_index)
        self._stems = tuple(sorted({len(k) - 2 for k in self._en_index if k.startswith("p:") and len(k) < 6}))
        self._flat = [(i, j) for i, spec in enumerate(lexicon.rules) for j in range(len(spec.patterns))]
        parsed = lexicon.parsed  # each pattern's parse, from loading
        trees = [parsed.get(p) for spec in lexicon.rules for p in spec.patterns]
        # A pattern whose shortest match is longer than 0 cannot match "" (its compiled form
        # checks that length first), so this needs no pattern compiled.
        self._nonempty = frozenset(k for k, (i, j) in enumerate(self._flat)
                                   if _min_width(lexicon.rules[i].patterns[j], trees[k]) > 0)
        self.prefilter = Prefilter([(p, spec.lang == "en") for spec in lexicon.rules for p in spec.patterns], trees)
        del trees
        parsed.clear()  # (the patterns are compiled from their text when first needed)
        # Built after the trees are freed, so that its tables take their memory.
        vocab = frozenset(w for (lang, _), s in lexicon.slots.items() if lang == "en" for w in s.terms)
        self.normalizer = Normalizer(vocabulary=vocab, rewrites=build_rewrites(lexicon))
        #: The statistical model (``model.py``) when ``rules/detect.yaml`` enables one; set by load().
        self.model: ModelDetector | None = None

    @classmethod
    def load(cls, rules_dir: Path | None = None) -> "Detector":
        """Load and validate ``rules_dir`` (the shipped rules/ by default).

        Compiling the rules takes seconds, so a process that loads the same rules again (a
        pipeline per test, per CLI command) shares the Detector built the first time: detection
        keeps no state between messages. Files are compared by content, so an edited rule is
        always seen; only the last few rule sets are kept."""
        if rules_dir is None:
            from gateway.resources import rules_dir as default_rules_dir

            rules_dir = default_rules_dir()
        rules_dir = Path(rules_dir)
        return _load_cached(str(rules_dir), _fingerprint(rules_dir))

    def warm(self, texts: bool = True) -> int:
        """Compile every pattern now instead of when first needed; returns how many.

        Loading leaves patterns uncompiled (most messages reach few of them), so the first
        thousands of messages of a process also pay for compiling the patterns they reach. A
        throughput benchmark calls this first to measure the steady state; its cost is part of
        start-up, which the end-to-end benchmark measures from process start.

        ``texts``: also run the prefilter over the warm-up texts (``warmup.py``, made from the
        lexicon and the sample mail), so its automata have built the states ordinary mail needs
        (they build them lazily, and a new state costs many times a cached one). Done once per
        Detector; findings are never affected, only how soon detection reaches its steady cost."""
        compiled = sum(1 for rule in self.rules for _ in rule.patterns)  # iterating compiles each
        self.prefilter.warm()  # and each pattern's own RE2 automaton (``Prefilter.spans``)
        if texts and not getattr(self, "_warmed", False):
            from gateway.detect.warmup import warmup_texts

            self._warmed = True  # before the run: a second caller (another thread) returns at once
            for text in warmup_texts(self.lexicon):
                self._plan(self.normalizer.normalize(text).text)
        return compiled

    def _candidates(self, text: str) -> dict[int, dict[int, set[str]]]:
        """Rule index -> {pattern index -> the trigger keys that made it worth running}."""
        chosen: dict[int, dict[int, set[str]]] = {}
        if "*" in text or _STRETCHED.search(text):
            for i, j in self._en_all:
                chosen.setdefault(i, {}).setdefault(j, set()).add("")
        else:
            keys = _message_keys(set(words_of(text)), self._stems)
            requires = self._requires
            for key in keys & self._en_keys:
                for i, j in self._en_index[key]:
                    needs = requires.get((i, j))
                    if needs and not all(keys.intersection(n) for n in needs):
                        continue
                    chosen.setdefault(i, {}).setdefault(j, set()).add(key)
        if not text.isascii():
            pairs = {text[k:k + 2] for k in range(len(text) - 1)}
            singles = set(text)
            for key in (pairs & self._ja_keys) | (singles & self._ja_keys):
                for trig, i, j in self._ja_index[key]:
                    needs = self._requires.get((i, j))
                    if needs and not all(any(w in text for w in n) for n in needs):
                        continue
                    if trig in text:
                        chosen.setdefault(i, {}).setdefault(j, set()).add("=" + trig)
        return chosen

    @staticmethod
    def _windows(text: str, keys: set[str]) -> "list[tuple[int, int]] | None":
        """Spans of ``text`` around the trigger words, or None to scan the whole text.

        A match holds one of its triggers, and no pattern spans more than a few words on either
        side of it, so searching near the triggers finds every match a full scan would.
        """
        n = len(text)
        if n <= 2 * _WINDOW:
            return None
        spots: list[int] = []
        for key in keys:
            needle = key[1:] if key.startswith("=") else key[2:]
            if len(needle) < 2:
                return None
            pos = text.find(needle)
            if pos < 0:
                return None  # stretched letters: the folded word differs from its key
            while pos >= 0:
                spots.append(pos)
                if len(spots) > 64:
                    return None
                pos = text.find(needle, pos + 1)
        spots.sort()
        windows: list[tuple[int, int]] = []
        for p in spots:
            a, b = max(0, p - _WINDOW), min(n, p + _WINDOW)
            if windows and a <= windows[-1][1]:
                windows[-1] = (windows[-1][0], b)
            else:
                windows.append((a, b))
        return windows

    def _plan(self, text: str) -> "list[tuple[int, dict[int, list[tuple[int, int]] | None]]]":
        """The rules worth checking, in order, each with the patterns to run and the spans of
        text to search (None: all of it)."""
        prefilter = self.prefilter
        narrow = ascii_copy(text) if prefilter.available else None
        possible = prefilter.possible(text, narrow)
        if possible is None:
            return [(i, {j: self._windows(text, keys) for j, keys in patterns.items()})
                    for i, patterns in sorted(self._candidates(text).items())]
        plan: dict[int, dict[int, list[tuple[int, int]] | None]] = {}
        flat = self._flat
        n = len(text)
        nonempty = self._nonempty
        spans_of = prefilter.spans
        for k in sorted(possible):
            spans = spans_of(k, narrow)  # type: ignore[arg-type]
            if spans is not None and not spans:
                continue  # its looser form matches nowhere in the text, so neither does it
            i, j = flat[k]
            plan.setdefault(i, {})[j] = _where(spans, n, k in nonempty)
        return list(plan.items())

    def detect(self, message: Message) -> list[Finding]:
        """Findings for ``message`` (never persistent/duplicate contact: that is the contact stage)."""
        norm = self.normalizer.normalize(message.text)
        ctx = Context(message, norm, self.settings, record=False)
        findings: list[Finding] = []
        for i, which in self._plan(norm.text):
            findings.extend(self.rules[i].check(message, ctx, which))
        return self._finish(findings, message, norm)

    def detect_by_triggers(self, message: Message) -> list[Finding]:
        """The fast path without the RE2 prefilter (what runs where google-re2 is missing)."""
        norm = self.normalizer.normalize(message.text)
        ctx = Context(message, norm, self.settings)
        findings: list[Finding] = []
        text = norm.text
        for i, patterns in sorted(self._candidates(text).items()):
            which = {j: self._windows(text, keys) for j, keys in patterns.items()}
            findings.extend(self.rules[i].check(message, ctx, which))
        return self._finish(findings, message, norm)

    def detect_exhaustive(self, message: Message) -> list[Finding]:
        """Every pattern over the whole text, without trigger selection: slow, the reference the
        fast path must agree with (used by tests and by rule authors)."""
        norm = self.normalizer.normalize(message.text)
        ctx = Context(message, norm, self.settings)
        findings: list[Finding] = []
        for rule in self.rules:
            findings.extend(rule.check(message, ctx, None))
        return self._finish(findings, message, norm)

    def explain(self, message: Message) -> tuple[list[Finding], list[str]]:
        """Findings plus the rules that matched but were scored below threshold (hits and misses)."""
        norm = self.normalizer.normalize(message.text)
        ctx = Context(message, norm, self.settings)
        findings: list[Finding] = []
        for i, which in self._plan(norm.text):
            findings.extend(self.rules[i].check(message, ctx, which))
        return self._finish(findings, message, norm), ctx.checked

    def _finish(self, findings: list[Finding], message: Message, norm: Normalized) -> list[Finding]:
        """The rules' findings plus the model's (when enabled), one finding per category and passage."""
        if self.model is not None:
            findings.extend(self.model.detect(message, norm, self.settings.factors))
        return merge_overlapping(findings)


def _min_width(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> int:
    try:
        return int((tree if tree is not None else sre_parse.parse(pattern)).getwidth()[0])
    except Exception:  # noqa: BLE001 - unknown: treated as possibly empty
        return 0


def _where(spans: "list[tuple[int, int]] | None", n: int, nonempty: bool) -> "list[tuple[int, int]] | Starts | None":
    """Where to look for a pattern's matches, from its looser form's matches (see
    ``Prefilter.spans``): each span's positions and the one after it; or, for a pattern that may
    match the empty string, the text from the first span on (None: the whole text)."""
    if not spans:
        return None
    if nonempty:
        positions: set[int] = set()
        for a, b in spans:
            positions.update(range(a, min(max(b, a + 1), n) + 1))
        if len(positions) <= _MAX_STARTS:
            return Starts(sorted(positions))
    start = spans[0][0]
    return [(start, n)] if start else None


def _fingerprint(rules_dir: Path) -> str:
    """A digest of every file and folder name under ``rules_dir`` and every file's content."""
    digest = hashlib.sha256()
    if rules_dir.is_dir():
        for path in sorted(rules_dir.rglob("*")):
            digest.update(str(path.relative_to(rules_dir)).encode("utf-8", "surrogateescape") + b"\0")
            if path.is_file():
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _load_cached(rules_dir: str, fingerprint: str) -> Detector:
    detector = Detector(load_lexicon(Path(rules_dir)))
    detector.model = load_model_settings(Path(rules_dir))
    return detector


__all__ = ["Detector"]
