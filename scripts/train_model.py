"""Train the English abuse model shipped in ``rules/models/`` (see ``gateway/detect/model.py``).

Deterministic: the same data and arguments write the same file. Needs scikit-learn (the ``train``
extra: ``pip install -e '.[train]'``); the gateway itself reads the result with no such dependency.

Training data, all under licenses that allow it:

* ConvAbuse (CC BY 4.0): only the conversations whose id falls in the training half by a hash
  (``sha256("convabuse:" + conv_id)``, first byte even). The other half is never read here and is
  what ``eval`` measures the model on.
* Davidson et al. 2017 (MIT): every row, weighted to ``--davidson-share`` of ConvAbuse's total;
  ``abusive`` = hate speech or offensive language (``--davidson-label hate`` keeps only hate
  speech and neither).
* Our own English development sets (``tests/data/labeled/en.jsonl``, ``dev2_en.jsonl``): rows
  labeled verbal_abuse, discrimination or sexual_harassment are positive, rows with no label
  negative; rows with only other categories (a demand, a threat) are left out, since the model
  reads abusive wording, not those acts.

The threshold is chosen by cross-validation on the training rows only (grouped by conversation),
scoring out-of-fold rows the way the gateway does (messages of at most ``--max-words`` words): the
one that maximizes F1 of the rules and the model together on ConvAbuse's training half.
The output file carries a manifest: sources, licenses, the split rule, hyperparameters, the
threshold, and the ids of every training row, which ``eval`` uses to leave those rows out.

    python scripts/train_model.py                     # writes rules/models/en-abuse-1.json
    python scripts/train_model.py --out /tmp/m.json --convabuse F --davidson F --ours F ...
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.evaluate import text_digest  # noqa: E402
from gateway.detect.model import FEATURES_VERSION, MAX_WORDS, AbuseModel, feature_set  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
POSITIVE_CATEGORIES = frozenset({"verbal_abuse", "discrimination", "sexual_harassment"})
SPLIT_RULE = "ConvAbuse row is training iff sha256('convabuse:' + meta.conv_id) first byte is even"


def convabuse_in_training(conv_id: str) -> bool:
    """The split rule: half of ConvAbuse's conversations, by a hash of the conversation id."""
    return hashlib.sha256(("convabuse:" + conv_id).encode("utf-8")).digest()[0] % 2 == 0


@dataclass
class Example:
    source: str  # file name, as eval matches it
    id: str
    text: str
    label: int
    group: str  # rows of one conversation stay in one cross-validation fold
    weight: float = 1.0


def _read(path: Path) -> list[dict]:  # type: ignore[type-arg]
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_examples(convabuse: list[Path], davidson: list[Path], ours: list[Path],
                  davidson_label: str = "hate") -> list[Example]:
    out: list[Example] = []
    for path in convabuse:
        for r in _read(path):
            conv = str(r.get("meta", {}).get("conv_id", r["id"]))
            if convabuse_in_training(conv):
                out.append(Example(path.name, str(r["id"]), r["text"], int(r["abusive"]), "c:" + conv))
    for path in davidson:
        for r in _read(path):
            if davidson_label == "hate":
                hate = int(r.get("labels", {}).get("hate_speech", 0))
                if not hate and int(r["abusive"]):
                    continue  # offensive language only: mostly untargeted profanity, not our abuse
                label = hate
            else:
                label = int(r["abusive"])
            out.append(Example(path.name, str(r["id"]), r["text"], label, "d:" + str(r["id"])))
    for path in ours:
        for r in _read(path):
            if r.get("lang", "en") != "en" or not isinstance(r.get("labels"), list):
                continue
            labels = set(r["labels"])
            if labels & POSITIVE_CATEGORIES:
                label = 1
            elif not labels:
                label = 0
            else:
                continue
            out.append(Example(path.name, str(r["id"]), r["text"], label, "o:" + str(r["id"])))
    return out


def source_weights(examples: list[Example], davidson_share: float, ours_weight: float) -> None:
    """Davidson's rows weigh ``davidson_share`` of ConvAbuse's total in all; ours ``ours_weight`` each."""
    n_conv = sum(1 for e in examples if e.group.startswith("c:"))
    n_dav = sum(1 for e in examples if e.group.startswith("d:"))
    for e in examples:
        if e.group.startswith("d:"):
            e.weight = davidson_share * max(n_conv, 1) / max(n_dav, 1)
        elif e.group.startswith("o:"):
            e.weight = ours_weight


