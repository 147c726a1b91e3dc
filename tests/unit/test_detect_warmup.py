"""Warm-up at start: Detector.warm runs the prefilter over texts made from what ships with the
project, changes no finding and runs once (the daemon does not warm: see the README); the
model's word count check turns long texts away before the stretched-letter search."""

from __future__ import annotations

import pytest

from gateway.detect import Detector
from gateway.detect.model import _tokenize, tokenize
from gateway.detect.normalize import normalize
from gateway.detect.warmup import sample_texts, warmup_texts
from gateway.model import Message


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load()


def test_warmup_texts_are_the_same_in_every_call_and_cover_both_languages(detector: Detector) -> None:
    first = warmup_texts(detector.lexicon)
    assert first == warmup_texts(detector.lexicon)
    samples = sample_texts()
    assert len(samples) >= 10 and first[: len(samples)] == samples
    generated = first[len(samples):]
    assert sum(t.isascii() for t in generated) >= 900
    assert sum(not t.isascii() for t in generated) >= 150
    assert warmup_texts(detector.lexicon, seed=2) != first
    # The lexicon's terms appear in context: most English slot terms occur somewhere.
    terms = {t for (lang, _), slot in detector.lexicon.slots.items() if lang == "en" for t in slot.terms}
    joined = "\n".join(generated).lower()
    assert sum(t in joined for t in terms) > 0.8 * len(terms)


def test_warm_changes_no_finding_and_runs_the_texts_once(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["you are a useless idiot and I will find where you live", "Thanks, the refund arrived.",
             "お前は本当に無能だな。上司を出せ。", "i d i o t, you f*cking moron", "今すぐ土下座して謝りに来い。"]
    messages = [Message(id=f"m{i}", text=t, lang="ja" if not t.isascii() else "en") for i, t in enumerate(texts)]
    before = [repr(detector.detect(m)) for m in messages]
    calls: list[int] = []
    real = detector._plan

    def counting(text: str):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(text)

    monkeypatch.setattr(detector, "_plan", counting)
    monkeypatch.setattr(detector, "_warmed", False, raising=False)
    count = detector.warm()
    assert count == sum(len(rule.patterns) for rule in detector.rules)
    assert len(calls) == len(warmup_texts(detector.lexicon))
    detector.warm()  # a second call does not run the texts again
    assert len(calls) == len(warmup_texts(detector.lexicon))
    monkeypatch.undo()
    assert [repr(detector.detect(m)) for m in messages] == before
    assert [repr(detector.detect_exhaustive(m)) for m in messages] == before


def test_warm_without_texts_leaves_them_for_later(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector, "_warmed", False, raising=False)
    monkeypatch.setattr(detector, "_plan", lambda text: pytest.fail("warm(texts=False) ran a text"))
    detector.warm(texts=False)
    assert detector._warmed is False


@pytest.mark.parametrize("text", [
    "you are sooo stupiiid", "fuck you!!! idiot. go away", "@bob you're a looser http://x.y/z ok",
    "one two three four five six seven eight", "one two three four five six seven eight nine",
    "it's soooo baaad. really", "", "...", "a. b! c? d\ne;f",
])
@pytest.mark.parametrize("limit", [None, 3, 8])
def test_tokenize_with_a_limit_gives_the_same_sentences_or_none(text: str, limit: int | None) -> None:
    norm = normalize(text)
    full = tokenize(norm)
    words = sum(len(s) for s in full)
    got = _tokenize(norm, limit)
    if limit is not None and words > limit:
        assert got is None
    else:
        assert got == full
    assert tokenize(text) == _tokenize(text, None)
