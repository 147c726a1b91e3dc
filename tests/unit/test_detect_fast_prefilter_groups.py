"""The English patterns that spread (a partial match running on over any words) get automata of
their own, in smaller groups; and ``warm`` runs each pattern's own automaton once over a sample
text. Both only change how fast detection is: which patterns the prefilter names, and every
finding, must be what they were with one kind of group and no samples."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector
from gateway.detect import prefilter as PF
from gateway.model import Message

pytest.importorskip("re2")

EDGE = r"(?<![\w*])(?:{})(?![\w*])"
PATTERNS = [
    EDGE.format(r"(?:you|u)[^\w*]+(?:\w+[^\w*]+){0,3}idiot"),  # spreads
    EDGE.format(r"(?:i'?ll|i[^\w*]+will)[^\w*]+find[^\w*]+(?:\w+[^\w*]+)?(?:you|u)"),  # spreads
    EDGE.format(r"rather[^\w*]+\w+[^\w*]+(?:[\w']+[^\w*]+){0,3}than[^\w*]+die"),  # spreads
    EDGE.format(r"f[u*]+[c*]+[k*]+[^\w*]+(?:off|you)"),
    EDGE.format(r"(?:stupid[^\w*]+)?(?:idiot|moron)s?"),
    EDGE.format(r"get[^\w*]+me[^\w*]+(?:your|the)[^\w*]+(?:manager|boss)"),
    EDGE.format(r"kill+[^\w*]+(?:you|u)"),
    EDGE.format(r"^\W*(?:idiot|moron)\W*$"),
    EDGE.format(r"(?:die|rot)[^\w*]+in[^\w*]+hell"),
]
WORDS = ["you", "u", "idiot", "moron", "stupid", "i'll", "i", "will", "find", "rather", "than", "die",
         "fuck", "f*ck", "off", "get", "me", "your", "the", "manager", "kill", "killl", "rot", "in",
         "hell", "order", "refund", "please", "@", "!", ".", ",", "\n", "土下座", "x"]


def test_spreading_patterns_are_told_apart() -> None:
    spreading = [PF.spreads(PF.sre_parse.parse(p)) for p in PATTERNS]
    assert spreading == [True, True, True, False, False, False, False, False, False]
    assert PF.spreads(PF.sre_parse.parse(r"a.{0,8}b")) and PF.spreads(PF.sre_parse.parse(r"a[^.!?]*b"))
    assert not PF.spreads(PF.sre_parse.parse(r"a[^\w*]+b")) and not PF.spreads(PF.sre_parse.parse(r"a\w?b"))


def _one_group(monkeypatch: pytest.MonkeyPatch) -> PF.Prefilter:
    """The same patterns with every English one in one automaton (the general form)."""
    with monkeypatch.context() as m:
        m.setattr(PF, "spreads", lambda tree: False)
        m.setattr(PF, "GROUP", 1000)
        m.setattr(PF, "ASCII_GROUP", 1000)
        return PF.Prefilter([(p, True) for p in PATTERNS])


@pytest.fixture(scope="module")
def prefilters() -> tuple[PF.Prefilter, PF.Prefilter]:
    mp = pytest.MonkeyPatch()
    try:
        general = _one_group(mp)
        mp.setattr(PF, "SPREAD_GROUP", 1)  # each spreading pattern alone: several automata
        mp.setattr(PF, "ASCII_GROUP", 2)
        grouped = PF.Prefilter([(p, True) for p in PATTERNS])
    finally:
        mp.undo()
    return general, grouped


def test_the_groups_are_as_configured(prefilters: tuple[PF.Prefilter, PF.Prefilter]) -> None:
    general, grouped = prefilters
    assert len(general._sets) == 1
    assert len(grouped._sets) == 3 + 3  # 3 spreading alone, 6 others by two
    spread = {0, 1, 2}
    for rs in grouped._sets:
        members = set(rs.index[1:])
        assert members <= spread or not members & spread


FIXED = [
    "you are such an idiot", "you, my dear friend, idiot", "u stupid moron", "i'll find you",
    "i will find out where u live", "i'd rather eat glass than die", "f*ck off", "fuuuck you",
    "get me the manager now", "killl u", "idiot", "  moron!  ", "go rot in hell", "order 12345",
    "土下座しろ you idiot", "", "you you you idiot idiot",
]


@pytest.mark.parametrize("text", FIXED)
def test_grouped_sets_name_what_one_set_names(prefilters: tuple[PF.Prefilter, PF.Prefilter], text: str) -> None:
    general, grouped = prefilters
    assert grouped.possible(text) == general.possible(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=14), st.sampled_from([" ", "  ", " - ", ", "]))
def test_grouped_sets_name_what_one_set_names_generated(prefilters: tuple[PF.Prefilter, PF.Prefilter],
                                                         words: list[str], sep: str) -> None:
    general, grouped = prefilters
    text = sep.join(words)
    assert grouped.possible(text) == general.possible(text)


def test_samples_are_matched_by_the_patterns_they_were_made_for() -> None:
    for p in PATTERNS:
        sample = PF._sample_of(p)
        assert sample is not None and sample.startswith(b" ") and sample.endswith(b" ")
        assert re.search(p, sample.decode("ascii")), (p, sample)


def test_shipped_patterns_have_samples_their_looser_forms_match() -> None:
    detector = Detector.load()
    pf = PF.Prefilter([(p, spec.lang == "en") for spec in detector.lexicon.rules for p in spec.patterns])
    samples = {n: s for n, s in pf._samples.items() if s is not None}
    matched = 0
    for n, sample in samples.items():
        single = pf._compile_single(n)
        if single is not False and single.Match(PF._UNANCHORED, sample, 0, len(sample))[0][0] >= 0:
            matched += 1
    assert matched >= 0.9 * len(pf._loose)
    pf.warm()
    assert not pf._samples  # each used once, then dropped


def test_warm_changes_no_finding() -> None:
    cold = Detector(Detector.load().lexicon)
    cold.model = Detector.load().model
    texts = FIXED + ["You are a useless idiot and I know where you live.", "Fire that agent, she is a stupid cow.",
                     "お前は本当に無能だな。土下座しろ。", "I'll find out where u live, rather die than wait"]
    before = [cold.detect(Message(id=str(i), text=t)) for i, t in enumerate(texts)]
    cold.warm()
    after = [cold.detect(Message(id=str(i), text=t)) for i, t in enumerate(texts)]
    assert before == after
    assert any(before)


def _every_set(pf: PF.Prefilter, text: str) -> set[int]:
    """The patterns every automaton names, each run over the text whatever it holds."""
    narrow = PF.ascii_copy(text)
    out: set[int] = set(pf.always)
    for rs in pf._sets:
        assert rs.match(PF.PAD + narrow + PF.PAD if rs.ascii else text.encode("utf-8"), out)
    return out


def test_english_patterns_need_a_letter() -> None:
    assert all(PF._lettered(p) for p in PATTERNS)
    assert PF._lettered(r"[a*]+\d") and PF._lettered(r"(?:ab|c)") and PF._lettered(r"\d{0,2}[x-z]")
    assert not PF._lettered(r"(?:ab|\d)") and not PF._lettered(r"[a-z0-9]+") and not PF._lettered(r"a?\W")
    assert not PF._lettered(r"(?=abc)\d")  # a lookaround's letters are not part of the match


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["土下座", "しろ", "。", "123", "!", " ", "x", "*", "ｘ", "@"]), max_size=10))
def test_a_japanese_text_without_letters_skips_only_what_cannot_match(
        prefilters: tuple[PF.Prefilter, PF.Prefilter], words: list[str]) -> None:
    general, grouped = prefilters
    text = "".join(words)
    for pf in (general, grouped):
        assert pf.possible(text) == _every_set(pf, text)


def test_shipped_english_sets_are_skipped_for_japanese_text_without_letters() -> None:
    pf = Detector.load().prefilter
    assert all(rs.lettered for rs in pf._sets if rs.ascii)
    for text in ["お前は本当に無能だな。土下座しろ。", "注文番号123456の件です。", "ネットに晒すぞ！！", "you バカ"]:
        assert pf.possible(text) == _every_set(pf, text)
