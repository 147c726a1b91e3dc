"""A small linear model of English abuse, explainable by the words that fired.

The rules find abuse they have a phrase for; this model catches short English abuse they miss
("fuck yoiu", "thick shit"): a message of a few words thrown at the reader, as chat and terse
replies are. It reads the engine's folded text (leetspeak, masking and spacing already undone, see
``normalize.py``), so evasion that defeats the rules' words defeats the model's too, and every
feature keeps its span back to the original text.

Features are the folded words of a sentence (stretched letters collapsed, apostrophes dropped) and
pairs of neighbouring words (a model file may add letter n-grams per word; the shipped one does
not). A sentence's score is the logistic of the bias plus the weights of its features; the
message's score is its best sentence's. The weights and a manifest (what it was trained on, under
which licenses, which rows) live in ``rules/models/<name>.json``, written by
``scripts/train_model.py``; the ``model:`` section of ``rules/detect.yaml`` switches it on or off
and sets its threshold and the longest message it judges.

Context, as for the rules: a message longer than ``max_words`` is left to the rules (measured on
complaint tweets, the model's words could not tell profanity at a company or a situation from
abuse of a person well enough); an insult describing a thing ("this stupid router") or profanity
about the writer's own situation ("i'm so fucking tired", no one else named) is not abuse; and the
score is lowered by the rules' context factors when the strongest words are quoted, reported as
someone else's, or negated.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gateway.detect import context as C
from gateway.detect.normalize import Normalized
from gateway.model import Evidence, Finding, Message, Severity

#: Version of the feature definition; a model file trained with another one is refused.
FEATURES_VERSION = 1

_TOKEN = re.compile(r"@\w+|https?://\S+|www\.\S+|[a-z*]+(?:'[a-z]+)*|[.!?\n;]+")
_STRETCH = re.compile(r"(.)\1\1+")

#: Words that point a sentence at someone other than the writer.
OTHERS = frozenset("""
you u ya yu ur your youre yourself yourselves yall he she him her his hes shes they them their theyre
bot agent staff people
""".split())

#: The writer speaking of themselves: "i'm so fucking excited" is about the writer's own situation.
FIRST_PERSON = frozenset("i im ive id ill me my myself we were us our".split())

#: Words before an insult that make it describe a thing: "this stupid router", "the damn app".
THING_DETERMINERS = frozenset("this that the my our its these those".split())

#: Default for the longest message (in words) the model judges: a few words said to the reader as
#: a whole ("piss off", "thick shit"), the way the rules read a message that is only an insult.
MAX_WORDS = 8

#: A feature is evidence when its weight is at least this (smaller ones barely moved the score).
EVIDENCE_WEIGHT = 0.2


@dataclass(frozen=True)
class Token:
    """A folded word and its span in the folded text."""

    word: str
    start: int
    end: int


def tokenize(norm: "Normalized | str") -> list[list[Token]]:
    """Sentences of folded text, each a list of its words (mentions and links dropped: a mention
    folded as leetspeak, ``@bob`` -> ``abob``, is found by its original ``@``)."""
    return _tokenize(norm, None)  # type: ignore[return-value]


def _tokenize(norm: "Normalized | str", limit: "int | None") -> "list[list[Token]] | None":
    """:func:`tokenize`, or None as soon as the text has more than ``limit`` words (the model
    judges only short messages, so a long one is turned away after its first ``limit + 1``
    words instead of being tokenized whole)."""
    if isinstance(norm, str):
        text, original, span = norm, norm, None
    else:
        text, original, span = norm.text, norm.original, norm.span
    if limit is not None and _more_than(norm, text, original, limit):
        return None  # more than ``limit`` words, counted without tokenizing
    # Words first (a long text is turned away before anything else is done), as (word, start,
    # end), with None between sentences.
    words: list[tuple[str, int, int] | None] = []
    count = 0
    for m in _TOKEN.finditer(text):
        w = m.group()
        c = w[0]
        if c == "@" or c == "h" and w.startswith(("http://", "https://")) or w.startswith("www."):
            continue
        if c == "a" and span is not None and original[span(m.start(), m.start() + 1)[0]] == "@":
            continue
        if c in ".!?\n;":
            words.append(None)
            continue
        if limit is not None:
            count += 1
            if count > limit:
                return None
        words.append((w, m.start(), m.end()))
    # A word can only hold a stretched letter if the text (apostrophes dropped, as in words) does.
    stretched = _STRETCH.search(text.replace("'", "") if "'" in text else text) is not None
    sentences: list[list[Token]] = []
    current: list[Token] = []
    for item in words:
        if item is None:
            if current:
                sentences.append(current)
                current = []
            continue
        w, start, end = item
        if "'" in w:
            w = w.replace("'", "")
        if stretched and len(w) > 2:
            w = _STRETCH.sub(r"\1", w)
        current.append(Token(w, start, end))
    if current:
        sentences.append(current)
    return sentences


def _more_than(norm: "Normalized | str", text: str, original: str, limit: int) -> bool:
    """True only when ``text`` has more than ``limit`` words as the tokenizer counts them, found
    with one regex search: :func:`_more_words` counts its word tokens, of which the tokenizer
    leaves out only those that begin at an ``@`` of the original (a mention folded to letters,
    ``@bob`` -> ``abob``). While the folding kept every offset, those begin at distinct ``@``s,
    so there are at most as many as the original has."""
    at = original.count("@") if isinstance(norm, Normalized) else 0
    if at and norm.starts is not None:  # type: ignore[union-attr]
        return False  # offsets moved: leave the count to the tokenizer
    return _more_words(limit + at).match(text) is not None


@functools.lru_cache(maxsize=32)
def _more_words(limit: int) -> "re.Pattern[str]":
    """Matches a text holding more than ``limit`` word tokens, reading only as far as the token
    after the limit. Between words: mentions, links and anything not a letter, each taken as
    ``_TOKEN`` takes it (the first alternative that matches, whole); a word is ``_TOKEN``'s. All
    possessive, so nothing is split or re-read another way on the way."""
    skip = r"(?:@\w+|https?://\S+|www\.\S+|[^a-z*])*+"
    return re.compile(r"(?:%s[a-z*]++(?:'[a-z]+)*+){%d}" % (skip, limit + 1))


def char_grams(word: str, sizes: tuple[int, ...]) -> list[str]:
    """Letter n-grams of ``<word>`` written ``#gram`` ("yoiu" -> ``#<yo``, ``#yoi``, ...): they let
    a misspelled word ("yoiu", "biatch") share weight with the word it spells."""
    padded = "<" + word + ">"
    return ["#" + padded[i:i + n] for n in sizes for i in range(len(padded) - n + 1)]


def features(sentence: list[Token], sizes: tuple[int, ...] = ()) -> Iterator[tuple[str, int, int]]:
    """``(feature, first token index, last token index)``: each word, each pair of neighbours
    written ``"a b"``, and with ``sizes`` each word's letter n-grams."""
    prev = None
    for i, tok in enumerate(sentence):
        yield tok.word, i, i
        if prev is not None:
            yield prev + " " + tok.word, i - 1, i
        for g in char_grams(tok.word, sizes) if sizes else ():
            yield g, i, i
        prev = tok.word


