"""scripts/train_model.py runs end to end, is deterministic, and eval leaves its rows out."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.evaluate import Row, exclude_trained, text_digest

ROOT = Path(__file__).resolve().parents[2]

from tests.conftest import require


@pytest.fixture(autouse=True)
def _scikit_learn() -> None:
    """Training needs scikit-learn (the 'train' extra, also in 'test'): a failure in CI, not a skip."""
    require(importlib.util.find_spec("sklearn") is not None, "scikit-learn (pip install -e '.[train]')")


def _train_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("train_model", ROOT / "scripts" / "train_model.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules.setdefault("train_model", module)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


ABUSE = ["fuck you bot", "you stupid bitch", "shut up idiot", "ur a useless piece of shit",
         "suck my dick", "you are dumb", "go to hell moron", "eat shit loser"]
FINE = ["what city are you flying from", "thank you for the help", "i fly to berlin tomorrow",
        "can you book economy", "hello there", "yes please", "how are you today", "no thanks bye"]


def _fixture(tmp_path: Path) -> list[str]:
    conv = tmp_path / "convabuse_train_valid.jsonl"
    with conv.open("w") as fh:
        for i, text in enumerate(ABUSE * 3 + FINE * 3):
            fh.write(json.dumps({"id": f"{i}.0", "text": text, "abusive": int(text in ABUSE),
                                 "meta": {"conv_id": f"{i}.0"}}) + "\n")
    dav = tmp_path / "davidson_labeled_sample6000.jsonl"
    with dav.open("w") as fh:
        for i, text in enumerate(["that bitch lies", "nice weather today", "hoes ain't loyal", "good game"]):
            fh.write(json.dumps({"id": str(i), "text": text, "abusive": int(i % 2 == 0),
                                 "labels": {"hate_speech": 0, "offensive_language": int(i % 2 == 0)}}) + "\n")
    ours = tmp_path / "ours.jsonl"
    with ours.open("w") as fh:
        fh.write(json.dumps({"id": "o1", "text": "You are a worthless idiot.", "labels": ["verbal_abuse"]}) + "\n")
        fh.write(json.dumps({"id": "o2", "text": "Please refund my order.", "labels": []}) + "\n")
        fh.write(json.dumps({"id": "o3", "text": "Fire her now.", "labels": ["staff_punishment_demand"]}) + "\n")
    return ["--convabuse", str(conv), "--davidson", str(dav), "--ours", str(ours), "--folds", "2", "--min-df", "1"]


def test_training_runs_end_to_end_and_is_deterministic(tmp_path: Path) -> None:
    args = _fixture(tmp_path)
    train = _train_module()
    assert train.main(args + ["--out", str(tmp_path / "a.json")]) == 0
    assert train.main(args + ["--out", str(tmp_path / "b.json")]) == 0
    a = (tmp_path / "a.json").read_bytes()
    assert a == (tmp_path / "b.json").read_bytes()
    model = json.loads(a)
    manifest = model["manifest"]
    assert 0.3 <= model["threshold"] < 1.0
    ids = manifest["training_ids"]
    conv_ids = set(ids["convabuse_train_valid.jsonl"])
    # Only the hash-selected half of the conversations, and it is the split rule's half.
    expected = {f"{i}.0" for i in range(48) if train.convabuse_in_training(f"{i}.0")}
    assert conv_ids == expected and 0 < len(conv_ids) < 48
    assert set(ids["ours.jsonl"]) == {"o1", "o2"}  # a demand-only row is not abusive wording
    assert ids["ours.jsonl"]["o1"] == text_digest("You are a worthless idiot.")
    assert any(s["license"] == "CC BY 4.0" for s in manifest["sources"])
    assert model["weights"]["bitch"] > 0 > model["weights"].get("thank", -1)


def test_eval_leaves_out_the_rows_a_model_was_trained_on() -> None:
    rows = [Row("1", "fuck you", True, None), Row("2", "hello", False, None), Row("3", "other", False, None)]
    trained = {"set.jsonl": {"1": text_digest("fuck you"), "3": text_digest("a different text")}}
    kept, excluded = exclude_trained(rows, "set.jsonl", trained)
    assert [r.id for r in kept] == ["2", "3"] and excluded == 1  # row 3's id matches, its text does not
    assert exclude_trained(rows, "other.jsonl", trained) == (rows, 0)


def test_eval_command_reports_how_many_rows_it_left_out(tmp_path: Path) -> None:
    from gateway.detect import Detector

    manifest = Detector.load().model.model.manifest  # type: ignore[union-attr]
    trained = manifest["training_ids"]["en.jsonl"]
    src = ROOT / "tests" / "data" / "labeled" / "en.jsonl"
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    copy = tmp_path / "en.jsonl"
    copy.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    n_trained = sum(1 for r in rows if trained.get(r["id"]) == text_digest(r["text"]))
    assert 0 < n_trained < len(rows)
    cmd = [str(Path(sys.executable).parent / "harassment-gateway"), "eval", "--json", str(copy)]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert out["excluded_training_rows"] == n_trained and out["rows"] == len(rows) - n_trained
    out = json.loads(subprocess.run(cmd + ["--include-trained"], capture_output=True, text=True,
                                    check=True, cwd=ROOT).stdout)
    assert out["excluded_training_rows"] == 0 and out["rows"] == len(rows)
