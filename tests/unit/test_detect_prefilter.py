"""The RE2 prefilter never hides a match: every pattern that matches a text is among the patterns
it names, so the fast path finds exactly what the full scan finds, including when RE2 gives up,
cannot read the text, or is not installed."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector
from gateway.detect import prefilter as PF
from gateway.model import Message

pytest.importorskip("re2")


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load()


def findings_of(findings: list) -> list[tuple]:
    return [(f.rule, f.category, str(f.severity), f.score, f.reason,
             tuple((e.start, e.end, e.text) for e in f.evidence)) for f in findings]


_FILLER = ["the", "parcel", "is", "late", "again", "and", "I", "want", "a", "refund", "please", "your",
           "agent", "said", "that", "if", "not", "never", "\"", "“", "”", ",", ".", "!", "?", "\n",
           "café", "naïve", "ｆｕｌｌ", "123", "–", "商品が届きません", "お願いします", "。", "「", "」",
           "\u200b", "😀", "×", "ß", "İ"]


def _evade(word: str, rng: random.Random) -> str:
    """The spellings evaders use: masked, stretched, spaced, leet, full-width, upper case."""
    roll = rng.random()
    if len(word) > 3 and roll < 0.1:
        return word[0] + "*" * (len(word) - 2) + word[-1]
    if len(word) > 2 and roll < 0.2:
        k = rng.randrange(1, len(word))
        return word[:k] + word[k - 1] * 3 + word[k:]
    if roll < 0.25:
        return " ".join(word)
    if roll < 0.3:
        return word.translate(str.maketrans("aeio", "4310"))
    if roll < 0.35:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    if roll < 0.45:
        return word.upper()
    return word


def _texts(detector: Detector, n: int, seed: int) -> list[str]:
    """Texts of filler with lexicon terms (both languages, some evaded) sprinkled in."""
    rng = random.Random(seed)
    terms = sorted(t for slot in detector.lexicon.slots.values() for t in slot.terms)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randrange(1, 60)):
            parts.append(_evade(rng.choice(terms), rng) if rng.random() < 0.35 else rng.choice(_FILLER))
        out.append(rng.choice(["", " ", ""]).join(parts) if rng.random() < 0.2 else " ".join(parts))
    return out


def test_every_matching_pattern_is_named_by_the_prefilter(detector: Detector) -> None:
    patterns = [(i, j, rx) for i, rule in enumerate(detector.rules) for j, rx in enumerate(rule.patterns)]
    checked = 0
    for text in _texts(detector, 250, seed=11):
        folded = detector.normalizer.normalize(text).text
        possible = detector.prefilter.possible(folded)
        assert possible is not None
        for k, (i, j, rx) in enumerate(patterns):
            if rx.search(folded):
                checked += 1
                assert k in possible, (detector.rules[i].name, j, text)
    assert checked > 200  # the generated texts do hit the rules


def test_fast_path_finds_exactly_what_the_full_scan_finds_on_sprinkled_text(detector: Detector) -> None:
    hits = 0
    for n, text in enumerate(_texts(detector, 300, seed=5)):
        m = Message(id=str(n), text=text)
        fast = findings_of(detector.detect(m))
        assert fast == findings_of(detector.detect_exhaustive(m)), text
        hits += bool(fast)
    assert hits > 50


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(list("idotkl ufcs*.!'\"\n-_3041@$") + ["バカ", "死ね", "殺", "お前", "ー", "・",
                                                                    "you ", "idiot", "kill", "fuck"]),
                max_size=40).map("".join))
def test_loose_patterns_match_wherever_the_real_ones_do(detector: Detector, text: str) -> None:
    folded = detector.normalizer.normalize(text).text
    possible = detector.prefilter.possible(folded)
    assert possible is not None
    k = 0
    for rule in detector.rules:
        for rx in rule.patterns:
            if rx.search(folded):
                assert k in possible, (rule.name, folded)
            k += 1


@pytest.mark.parametrize("pattern, text", [
    (r"(?<![\w*])(?:idiot)(?![\w*])", "you idiot"),
    (r"(?<![\w*])(?:idiot)(?![\w*])", "idiot"),
    (r"(?<![\w*])(?:you[^\w*]+(?:[\w'*]+[^\w*]+){0,2}idiot)(?![\w*])", "you café naïve idiot"),
    (r"(?<![\w*])(?:you[^\w*]+(?:[\w'*]+[^\w*]+){0,2}idiot)(?![\w*])", "you お前 idiot!"),
    (r"(?<![\w*])(?:you\s+idiot)", "you\u3000idiot"),
    (r"(?<![\w*])(?:no\W+\d+)", "no — ٣"),
    (r"^\W*(?:idiot)", "— idiot"),
    (r"[^a]b", "éb"),
    (r"お前(?:は|って)?バカ", "お前はバカ"),
])
def test_loosened_pattern_keeps_unicode_classes_wide(pattern: str, text: str) -> None:
    assert re.search(pattern, text)
    ascii_set = PF.Prefilter([(pattern, True)])
    utf8_set = PF.Prefilter([(pattern, False)])
    assert ascii_set.possible(text) == {0}
    assert utf8_set.possible(text) == {0}


def test_prefilter_excludes_patterns_that_cannot_match() -> None:
    pf = PF.Prefilter([(r"(?<![\w*])(?:idiot)(?![\w*])", True), (r"殺す", False)])
    assert pf.possible("my parcel is late") == set()
    assert pf.possible("idiots everywhere") == set()  # the loose form keeps the word edge
    assert pf.possible("殺すぞ") == {1}


def test_untranslatable_patterns_always_run() -> None:
    pf = PF.Prefilter([(r"(a)\1", True), (r"(?i)abc", False), (r"abc", True)])
    assert pf.always == frozenset({0, 1})
    assert pf.possible("nothing here") == {0, 1}


def test_text_re2_cannot_read_falls_back_to_the_trigger_path(detector: Detector) -> None:
    text = "you are a stupid idiot \udc80 and I know where you live"
    assert detector.prefilter.possible(detector.normalizer.normalize(text).text) is None
    m = Message(id="s", text=text)
    assert findings_of(detector.detect(m)) == findings_of(detector.detect_exhaustive(m))
    assert detector.detect(m)


def test_when_re2_gives_up_the_engine_still_finds_everything(detector: Detector,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # RE2 reports a search it abandoned (its automaton out of memory) as "no match"; the sentinel
    # pattern that matches every text is then missing, and the engine must not trust the result.
    for rs in detector.prefilter._sets:
        monkeypatch.setattr(rs, "_match", lambda data: [])  # the raw set's answer: nothing matched
    m = Message(id="g", text="Fire that agent now, she is a useless idiot. 土下座しろ")
    assert detector.prefilter.possible(m.text) is None
    fast = findings_of(detector.detect(m))
    assert fast and fast == findings_of(detector.detect_exhaustive(m))


def test_without_re2_the_engine_uses_its_triggers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PF, "_re2", None)
    pf = PF.Prefilter([(r"idiot", True)])
    assert not pf.available and pf.possible("idiot") is None


def test_japanese_only_patterns_are_not_read_over_ascii_text() -> None:
    assert PF.needs_wide("お前(?:は)?バカ") and PF.needs_wide("(?:死ね|殺す)")
    assert not PF.needs_wide("(?:殺す|kill)") and not PF.needs_wide("(?:お前)?")
    pf = PF.Prefilter([("(?:死ね|殺す)", False), ("(?:殺す|kill)", False)])
    assert pf.possible("i will kill") == {1}
    assert pf.possible("殺すぞ") == {0, 1}