def feature_set(norm: "Normalized | str", sizes: tuple[int, ...] = ()) -> set[str]:
    """Every feature of a folded text (what training sees for one row)."""
    return {f for sentence in tokenize(norm) for f, _, _ in features(sentence, sizes)}


@dataclass
class SentenceScore:
    """One sentence's probability and the features that pushed it up most."""

    probability: float
    top: list[tuple[str, float, int, int]]  # feature, weight, folded start, folded end
    tokens: list[Token]


class AbuseModel:
    """Weights for word and word-pair features, and the manifest they were trained under."""

    def __init__(self, name: str, weights: dict[str, float], bias: float, threshold: float,
                 manifest: dict, char_ngrams: tuple[int, ...] = ()) -> None:  # type: ignore[type-arg]
        self.name = name
        self.char_ngrams = tuple(char_ngrams)
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.manifest = manifest
        # A pair can only fire when its first word starts some pair: skip the string join otherwise.
        self._pair_heads = frozenset(k.split(" ", 1)[0] for k in weights if " " in k)

    @classmethod
    def load(cls, path: Path) -> "AbuseModel":
        """Read a model file written by ``scripts/train_model.py``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read model file ({exc})") from None
        version = data.get("features_version")
        if version != FEATURES_VERSION:
            raise ValueError(f"{path}: features_version {version!r}, this code reads {FEATURES_VERSION}")
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        return cls(str(data.get("name", Path(path).stem)), weights, float(data["bias"]),
                   float(data.get("threshold", 0.5)), data.get("manifest", {}),
                   tuple(int(n) for n in data.get("char_ngrams", ())))

    def score_sentence(self, sentence: list[Token], top: int = 3) -> SentenceScore:
        """Probability for one sentence and its ``top`` pieces by positive contribution: a word
        (its own weight plus its letter n-grams') or a pair of words. Each feature counts once
        per sentence, as in training."""
        weights = self.weights
        sizes = self.char_ngrams
        logit = self.bias
        seen: set[str] = set()
        pieces: dict[tuple[int, int], list] = {}  # type: ignore[type-arg]  # span -> [label, weight]
        prev: Token | None = None
        for tok in sentence:
            total = 0.0
            for f in [tok.word, *char_grams(tok.word, sizes)] if sizes else (tok.word,):
                if f not in seen:
                    seen.add(f)
                    total += weights.get(f, 0.0)
            logit += total
            key = (tok.start, tok.end)
            if total > 0 and key not in pieces:
                pieces[key] = [tok.word, total]
            if prev is not None:
                pair = prev.word + " " + tok.word
                w = weights.get(pair)
                if w is not None and pair not in seen:
                    seen.add(pair)
                    logit += w
                    if w > 0:
                        pieces[(prev.start, tok.end)] = [pair, w]
            prev = tok
        fired = sorted(((w, label, s, e) for (s, e), (label, w) in pieces.items() if w >= EVIDENCE_WEIGHT),
                       key=lambda f: (-f[0], f[2]))
        prob = 1.0 / (1.0 + math.exp(-logit)) if logit > -40 else 0.0
        return SentenceScore(prob, [(label, w, s, e) for w, label, s, e in fired[:top]], sentence)

    def score_text(self, norm: "Normalized | str") -> float:
        """The message's probability: its best sentence's (no context applied)."""
        return max((self.score_sentence(s).probability for s in tokenize(norm)), default=0.0)

    def check(self, message: Message, norm: Normalized, factors: dict[str, float],
              threshold: float, max_words: int = MAX_WORDS) -> list[Finding]:
        """At most one finding: the best sentence of a message of at most ``max_words`` words
        that scores at or above ``threshold`` after context factors, unless its strongest word
        describes a thing ("this stupid router") or the writer speaks only of themselves."""
        text = norm.text
        if len(text) > 40 * max_words + 40:
            return []  # far too long to be a short message: skip tokenizing
        sentences = _tokenize(norm, max_words)
        if sentences is None:
            return []  # more than max_words words
        best: tuple[float, SentenceScore, list[str]] | None = None
        for sentence in sentences:
            scored = self.score_sentence(sentence)
            if scored.probability < threshold or not scored.top:
                continue
            _, _, s, e = scored.top[0]
            if _describes_thing(sentence, s) or _about_writer(sentence):
                continue
            p = scored.probability
            applied = []
            for kind in ("quoted", "reported", "negated"):
                if C.CHECKS[kind](text, s, e, message.lang or "en"):
                    p *= factors.get(kind, 1.0)
                    applied.append(kind)
            if p >= threshold and (best is None or p > best[0]):
                best = (p, scored, applied)
        if best is None:
            return []
        p, scored, applied = best
        spans: list[tuple[int, int]] = []
        for a, b in sorted(norm.span(s, e) for _, _, s, e in scored.top):
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))  # overlapping features: one passage
            else:
                spans.append((a, b))
        evidence = [Evidence(a, b, message.text[a:b]) for a, b in spans]
        named = ", ".join(f"\u201c{f}\u201d (+{w:.1f})" for f, w, _, _ in scored.top)
        reason = (f"statistical model {self.name}: a short message of abusive language, probability "
                  f"{p:.2f} (threshold {threshold:.2f}); strongest words {named}")
        if applied:
            reason += f" (score lowered: {', '.join(C.EXPLAIN[k] for k in applied)})"
        return [Finding(category="verbal_abuse", severity=Severity.MEDIUM, score=round(p, 4),
                        evidence=evidence, rule=f"model:{self.name}", reason=reason,
                        details={"lang": "en", "model": self.name})]


@dataclass(frozen=True)
class ModelDetector:
    """The shipped model as ``rules/detect.yaml`` configures it, run by the Detector."""

    model: AbuseModel
    threshold: float
    max_words: int

    def detect(self, message: Message, norm: Normalized, factors: dict[str, float]) -> list[Finding]:
        """The model's finding for an English ``message`` (Japanese is left to the rules)."""
        if message.lang == "ja":
            return []
        return self.model.check(message, norm, factors, self.threshold, self.max_words)


def load_model_settings(rules_dir: Path) -> "ModelDetector | None":
    """The ``model:`` section of ``rules_dir/detect.yaml`` and the model file it names (under
    ``rules_dir``, else the shipped rules/), or None when there is no section or ``enabled:
    false``. A malformed section or a missing model file fails with file, line and reason."""
    from gateway.detect.yamlfile import Node, load
    from gateway.errors import RulesError

    path = rules_dir / "detect.yaml"
    if not path.is_file():
        return None
    root = load(path)
    section = root.get("model") if isinstance(root, Node) else None
    if section is None:
        return None
    if not isinstance(section, Node) or not isinstance(section.value, dict):
        raise root.error("'model' must be a mapping (enabled, file, threshold, max_words)", "model")
    known = {"enabled", "file", "threshold", "max_words"}
    for key in section.value:
        if key not in known:
            raise section.error(f"unknown key {key!r} in 'model'; use {', '.join(sorted(known))}", key)
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise section.error("'enabled' must be true or false", "enabled")
    if not enabled:
        return None
    file = section.get("file")
    if not isinstance(file, str) or not file:
        raise section.error("'file' must name the model file, relative to rules/", "file")
    model_path = rules_dir / file
    if not model_path.is_file():
        # A rules directory that brings its own lexicons and detect.yaml but no models/ uses the
        # model shipped with the package.
        from gateway.resources import rules_dir as shipped_rules_dir

        if (shipped_rules_dir() / file).is_file():
            model_path = shipped_rules_dir() / file
    try:
        model = AbuseModel.load(model_path)
    except (ValueError, KeyError, TypeError) as exc:
        raise RulesError(str(path), section.lines.get("file", section.line), str(exc)) from None
    threshold = section.get("threshold", model.threshold)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise section.error("'threshold' must be a number from 0 to 1", "threshold")
    max_words = section.get("max_words", MAX_WORDS)
    if not isinstance(max_words, int) or isinstance(max_words, bool) or max_words < 1:
        raise section.error("'max_words' must be a whole number of at least 1", "max_words")
    return ModelDetector(model, float(threshold), max_words)


def _about_writer(sentence: list[Token]) -> bool:
    """The writer speaks of themselves and names no one else ("i'm so fucking tired")."""
    words = {t.word for t in sentence}
    return bool(words & FIRST_PERSON) and not words & OTHERS


def _describes_thing(sentence: list[Token], start: int) -> bool:
    """The word at folded offset ``start`` follows a determiner of a thing ("this damn app")."""
    for i, tok in enumerate(sentence):
        if tok.start == start:
            return i > 0 and sentence[i - 1].word in THING_DETERMINERS
    return False


__all__ = ["AbuseModel", "FEATURES_VERSION", "MAX_WORDS", "ModelDetector", "Token", "char_grams",
           "feature_set", "features", "load_model_settings", "tokenize"]
