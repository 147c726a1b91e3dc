"""Case export: one customer's file for legal counsel or the police.

``export_case(db, customer, out_dir)`` writes ``case-<customer>.json`` and ``case-<customer>.html``:
the contact timeline (every message with its time, channel, thread, subject and SHA-256 of the
analyzed text), the findings with their evidence, the decisions (rules that fired and did not),
holds with every transition, drafts, escalations and the audit entries about them, plus the audit
chain's verification result at export time.

The HTML is self-contained: inline CSS, no scripts, no external fetches (fonts, images, links to
resources); every value from a message is escaped. Evidence is shown unmasked — this file is for
the people who must judge it — with the evidence spans highlighted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from gateway import __version__
from gateway.audit import AuditLog, iso, utcnow
from gateway.drafts import DraftStore
from gateway.effects import DecisionLog, EscalationStore
from gateway.errors import GatewayError
from gateway.holds import HoldStore
from gateway.store.db import Database


class CaseError(GatewayError):
    """The case cannot be exported (unknown customer, unwritable directory)."""


@dataclass(frozen=True)
class CaseFiles:
    json_path: Path
    html_path: Path
    json_sha256: str
    html_sha256: str
    messages: int


def build_case(db: Database, customer: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the store knows about ``customer`` (any of their linked keys), as plain JSON data."""
    from gateway.store.messages import SqliteMessageStore

    store = SqliteMessageStore(db)
    canonical = store.resolve_customer(customer)
    keys = store.customer_keys(customer)
    decisions_log = DecisionLog(db)
    audit = AuditLog(db)
    holds_store = HoldStore(db, audit)
    drafts_store = DraftStore(db, audit)
    escalations_store = EscalationStore(db, audit)

    decisions = {d.message_id: d for k in keys for d in decisions_log.for_customer(k)}
    stored = {m.id: m for m in store.customer_messages(customer)}
    if not decisions and not stored and not any(holds_store.for_customer(k) for k in keys):
        raise CaseError(f"no messages, decisions or holds for customer {customer!r} in {db.path}")

    from gateway.disputes import Disputes

    disputed: dict[str, list[dict[str, Any]]] = {}
    for dispute in Disputes(db).list(customer):
        disputed.setdefault(dispute.message_id, []).append(dispute.to_json())
    messages: list[dict[str, Any]] = []
    for mid in set(decisions) | set(stored):
        d = decisions.get(mid)
        s = stored.get(mid)
        findings = [f.to_json() for f in (d.findings if d else s.findings if s else [])]
        text = s.text if s else None
        received = (d.received_at if d and d.received_at else s.received_at if s else None)
        messages.append({
            "message_id": mid,
            "received_at": iso(received) if received else None,
            "source": (d.source if d else s.source if s else ""),
            "customer_key": (s.customer if s else d.customer if d else ""),
            "sender_address": d.sender_address if d else "",
            "thread": (d.thread if d else s.thread if s else ""),
            "subject": (d.subject if d else (s.subject or "") if s else ""),
            "lang": (d.lang if d else s.lang if s else ""),
            "text": text,
            "text_purged": s is not None and text is None,
            "text_sha256": d.text_sha256 if d else (hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""),
            "content_hash": (d.content_hash if d and d.content_hash else s.content_hash if s else ""),
            "findings": findings,
            "disputes": disputed.get(mid, []),
            "decision": d.decision if d else None,
            "effects": d.report.to_json() if d else None,
        })
    messages.sort(key=lambda m: (m["received_at"] or "", m["message_id"]))

    holds = [h.to_json() for k in keys for h in holds_store.for_customer(k)]
    drafts = [d.to_json() for k in keys for d in drafts_store.for_customer(k)]
    escalations = [e.to_json() for k in keys for e in escalations_store.list(customer=k)]
    subjects = ([f"message:{m['message_id']}" for m in messages] + [f"hold:{h['id']}" for h in holds]
                + [f"draft:{d['id']}" for d in drafts] + [f"escalation:{e['id']}" for e in escalations])
    entries = [e.to_json() for e in audit.for_subjects(subjects)]
    chain = audit.verify()

    counts: dict[str, int] = {}
    for m in messages:
        withdrawn = {x["category"] for x in m["disputes"]}
        for c in sorted({f["category"] for f in m["findings"]} - withdrawn):
            counts[c] = counts.get(c, 0) + 1
    return {
        "format": "harassment-gateway case file",
        "version": 1,
        "generator": f"harassment-gateway {__version__}",
        "generated_at": iso(now or utcnow()),
        "customer": canonical,
        "customer_keys": keys,
        "summary": {
            "messages": len(messages),
            "first_contact": messages[0]["received_at"] if messages else None,
            "last_contact": messages[-1]["received_at"] if messages else None,
            "messages_with_findings": sum(1 for m in messages if m["findings"]),
            "messages_by_category": counts,  # disputed categories left out (they are listed per message)
            "disputed_tags": sum(len(m["disputes"]) for m in messages),
            "holds": len(holds),
            "active_holds": sum(1 for h in holds if h["state"] == "active"),
            "drafts": len(drafts),
            "escalations": len(escalations),
        },
        "messages": messages,
        "holds": holds,
        "drafts": drafts,
        "escalations": escalations,
        "audit": entries,
        "audit_chain": {"ok": chain.ok, "entries_checked": chain.checked, "first_bad": chain.first_bad,
                        "problem": chain.problem},
    }


