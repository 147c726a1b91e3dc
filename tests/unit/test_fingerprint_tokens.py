"""The contact stage's batch fast paths in gateway.contact.fingerprint against the general ones:
``comparable_tokens`` (words found once), ``is_cjk``'s count, ``bands_for_texts`` with the
caller's tokens and with new tokens looked up in the small dict of them."""

from __future__ import annotations

import random
import re

from gateway.contact.fingerprint import (
    _CJK,
    _HAS_CJK,
    Comparable,
    MinHasher,
    _cjk_tokens,
    comparable_core,
    comparable_tokens,
    is_cjk,
    tokens,
)

# Latin, digits, separators and spaces of every kind, accented letters, full-width and half-width
# forms (NFKC changes them), kana, kanji, the prolonged sound mark, Japanese punctuation and a
# character of the Japanese ranges that is no letter (・), and a ligature.
ALPHABET = "abcXYZ019 _-.,!?'\t\n\x0b\x0c\x1f\x7f~@#é€ﬁーお客様注文届きません。、・ｶﾅ１２Ａ"


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        alphabet = ALPHABET if i % 3 else ALPHABET[:28]
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))))
    return out


FIXED = [
    "",
    "Hello",
    "where is my order 1234?",
    "ご注文の商品が届きません。注文番号はAB-123です",
    "注文番号 abc def 123 と ｶﾀｶﾅ",
    "すみません1月3日の夕方に電話しました",
    "café crème ﬁnal — résumé",
    "mixed English text with one kanji 様 inside it",
    "お客様" * 200 + " word " * 3,
]


def _is_cjk_by_findall(text: str) -> bool:
    if text.isascii():
        return False
    sample = text[:400]
    if not sample or not _HAS_CJK.search(sample):
        return False
    return len(_HAS_CJK.findall(sample)) * 3 >= len(sample.replace(" ", ""))


def test_comparable_tokens_equal_of_core_and_tokens() -> None:
    for text in FIXED + _texts(3, 4000):
        prepared, toks = comparable_tokens(text)
        assert prepared == Comparable.of_core(text) == Comparable.of(comparable_core(text)), repr(text)
        assert type(prepared) is Comparable
        assert toks == tokens(prepared.text), repr(text)


def test_cjk_tokens_equal_the_token_regex_on_word_characters() -> None:
    rng = random.Random(8)
    letters = "abz09éﬁーお客様注文ｶ１"
    word = re.compile(r"[^\W_]+")
    for _ in range(4000):
        text = "".join(word.findall("".join(rng.choice(letters) for _ in range(rng.randrange(0, 30)))))
        assert _cjk_tokens(text) == tokens(text), repr(text)


def test_is_cjk_counts_as_the_findall_did() -> None:
    rng = random.Random(4)
    kana = "".join(chr(c) for c in range(0x3040, 0x3100, 7))
    for text in FIXED + _texts(5, 3000):
        assert is_cjk(text) == _is_cjk_by_findall(text), repr(text)
    for _ in range(2000):  # around the one-in-three line, and past the 400-character sample
        n = rng.randrange(0, 500)
        text = "".join(rng.choice(kana) if rng.random() < rng.random() else rng.choice("ab é ") for _ in range(n))
        assert is_cjk(text) == _is_cjk_by_findall(text), repr(text)
    assert re.compile(rf"[{_CJK}]").pattern == _HAS_CJK.pattern


def test_bands_for_texts_with_given_tokens_equal_bands_for() -> None:
    texts = FIXED + _texts(6, 600) + ["the same demand again and again"] * 3
    prepared = [comparable_tokens(t) for t in texts]
    comps = [p.text for p, _ in prepared]
    given = MinHasher().bands_for_texts(comps, [toks for _, toks in prepared])
    alone = MinHasher()
    for text, keys in zip(comps, given):
        expected = alone.bands_for(text)
        assert (keys is None) == (expected is None), repr(text)
        if keys is not None:
            assert keys.tolist() == expected.tolist(), repr(text)


def test_bands_for_texts_with_new_tokens_in_later_batches_equal_bands_for() -> None:
    # Each batch meets some tokens first seen there (looked up in the small dict of new ones)
    # and some cached by an earlier batch.
    hasher, alone = MinHasher(), MinHasher()
    rng = random.Random(12)
    vocabulary = [f"w{i}" for i in range(300)] + list("お客様注文届")
    for _ in range(30):
        batch = [" ".join(rng.choice(vocabulary[: rng.randrange(2, len(vocabulary))]) for _ in range(rng.randrange(0, 12)))
                 for _ in range(rng.randrange(1, 20))]
        for text, keys in zip(batch, hasher.bands_for_texts(batch)):
            expected = alone.bands_for(text)
            assert (keys is None) == (expected is None)
            if keys is not None:
                assert keys.tolist() == expected.tolist(), repr(text)


def test_bands_cache_keeps_the_newest_texts_as_one_by_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gateway.contact.fingerprint as fp

    monkeypatch.setattr(fp, "BANDS_CACHE", 7)
    hasher = MinHasher()
    expected: dict[str, list[int]] = {}  # the cache as inserting each new text in turn left it
    rng = random.Random(30)
    for _ in range(60):
        batch = [f"text {rng.randrange(40)} and more words {rng.randrange(3)}" for _ in range(rng.randrange(1, 12))]
        batch += ["one"] * rng.randrange(2)  # (fewer tokens than a shingle: cached by ``bands_for``)
        before = dict(hasher._bands_cache)
        got = hasher.bands_for_texts(batch)
        new = [text for text in dict.fromkeys(batch) if text not in before]
        # (the texts with fewer tokens than a shingle go through ``bands_for`` first, each
        # cached as it is met; then the others, in the order met)
        for text in [t for t in new if len(tokens(t)) < 2] + [t for t in new if len(tokens(t)) >= 2]:
            if len(expected) >= fp.BANDS_CACHE:
                del expected[next(iter(expected))]
            expected[text] = []
        assert list(hasher._bands_cache) == list(expected)
        for text, keys in zip(batch, got):
            assert keys.tolist() == MinHasher().bands_for(text).tolist()


def test_core_span_of_one_line_equals_the_line_by_line_check() -> None:
    from gateway.contact.fingerprint import _core_span_lines, core_span
    from gateway.contact.settings import ContactSettings

    ignore = ContactSettings.defaults().ignore_lines
    rng = random.Random(41)
    pieces = ["Hello", "hello there!", "Thanks", "Regards, Tom", "> quoted", ">", "where is my order", "よろしくお願いします",
              "お世話になっております", " ", "\t", "\u3000", "\x1f", "é", "x"]
    breaks = ["", "\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x85", "\u2028"]
    texts = ["", " ", "\n", "Hello!", "  Thanks  \n", "> only quoted", "where is my order?\r\n"]
    for _ in range(4000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 4)))
        texts.append(rng.choice(["", " ", "  \t"]) + body + rng.choice(["", " ", "\t "]) + rng.choice(breaks))
    for text in texts:
        lines = text.splitlines(keepends=True)
        for patterns in (ignore, ()):
            assert core_span(text, patterns) == _core_span_lines(text, lines, patterns), repr(text)
    # (more lines: the line by line check itself)
    assert core_span("Hello Ann,\nwhere is my order?\nRegards,\nTom", ignore) == (11, 29)