def fit(rows: list[set[str]], labels: list[int], weights: list[float], c: float, min_df: int,
        seed: int) -> tuple[dict[str, float], float]:
    """Logistic regression over binary features seen in at least ``min_df`` rows."""
    from collections import Counter

    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    df = Counter(f for r in rows for f in r)
    vocab = sorted(f for f, n in df.items() if n >= min_df)
    index = {f: i for i, f in enumerate(vocab)}
    indptr, indices = [0], []
    for r in rows:
        indices.extend(sorted(index[f] for f in r if f in index))
        indptr.append(len(indices))
    x = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), len(vocab)))
    clf = LogisticRegression(C=c, solver="liblinear", random_state=seed, max_iter=1000)
    clf.fit(x, np.array(labels), sample_weight=np.array(weights))
    coef = clf.coef_[0]
    weights_out = {vocab[i]: round(float(coef[i]), 4) for i in range(len(vocab)) if abs(coef[i]) >= 0.005}
    return weights_out, round(float(clf.intercept_[0]), 4)


def folds(examples: list[Example], k: int) -> list[int]:
    """A fold per example, by a hash of its group (deterministic, conversation-preserving)."""
    return [int(hashlib.sha256(e.group.encode()).hexdigest(), 16) % k for e in examples]


def choose_threshold(examples: list[Example], rule_flags: list[bool], probs: list[float]) -> tuple[float, float]:
    """The threshold maximizing F1 of (rules or model) on the ConvAbuse training rows."""
    idx = [i for i, e in enumerate(examples) if e.group.startswith("c:")]
    best = (0.0, 0.5)
    for t100 in range(30, 100):
        t = t100 / 100
        tp = fp = fn = 0
        for i in idx:
            pred = rule_flags[i] or probs[i] >= t
            gold = examples[i].label == 1
            tp += pred and gold
            fp += pred and not gold
            fn += gold and not pred
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[0] + 1e-9:
            best = (f1, t)
    return best[1], round(best[0], 4)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--convabuse", type=Path, action="append",
                   default=None, help="ConvAbuse JSONL (default: ../shared/data/convabuse/...)")
    p.add_argument("--davidson", type=Path, action="append", default=None)
    p.add_argument("--ours", type=Path, action="append", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "rules" / "models" / "en-abuse-1.json")
    p.add_argument("--name", default="en-abuse-1")
    p.add_argument("--c", type=float, default=1.0, help="inverse regularization strength")
    p.add_argument("--min-df", type=int, default=2)
    p.add_argument("--davidson-share", type=float, default=1.0)
    p.add_argument("--ours-weight", type=float, default=3.0)
    p.add_argument("--davidson-label", choices=("hate", "abusive"), default="abusive",
                   help="Davidson rows used: hate speech (positive) and neither (negative), or all with abusive")
    p.add_argument("--char-ngrams", default="", metavar="N,M",
                   help="also letter n-grams of these sizes per word (e.g. 3,4); empty: none")
    p.add_argument("--max-words", type=int, default=MAX_WORDS, help="longest message the model judges")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--rules", type=Path, default=None, help="rules directory for folding and the rules' flags")
    args = p.parse_args(argv)
    convabuse = args.convabuse or [DATA / "convabuse" / "convabuse_train_valid.jsonl"]
    davidson = args.davidson or [DATA / "davidson" / "davidson_labeled_sample6000.jsonl"]
    ours = args.ours or [ROOT / "tests/data/labeled/en.jsonl", ROOT / "tests/data/labeled/dev2_en.jsonl"]

    from gateway.detect import Detector
    from gateway.evaluate import is_flagged
    from gateway.model import Message

    # The rules alone: a model already enabled in rules/detect.yaml must not vote in its own threshold.
    detector = copy.copy(Detector.load(args.rules))
    detector.model = None
    examples = load_examples(convabuse, davidson, ours, args.davidson_label)
    if not examples or len({e.label for e in examples}) < 2:
        print("train_model: need positive and negative training rows", file=sys.stderr)
        return 2
    source_weights(examples, args.davidson_share, args.ours_weight)
    norms = [detector.normalizer.normalize(e.text) for e in examples]
    sizes = tuple(int(n) for n in args.char_ngrams.split(",") if n.strip())
    rows = [feature_set(n, sizes) for n in norms]
    labels = [e.label for e in examples]
    weights = [e.weight for e in examples]
    rule_flags = [is_flagged(detector.detect(Message(id=e.id, text=e.text, lang="en"))) for e in examples]

    # Out-of-fold probabilities, scored the way the gateway scores (best sentence naming a person,
    # context applied), for the threshold.
    fold_of = folds(examples, args.folds)
    probs = [0.0] * len(examples)
    factors = detector.settings.factors
    for k in range(args.folds):
        train = [i for i in range(len(examples)) if fold_of[i] != k]
        if len({labels[i] for i in train}) < 2:
            continue
        w, b = fit([rows[i] for i in train], [labels[i] for i in train], [weights[i] for i in train],
                   args.c, args.min_df, args.seed)
        model = AbuseModel(args.name, w, b, 0.5, {}, sizes)
        for i in range(len(examples)):
            if fold_of[i] == k:
                found = model.check(Message(id=examples[i].id, text=examples[i].text, lang="en"),
                                    norms[i], factors, 0.0, args.max_words)
                probs[i] = found[0].score if found else 0.0
    threshold, cv_f1 = choose_threshold(examples, rule_flags, probs)

    w, b = fit(rows, labels, weights, args.c, args.min_df, args.seed)
    by_source: dict[str, dict[str, str]] = {}
    for e in examples:
        by_source.setdefault(e.source, {})[e.id] = text_digest(e.text)
    manifest = {
        "task": "short English messages of abusive language (verbal_abuse): best sentence's probability",
        "sources": [
            {"file": ", ".join(p.name for p in convabuse), "dataset": "ConvAbuse (Cercas Curry et al., EMNLP 2021)",
             "license": "CC BY 4.0", "rows": "training half by conversation", "split_rule": SPLIT_RULE,
             "label": "abusive (majority of annotators)"},
            {"file": ", ".join(p.name for p in davidson), "dataset": "Davidson et al. 2017 (seeded sample)",
             "license": "MIT", "rows": "all" if args.davidson_label == "abusive" else "hate speech and neither",
             "label": "hate_speech or offensive_language" if args.davidson_label == "abusive" else "hate_speech"},
            {"file": ", ".join(p.name for p in ours), "dataset": "harassment-gateway development sets",
             "license": "this project's", "rows": "labeled verbal_abuse/discrimination/sexual_harassment "
             "(positive) or nothing (negative)"},
        ],
        "not_trained_on": ["OLID", "airline_tweets", "complaints_tweets", "hatecheck", "tests/data/eval",
                           "tests/data/labeled/holdout_*", "ConvAbuse's other half"],
        "hyperparameters": {"C": args.c, "min_df": args.min_df, "davidson_share": args.davidson_share,
                            "ours_weight": args.ours_weight, "davidson_label": args.davidson_label,
                            "max_words": args.max_words, "char_ngrams": list(sizes), "folds": args.folds,
                            "seed": args.seed, "solver": "liblinear", "penalty": "l2",
                            "features": "folded words, word pairs and (char_ngrams) letter n-grams per word, binary"},
        "threshold_rule": "maximizes F1 of rules-or-model on ConvAbuse training rows, out-of-fold",
        "cv_f1": cv_f1,
        "rows": len(examples),
        "positives": sum(labels),
        "training_rows": "file name -> row id -> text_digest of its text; eval leaves these rows out",
        "training_ids": {src: dict(sorted(ids.items())) for src, ids in sorted(by_source.items())},
    }
    out = {"name": args.name, "features_version": FEATURES_VERSION, "char_ngrams": list(sizes),
           "threshold": threshold,
           "bias": b, "manifest": manifest, "weights": dict(sorted(w.items()))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(w)} weights, {len(examples)} rows ({sum(labels)} positive), "
          f"threshold {threshold} (cross-validated F1 {cv_f1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