def export_case(db: Database, customer: str, out_dir: Path | str, *, now: datetime | None = None) -> CaseFiles:
    """Write the customer's case file as JSON and HTML into ``out_dir`` (created if missing)."""
    case = build_case(db, customer, now=now)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaseError(f"cannot create {out}: {exc.strerror or exc}") from exc
    stem = "case-" + safe_name(case["customer"])
    json_bytes = (json.dumps(case, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")
    html_bytes = render_html(case).encode("utf-8")
    json_path, html_path = out / f"{stem}.json", out / f"{stem}.html"
    try:
        json_path.write_bytes(json_bytes)
        html_path.write_bytes(html_bytes)
    except OSError as exc:
        raise CaseError(f"cannot write the case file into {out}: {exc.strerror or exc}") from exc
    return CaseFiles(json_path, html_path, hashlib.sha256(json_bytes).hexdigest(),
                     hashlib.sha256(html_bytes).hexdigest(), len(case["messages"]))


def safe_name(key: str) -> str:
    """A file-name-safe form of a customer key (``a.b@example.com`` -> ``a.b_at_example.com``)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key.replace("@", "_at_")).strip("._")
    return (name or "customer")[:80] + ("-" + hashlib.sha256(key.encode()).hexdigest()[:8] if len(name) > 80 else "")


def highlight(text: str | None, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split ``text`` into plain and evidence segments (``{"text", "category"}``) for display."""
    if not text:
        return []
    spans = sorted(
        (int(e["start"]), int(e["end"]), f["category"])
        for f in findings for e in f.get("evidence", [])
        if 0 <= int(e["start"]) < int(e["end"]) <= len(text)
    )
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end, category in spans:
        if start < pos:  # overlapping spans: extend the open highlight
            if end > pos and out:
                out[-1]["text"] += text[pos:end]
                pos = end
            continue
        if start > pos:
            out.append({"text": text[pos:start], "category": None})
        out.append({"text": text[start:end], "category": category})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "category": None})
    return out


_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)  # optional keys render empty
_ENV.globals["highlight"] = highlight

