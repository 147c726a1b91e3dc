"""The independent evaluation set (tests/data/eval/) stays well-formed and balanced.

The set measures detection on text the rules were not written from, so its shape matters: every
row parses, ids are unique, labels use only the detection category names from DESIGN.md, every
category has enough positives in each language to give a recall figure, and a large share of rows
are legitimate messages so that false accusations show up in the figures.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from gateway.model import CATEGORIES

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "eval"
FILES = {"ja": EVAL_DIR / "independent_ja.jsonl", "en": EVAL_DIR / "independent_en.jsonl"}
#: Contact categories need a customer's history, so single messages cannot carry them.
DETECTION_CATEGORIES = frozenset(CATEGORIES) - {"persistent_contact", "duplicate_contact"}
MIN_POSITIVES_PER_CATEGORY = 8
MIN_NEGATIVE_SHARE = 0.40
FIELDS = {"id", "text", "labels", "note"}


def load_rows(path: Path) -> list[dict]:
    """Parse one eval file, failing with the line number of the first bad line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name} line {number}: blank line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{path.name} line {number}: not JSON ({exc})")
        assert isinstance(row, dict), f"{path.name} line {number}: not a JSON object"
        rows.append(row)
    return rows


@pytest.fixture(scope="module", params=sorted(FILES))
def lang_rows(request: pytest.FixtureRequest) -> tuple[str, list[dict]]:
    return request.param, load_rows(FILES[request.param])


def test_every_row_has_exactly_the_documented_fields(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    assert rows, f"{lang} set is empty"
    for row in rows:
        assert set(row) == FIELDS, f"{row.get('id')}: fields {sorted(row)}"
        assert isinstance(row["text"], str) and row["text"].strip(), f"{row['id']}: empty text"
        assert isinstance(row["note"], str) and row["note"].strip(), f"{row['id']}: empty note"
        assert "\n" not in row["note"], f"{row['id']}: note is more than one line"
        assert isinstance(row["labels"], list), f"{row['id']}: labels is not a list"


def test_ids_are_unique_and_carry_the_language(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    ids = [row["id"] for row in rows]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    bad = [i for i in ids if not re.fullmatch(rf"{lang}-\d{{4}}", i)]
    assert not bad, f"ids not of the form {lang}-NNNN: {bad}"


def test_ids_do_not_collide_across_languages() -> None:
    ja = {row["id"] for row in load_rows(FILES["ja"])}
    en = {row["id"] for row in load_rows(FILES["en"])}
    assert not ja & en


def test_texts_are_not_repeated(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    texts = Counter(row["text"].strip() for row in rows)
    assert not [t for t, n in texts.items() if n > 1], f"{lang}: repeated texts"


def test_labels_are_detection_category_names_only(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    for row in rows:
        labels = row["labels"]
        unknown = set(labels) - DETECTION_CATEGORIES
        assert not unknown, f"{row['id']}: labels not in DESIGN.md detection categories: {unknown}"
        assert len(labels) == len(set(labels)), f"{row['id']}: a label is repeated"


def test_every_category_has_enough_positives(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    counts = Counter(label for row in rows for label in row["labels"])
    short = {
        name: counts[name]
        for name in sorted(DETECTION_CATEGORIES)
        if counts[name] < MIN_POSITIVES_PER_CATEGORY
    }
    assert not short, f"{lang}: categories with fewer than {MIN_POSITIVES_PER_CATEGORY} positives: {short}"


def test_legitimate_messages_are_a_large_share(lang_rows: tuple[str, list[dict]]) -> None:
    lang, rows = lang_rows
    negatives = sum(1 for row in rows if not row["labels"])
    assert negatives / len(rows) >= MIN_NEGATIVE_SHARE, f"{lang}: {negatives}/{len(rows)} negatives"


def test_japanese_set_is_japanese_and_english_set_is_english() -> None:
    has_kana_or_kanji = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uff66-\uff9f]")
    ja_rows = load_rows(FILES["ja"])
    en_rows = load_rows(FILES["en"])
    assert all(has_kana_or_kanji.search(row["text"]) for row in ja_rows)
    assert not [row["id"] for row in en_rows if has_kana_or_kanji.search(row["text"])]
