"""``harassment-gateway check FILE...``: read raw messages (.eml, or ``-`` for stdin) and show what
the gateway makes of each: sender key, thread key, language, decoder, clean text, warnings, and the
findings with their evidence, the policy's tags and actions.

``--json`` prints one JSON object per file (JSON Lines): ``file``, ``id``, ``sender``, ``thread``,
``lang``, ``decoder``, ``text``, ``warnings``, ``categories``, ``tags``, ``actions`` and more, or
``file`` and ``error`` for a file that could not be read. The other files are still processed; the
exit code is 1 if any file failed.

Files are checked in order through one in-memory pipeline, so several files from one customer show
repeated and duplicate contact as the daemon would see it. Nothing is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from gateway.errors import GatewayError
from gateway.ingest import ingest
from gateway.model import Finding, Message

_CONTEXT = 30


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "check",
        help="analyze raw mail files (.eml) and show findings with evidence",
        description="Read raw RFC 5322 messages and show the clean text, sender, thread, language, "
        "decoder, warnings and findings. '-' reads one message from standard input.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="raw message files (.eml); '-' for stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(func=run)


class _Analyzer:
    """The pipeline when it is installed; until then ingest alone (no findings, no tags)."""

    def __init__(self) -> None:
        self.pipeline: Any = None
        try:
            from gateway.pipeline import Pipeline
        except ImportError as exc:
            if not (exc.name or "").startswith("gateway"):
                raise
            return
        try:
            self.pipeline = Pipeline.create(None)
        except ImportError as exc:  # a stage it wires is not built yet
            if not (exc.name or "").startswith("gateway"):
                raise

    def analyze(self, message: Message) -> tuple[list[Finding], list[str], list[dict[str, Any]]]:
        if self.pipeline is None:
            return [], [], []
        result = self.pipeline.process(message)
        actions = [a.to_json() for a in result.decision.actions]
        return list(result.findings), list(result.decision.tags), actions


def categories_json(findings: list[Finding]) -> list[dict[str, Any]]:
    """The ``categories`` array exactly as ``classify`` prints it."""
    try:
        from gateway.cli.classify import categories_json as shared
    except ImportError:
        return [
            {"name": f.category, "severity": f.severity.label, "score": round(f.score, 4),
             "evidence": [e.to_json() for e in f.evidence], **({"related": f.related} if f.related else {})}
            for f in findings
        ]
    return shared(findings)


def _read(name: str, stdin: IO[bytes]) -> bytes:
    if name == "-":
        return stdin.read()
    with open(name, "rb") as fh:
        return fh.read()


def _record(name: str, message: Message, findings: list[Finding], tags: list[str],
            actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "file": name,
        "id": message.id,
        "sender": message.sender,
        "sender_address": message.sender_address,
        "display_name": message.display_name,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "thread": message.thread,
        "received_at": message.received_at.isoformat() if message.received_at else None,
        "lang": message.lang,
        "decoder": message.decoder,
        "text": message.text,
        "quoted": message.quoted,
        "attachments": [{"name": a.name, "content_type": a.content_type, "size": a.size}
                        for a in message.attachments],
        "warnings": message.warnings,
        "categories": categories_json(findings),
        "tags": tags,
        "actions": actions,
    }


def _snippet(text: str, start: int, end: int) -> str:
    """The evidence with some context, marked »like this«, on one line."""
    left = max(0, start - _CONTEXT)
    right = min(len(text), end + _CONTEXT)
    out = ("…" if left else "") + text[left:start] + "»" + text[start:end] + "«" + text[end:right]
    out += "…" if right < len(text) else ""
    return " ".join(out.split())


def _human(record: dict[str, Any], message: Message, findings: list[Finding], out: IO[str]) -> None:
    who = record["sender"] or "(unknown)"
    if record["display_name"]:
        who += f" ({record['display_name']})"
    quoted = len(record["quoted"])
    lines = [
        record["file"],
        f"  sender    {who}",
        f"  subject   {record['subject']}",
        f"  thread    {record['thread']}",
        f"  lang      {record['lang']}",
        f"  decoder   {record['decoder'] or '(no text part)'}",
        f"  text      {len(record['text'])} characters"
        + (f" ({quoted} quoted block{'s' if quoted != 1 else ''} removed)" if quoted else ""),
    ]
    if record["attachments"]:
        lines.append("  attached  " + ", ".join(f"{a['name'] or '(unnamed)'} ({a['content_type']}, {a['size']} bytes)"
                                               for a in record["attachments"]))
    lines.append("  warnings  " + ("; ".join(record["warnings"]) if record["warnings"] else "none"))
    if not findings:
        lines.append("  findings  none")
    for n, finding in enumerate(findings):
        label = "  findings  " if n == 0 else "            "
        lines.append(f"{label}{finding.category} ({finding.severity.label}, {finding.score:.2f}) {finding.rule}")
        for ev in finding.evidence:
            lines.append(f"              {_snippet(message.text, ev.start, ev.end)}")
    lines.append("  tags      " + (", ".join(record["tags"]) if record["tags"] else "none"))
    if record["actions"]:
        lines.append("  actions   " + ", ".join(a.get("type", "?") for a in record["actions"]))
    print("\n".join(lines), file=out)


def check_files(names: list[str], *, as_json: bool, out: IO[str], err: IO[str], stdin: IO[bytes]) -> int:
    """Check every file; returns the process exit code (1 when any file failed)."""
    analyzer = _Analyzer()
    failed = 0
    for n, name in enumerate(names):
        try:
            raw = _read(name, stdin)
            message = ingest(raw, source="cli")
            findings, tags, actions = analyzer.analyze(message)
        except OSError as exc:
            failed += 1
            _fail(name, f"cannot read: {exc.strerror or exc}", as_json, out, err)
            continue
        except GatewayError as exc:
            failed += 1
            _fail(name, str(exc), as_json, out, err)
            continue
        record = _record(name, message, findings, tags, actions)
        if as_json:
            print(json.dumps(record, ensure_ascii=False), file=out)
        else:
            if n:
                print(file=out)
            _human(record, message, findings, out)
    out.flush()
    return 1 if failed else 0


def _fail(name: str, reason: str, as_json: bool, out: IO[str], err: IO[str]) -> None:
    if as_json:
        print(json.dumps({"file": name, "error": reason}, ensure_ascii=False), file=out)
    print(f"{name}: error: {reason}", file=err)


def _utf8(stream: IO[str]) -> IO[str]:
    """Customer text is any script: never fail on a console configured for ASCII or Latin-1."""
    encoding = (getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8")  # type: ignore[attr-defined]
    return stream


def run(args: argparse.Namespace) -> int:
    return check_files(args.files, as_json=args.json, out=_utf8(sys.stdout), err=_utf8(sys.stderr),
                       stdin=sys.stdin.buffer)