_HTML = _ENV.from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Case file: {{ case.customer }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;margin:2em auto;max-width:1100px;color:#1b1b1b;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:2px solid #333;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eee}code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.msg{border:1px solid #bbb;border-radius:4px;margin:1em 0;padding:.6em .8em;page-break-inside:avoid}
.msg.flagged{border-left:5px solid #b00020}.meta{color:#555;font-size:12px}
.text{white-space:pre-wrap;background:#fafafa;border:1px solid #ddd;padding:.5em;margin:.5em 0}
mark{background:#ffd54f;padding:0 .1em}mark small{color:#7a4f00;font-size:10px;margin-left:.2em}
.tag{display:inline-block;background:#333;color:#fff;border-radius:3px;padding:0 .4em;margin-right:.3em;font-size:12px}
.ok{color:#1b5e20;font-weight:bold}.bad{color:#b00020;font-weight:bold}
@media print{body{margin:0;max-width:none}}
</style>
</head>
<body>
<h1>Case file: {{ case.customer }}</h1>
<p class="meta">Generated {{ case.generated_at }} by {{ case.generator }}.
Customer keys: {% for k in case.customer_keys %}<code>{{ k }}</code>{{ ", " if not loop.last }}{% endfor %}.</p>
<p>Audit chain at export:
{% if case.audit_chain.ok %}<span class="ok">intact</span> ({{ case.audit_chain.entries_checked }} entries verified)
{% else %}<span class="bad">BROKEN</span> at entry {{ case.audit_chain.first_bad }}: {{ case.audit_chain.problem }}{% endif %}</p>

<h2>Summary</h2>
<table>
<tr><th>Messages</th><td>{{ case.summary.messages }} ({{ case.summary.messages_with_findings }} with findings)</td></tr>
<tr><th>First / last contact</th><td>{{ case.summary.first_contact or "-" }} / {{ case.summary.last_contact or "-" }}</td></tr>
<tr><th>Messages by category</th><td>{% for c, n in case.summary.messages_by_category.items() %}<span class="tag">{{ c }}</span>{{ n }} {% else %}none{% endfor %}{% if case.summary.disputed_tags %} <span class="meta">({{ case.summary.disputed_tags }} disputed tag{{ "s" if case.summary.disputed_tags != 1 }} not counted)</span>{% endif %}</td></tr>
<tr><th>Holds</th><td>{{ case.summary.holds }} ({{ case.summary.active_holds }} active)</td></tr>
<tr><th>Drafts / escalations</th><td>{{ case.summary.drafts }} / {{ case.summary.escalations }}</td></tr>
</table>

<h2>Holds</h2>
{% for h in case.holds %}
<div class="msg">
<strong>Hold {{ h.id }}</strong> &mdash; {{ h.state }}, scope {{ h.scope }}{% if h.thread %} (thread <code>{{ h.thread }}</code>){% endif %}{% if h.source %}, channel {{ h.source }}{% endif %}<br>
Reason: {{ h.reason }}{% if h.rule %} (policy rule {{ h.rule }}){% endif %}<br>
{% if h.expires_at %}Expires: {{ h.expires_at }}<br>{% endif %}
Messages: {% for m in h.message_ids %}<code>{{ m }}</code>{{ ", " if not loop.last }}{% endfor %}
<table><tr><th>When</th><th>Who</th><th>Action</th><th>State</th><th>Why</th></tr>
{% for e in h.events %}<tr><td>{{ e.at }}</td><td>{{ e.actor }}</td><td>{{ e.action }}</td><td>{{ e.from_state or "" }} &rarr; {{ e.to_state }}</td><td>{{ e.reason }}</td></tr>
{% endfor %}</table>
</div>
{% else %}<p>No holds.</p>{% endfor %}

<h2>Contact timeline</h2>
{% for m in case.messages %}
<div class="msg{{ ' flagged' if m.findings }}">
<div class="meta">{{ m.received_at or "time unknown" }} &middot; {{ m.source }} &middot; thread <code>{{ m.thread }}</code>
&middot; from <code>{{ m.sender_address or m.customer_key }}</code></div>
<div><strong>{{ m.subject or "(no subject)" }}</strong></div>
<div class="meta">Message id <code>{{ m.message_id }}</code><br>SHA-256 of analyzed text <span class="hash">{{ m.text_sha256 }}</span>
{% if m.content_hash %}<br>Content hash <span class="hash">{{ m.content_hash }}</span>{% endif %}</div>
{% if m.text is not none %}
<div class="text">{% for seg in highlight(m.text, m.findings) %}{% if seg.category %}<mark>{{ seg.text }}<small>{{ seg.category }}</small></mark>{% else %}{{ seg.text }}{% endif %}{% endfor %}</div>
{% elif m.text_purged %}<p class="meta">Text purged under the retention policy; evidence excerpts and hashes below remain.</p>{% endif %}
{% if m.findings %}
<table><tr><th>Category</th><th>Severity</th><th>Score</th><th>Evidence</th><th>Rule / reason</th></tr>
{% for f in m.findings %}<tr><td>{{ f.category }}</td><td>{{ f.severity }}</td><td>{{ f.score }}</td>
<td>{% for e in f.evidence %}<mark>{{ e.text }}</mark> <span class="meta">[{{ e.start }}:{{ e.end }}]</span>{{ "<br>"|safe if not loop.last }}{% endfor %}
{% if f.related %}<br><span class="meta">related: {% for r in f.related %}<code>{{ r }}</code> {% endfor %}</span>{% endif %}</td>
<td>{{ f.rule }}<br><span class="meta">{{ f.reason }}</span></td></tr>
{% endfor %}</table>
{% endif %}
{% for x in m.disputes %}<p class="meta"><strong>Disputed:</strong> {{ x.category }}, by {{ x.actor }} at {{ x.created_at }}: {{ x.reason }}. Not counted in this customer's record since.</p>
{% endfor %}
{% if m.decision %}
<div class="meta">Decision: {% for t in m.decision.tags %}<span class="tag">{{ t }}</span>{% endfor %}
{% if m.decision.actions %} actions: {% for a in m.decision.actions %}{{ a.type }}{% if a.mode %} ({{ a.mode }}{% if a.scope %}, {{ a.scope }}{% endif %}){% endif %}{{ ", " if not loop.last }}{% endfor %}.{% endif %}
<br>Rules fired: {{ m.decision.hits|join(", ") or "none" }}. Checked, not fired: {{ m.decision.misses|join(", ") or "none" }}.
{% if m.decision.shadow %}(shadow mode){% endif %}{% if m.decision.held %} Customer held.{% endif %}</div>
{% endif %}
</div>
{% else %}<p>No messages.</p>{% endfor %}

<h2>Drafts</h2>
{% if case.drafts %}<table><tr><th>Id</th><th>Created</th><th>Template</th><th>State</th><th>Decided by</th><th>Subject</th></tr>
{% for d in case.drafts %}<tr><td>{{ d.id }}</td><td>{{ d.created_at }}</td><td>{{ d.lang }}/{{ d.template }}</td><td>{{ d.state }}</td><td>{{ d.decided_by or "" }}</td><td>{{ d.subject }}</td></tr>
{% endfor %}</table>{% else %}<p>No drafts.</p>{% endif %}

<h2>Escalations</h2>
{% if case.escalations %}<table><tr><th>Id</th><th>Created</th><th>To</th><th>Priority</th><th>Rules</th><th>State</th></tr>
{% for e in case.escalations %}<tr><td>{{ e.id }}</td><td>{{ e.created_at }}</td><td>{{ e.recipients|join(", ") }}</td><td>{{ e.priority }}</td><td>{{ e.rules|join(", ") }}</td><td>{{ e.state }}</td></tr>
{% endfor %}</table>{% else %}<p>No escalations.</p>{% endif %}

<h2>Audit trail</h2>
<table><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Subject</th><th>Why</th><th>Hash</th></tr>
{% for a in case.audit %}<tr><td>{{ a.seq }}</td><td>{{ a.at }}</td><td>{{ a.actor }}</td><td>{{ a.action }}</td><td><code>{{ a.subject }}</code></td><td>{{ a.reason }}</td><td class="hash">{{ a.hash[:16] }}&hellip;</td></tr>
{% endfor %}</table>
<p class="meta">Each audit hash is SHA-256 over the previous entry's hash and the entry's canonical JSON; the full
values are in the JSON file.</p>
</body>
</html>
""")


def render_html(case: dict[str, Any]) -> str:
    """The case as one self-contained HTML page."""
    return _HTML.render(case=case)
