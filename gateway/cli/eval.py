"""``harassment-gateway eval FILE.jsonl...``: detection quality on labeled data.

Prints, per file, precision/recall/F1 of "flagged" against the gold label, the share of negative
rows flagged, per-category P/R/F1 and confusion (our label form), recall per sub-label (public
sets), and, with ``--by FIELD``, the flagged share per value of a field (``labels.functionality``).

Rows the statistical model was trained on (its manifest names them by file, id and text) are left
out and counted (``excluded_training_rows``), so a figure never includes the model's own training
data; ``--include-trained`` keeps them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.evaluate import Row, evaluate, exclude_trained, format_report, read_rows
from gateway.model import Message


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("eval", help="measure detection on labeled JSON Lines")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl")
    p.add_argument("--by", action="append", default=[], metavar="FIELD",
                   help="also report the flagged share per value of FIELD (dotted, e.g. labels.functionality)")
    p.add_argument("--lang", default=None, help="only rows whose 'lang' field is this")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--show", type=int, default=0, metavar="N", help="print up to N false positives and negatives")
    p.add_argument("--include-trained", action="store_true",
                   help="keep rows the statistical model was trained on (left out by default, "
                        "matched by file name, id and text against the model's manifest)")
    p.add_argument("--rules", metavar="DIR", default=None, help="rules directory (default: the shipped rules/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.detect import Detector

    detector = Detector.load(Path(args.rules) if args.rules else None)

    def detect(row: Row):  # type: ignore[no-untyped-def]
        lang = row.raw.get("lang") if row.raw.get("lang") in ("en", "ja") else "en"
        return detector.detect(Message(id=row.id, text=row.text, lang=lang))

    status = 0
    for name in args.files:
        try:
            rows = read_rows(Path(name))
        except (OSError, ValueError) as exc:
            print(f"harassment-gateway eval: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.lang:
            rows = [r for r in rows if r.raw.get("lang") == args.lang]
        excluded = 0
        if detector.model is not None and not args.include_trained:
            rows, excluded = exclude_trained(rows, Path(name).name,
                                             detector.model.model.manifest.get("training_ids", {}))
        report = evaluate(rows, detect, name=name, by=args.by, show=args.show)
        report.excluded = excluded
        if args.json:
            print(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            print(format_report(report))
    return status
