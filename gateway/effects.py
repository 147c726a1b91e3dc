"""Core effects: what a Decision changes in the gateway's own store.

For each message, in one transaction: the decision is recorded (``decisions``), a hold is proposed
or applied, leads are escalated to (``escalations``, which the daemon's notifier reads), a reply
draft is rendered and queued, and the audit log gets an entry. Idempotent per message id: applying
the same message again returns what was done the first time and changes nothing, so at-least-once
ingestion never doubles a hold, a draft or an audit entry.

Shadow decisions are recorded and audited, but create no hold, escalation or draft.
The per-customer notice cap (policy ``notices:``) is enforced here, where the drafts are: a draft
beyond the cap is not queued and the suppression is audited.

Mailbox and helpdesk effects (IMAP keywords, tags, private notes) belong to the daemon and the
connectors; they read the Decision.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit import (
    AuditLog,
    canonical_json,
    iso,
    json_ascii,
    json_text,
    parse_iso,
    transaction,
    utcnow,
)
from gateway.drafts import DraftError, DraftRenderer, DraftStore
from gateway.holds import SCOPES, HoldError, HoldStore
from gateway.model import Decision, Finding, Message
from gateway.policy import Policy
from gateway.store.db import Database, register_schema

register_schema(
    "effects",
    [
        """
        CREATE TABLE decisions (
            message_id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            sender_address TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            received_at TEXT,
            decided_at TEXT NOT NULL,
            content_hash TEXT NOT NULL DEFAULT '',
            text_sha256 TEXT NOT NULL,
            findings TEXT NOT NULL,
            decision TEXT NOT NULL,
            report TEXT NOT NULL
        );
        CREATE INDEX decisions_customer ON decisions(customer, received_at);
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL,
            customer TEXT NOT NULL,
            recipients TEXT NOT NULL,
            priority TEXT NOT NULL,
            rules TEXT NOT NULL,
            categories TEXT NOT NULL,
            hold_id INTEGER,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open',
            notified_at TEXT,
            acknowledged_at TEXT,
            acknowledged_by TEXT
        );
        CREATE INDEX escalations_state ON escalations(state, id)
        """
    ],
)


@dataclass
class EffectsReport:
    """What the effects did for one message (stored with the decision)."""

    message_id: str
    hold_id: int | None = None
    hold_state: str | None = None
    escalation_id: int | None = None
    draft_id: int | None = None
    suppressed: list[str] = field(default_factory=list)  # actions not carried out, with why
    errors: list[str] = field(default_factory=list)
    replayed: bool = False  # true when the message had been applied before (nothing changed)

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "hold_id": self.hold_id, "hold_state": self.hold_state,
                "escalation_id": self.escalation_id, "draft_id": self.draft_id,
                "suppressed": list(self.suppressed), "errors": list(self.errors)}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> "EffectsReport":
        return cls(data["message_id"], data.get("hold_id"), data.get("hold_state"), data.get("escalation_id"),
                   data.get("draft_id"), list(data.get("suppressed", [])), list(data.get("errors", [])), replayed)


@dataclass
class DecisionRecord:
    """A recorded decision: the message's identity and hashes, its findings, the decision, the report."""

    message_id: str
    customer: str
    thread: str
    source: str
    subject: str
    sender_address: str
    lang: str
    received_at: datetime | None
    decided_at: datetime
    content_hash: str
    text_sha256: str
    findings: list[Finding]
    decision: dict[str, Any]
    report: EffectsReport

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id, "customer": self.customer, "thread": self.thread,
            "source": self.source, "subject": self.subject, "sender_address": self.sender_address,
            "lang": self.lang, "received_at": iso(self.received_at) if self.received_at else None,
            "decided_at": iso(self.decided_at), "content_hash": self.content_hash,
            "text_sha256": self.text_sha256, "findings": [f.to_json() for f in self.findings],
            "decision": self.decision, "effects": self.report.to_json(),
        }


@dataclass
class Escalation:
    id: int
    message_id: str
    customer: str
    recipients: list[str]
    priority: str
    rules: list[str]
    categories: list[str]
    hold_id: int | None
    created_at: datetime
    state: str  # open | notified | acknowledged
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


class DecisionLog:
    """Read side of the recorded decisions (console customer page, case export)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def get(self, message_id: str) -> DecisionRecord | None:
        row = self.db.query_one("SELECT * FROM decisions WHERE message_id = ?", (message_id,))
        return _record(row) if row else None

    def for_customer(self, customer: str) -> list[DecisionRecord]:
        """The customer's decisions in the order the messages arrived."""
        rows = self.db.query("SELECT * FROM decisions WHERE customer = ? ORDER BY received_at, decided_at",
                             (customer,))
        return [_record(r) for r in rows]

    def recent(self, limit: int = 50, *, flagged_only: bool = False) -> list[DecisionRecord]:
        """Newest decisions first; ``flagged_only`` keeps those that tagged or acted."""
        sql = "SELECT * FROM decisions"
        if flagged_only:
            sql += " WHERE findings != '[]'"
        sql += " ORDER BY decided_at DESC LIMIT ?"
        return [_record(r) for r in self.db.query(sql, (int(limit),))]


class EscalationStore:
    """Escalations to leads/legal. The daemon's notifier takes ``open()`` ones and marks them notified."""

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        db.migrate()
        self.audit = audit or AuditLog(db)

    def create(self, message_id: str, customer: str, recipients: list[str], priority: str, rules: list[str],
               categories: list[str], *, hold_id: int | None = None, now: datetime | None = None,
               conn: sqlite3.Connection | None = None) -> int:
        now = now or utcnow()
        with transaction(self.db, conn) as c:
            cur = c.execute(
                "INSERT INTO escalations(message_id, customer, recipients, priority, rules, categories, hold_id, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                (message_id, customer, json_ascii(recipients), priority, json_ascii(rules), json_ascii(categories),
                 hold_id, iso(now)))
            esc_id = int(cur.lastrowid)  # type: ignore[arg-type]
            self.audit.append("policy", "escalation.create", f"escalation:{esc_id}",
                              f"escalated to {', '.join(recipients)} ({priority})",
                              {"message_id": message_id, "customer": customer, "rules": rules,
                               "categories": categories, "hold_id": hold_id}, at=now, conn=c)
            return esc_id

    def get(self, esc_id: int) -> Escalation:
        row = self.db.query_one("SELECT * FROM escalations WHERE id = ?", (int(esc_id),))
        if row is None:
            raise HoldError(f"no escalation with id {esc_id}")
        return _escalation(row)

    def list(self, *, state: str | None = None, customer: str | None = None) -> list[Escalation]:
        sql, params = "SELECT * FROM escalations WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if customer:
            sql += " AND customer = ?"
            params.append(customer)
        return [_escalation(r) for r in self.db.query(sql + " ORDER BY id", tuple(params))]

    def open(self) -> list[Escalation]:
        """Escalations nobody has been notified of yet, oldest first."""
        return self.list(state="open")

    def mark_notified(self, esc_id: int, *, actor: str = "system", detail: str = "",
                      now: datetime | None = None) -> None:
        self._set(esc_id, "notified", "notified_at", actor, detail or "leads notified", now)

    def acknowledge(self, esc_id: int, actor: str, reason: str = "", *, now: datetime | None = None) -> None:
        self._set(esc_id, "acknowledged", "acknowledged_at", actor, reason or "acknowledged", now)

    def _set(self, esc_id: int, state: str, column: str, actor: str, reason: str, now: datetime | None) -> None:
        now = now or utcnow()
        with self.db.tx() as c:
            row = c.execute("SELECT state FROM escalations WHERE id = ?", (int(esc_id),)).fetchone()
            if row is None:
                raise HoldError(f"no escalation with id {esc_id}")
            extra = ", acknowledged_by = ?" if state == "acknowledged" else ""
            params: tuple[Any, ...] = (state, iso(now)) + ((actor,) if extra else ()) + (int(esc_id),)
            c.execute(f"UPDATE escalations SET state = ?, {column} = ?{extra} WHERE id = ?", params)
            self.audit.append(actor, f"escalation.{state}", f"escalation:{esc_id}", reason,
                              {"from": row["state"], "to": state}, at=now, conn=c)


class CoreEffects:
    """Carries out a Decision in the store: holds, escalations, drafts, the decision record, audit."""

    def __init__(self, db: Database, policy: Policy, *, renderer: DraftRenderer | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        db.migrate()
        self.policy = policy
        self.audit = AuditLog(db)
        self.holds = HoldStore(db, self.audit)
        self.drafts = DraftStore(db, self.audit)
        self.escalations = EscalationStore(db, self.audit)
        self.decisions = DecisionLog(db)
        if renderer is None:
            from gateway.resources import rules_dir

            renderer = DraftRenderer(policy.templates_dir or rules_dir() / "templates")
        self.renderer = renderer
        self.clock = clock or utcnow

    def recorded(self, message_id: str) -> tuple[dict[str, Any], EffectsReport] | None:
        """The stored decision (JSON) and effects report of a message applied before, else None."""
        row = self.db.query_one("SELECT decision, report FROM decisions WHERE message_id = ?", (message_id,))
        if row is None:
            return None
        return json.loads(row["decision"]), EffectsReport.from_json(json.loads(row["report"]), replayed=True)

    def recorded_ids(self, message_ids: list[str]) -> set[str]:
        """Which of ``message_ids`` have a recorded decision (one query per 500 ids)."""
        return {r[0] for r in self.db.query_in("SELECT message_id FROM decisions WHERE message_id IN ({marks})",
                                               message_ids)}

    def apply(self, message: Message, findings: list[Finding], decision: Decision, *,
              customer: str | None = None, checked: bool = False) -> EffectsReport:
        """Carry out ``decision`` for ``message`` once. ``customer`` is the canonical customer key
        (default: ``message.sender``). Returns what was done, or what had been done before.

        ``checked=True`` is the pipeline's call from inside its own transaction, after it found no
        decision for the message there (``recorded``): the effects join that transaction and skip
        the look-ups that make a direct call safe."""
        customer = customer or message.sender or message.sender_address or f"unknown:{message.id}"
        if checked and self.db.in_tx:
            return self._apply(self.db.conn, message, findings, decision, customer)
        done = self.db.query_one("SELECT report FROM decisions WHERE message_id = ?", (message.id,))
        if done is not None:
            return EffectsReport.from_json(json.loads(done["report"]), replayed=True)
        with self.db.tx() as c:
            row = c.execute("SELECT report FROM decisions WHERE message_id = ?", (message.id,)).fetchone()
            if row is not None:  # applied by another writer since the check above
                return EffectsReport.from_json(json.loads(row["report"]), replayed=True)
            return self._apply(c, message, findings, decision, customer)

    def _apply(self, c: sqlite3.Connection, message: Message, findings: list[Finding], decision: Decision,
               customer: str) -> EffectsReport:
        """The effects, the decision row and its audit entry, inside the open transaction ``c``.

        Each finding and the decision are turned into JSON data once: the decision row stores them
        as written (``findings``, ``decision``), the audit entry's canonical JSON (sorted keys)
        reuses the same values, so the stored texts and the chain's hashes are what they were."""
        now = self.clock()
        now_text = iso(now)
        text_hash = text_sha256(message.text)
        if not decision.actions:
            shape = _plain_shape(decision)
            if shape is not None:
                return self._record_plain(c, message, findings, decision.message_id, shape, customer, now_text,
                                          text_hash)
        report = EffectsReport(message.id)
        if decision.shadow:
            if decision.actions:
                report.suppressed.append("shadow mode: actions recorded, not carried out")
        elif decision.actions:
            self._hold(c, message, findings, decision, customer, report, now)
            self._escalate(c, message, decision, customer, report, now)
            self._draft(c, message, decision, customer, report, now)
        found = [f.to_json() for f in findings]
        decided = decision.to_json()
        effects = report.to_json()
        received = message.received_at
        c.execute(
            "INSERT INTO decisions(message_id, customer, thread, source, subject, sender_address, lang, "
            "received_at, decided_at, content_hash, text_sha256, findings, decision, report) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (message.id, customer, message.thread, message.source, message.subject, message.sender_address,
             message.lang, iso(received) if received else None, now_text,
             message.content_hash, text_hash, _json_text(found), _json_text(decided), _json_ascii(effects)))
        self.audit.append(
            "policy", "decision", f"message:{message.id}", _summary(decision),
            {"customer": customer, "tags": decided["tags"], "actions": decided["actions"],
             "hits": decided["hits"], "misses": decided["misses"], "shadow": decision.shadow,
             "held": decision.held, "text_sha256": text_hash,
             "findings": [_evidence_of(f) for f in found], "effects": effects},
            at=now, conn=c, at_text=now_text)
        return report

    def _record_plain(self, c: sqlite3.Connection, message: Message, findings: list[Finding], decided_id: str,
                      shape: _Shape, customer: str, now_text: str, text_hash: str) -> EffectsReport:
        """The decision row and its audit entry for a decision without actions (most messages),
        written from the texts cached for its shape: the same texts the general path writes."""
        mid = message.id
        if findings:
            found = [f.to_json() for f in findings]
            findings_text = _json_text(found)
            findings_canonical = _canonical([_evidence_of(f) for f in found])
        else:
            findings_text = findings_canonical = "[]"
        received = message.received_at
        text_mid = _str_text(mid)
        c.execute(
            "INSERT INTO decisions(message_id, customer, thread, source, subject, sender_address, lang, "
            "received_at, decided_at, content_hash, text_sha256, findings, decision, report) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (mid, customer, message.thread, message.source, message.subject, message.sender_address,
             message.lang, iso(received) if received else None, now_text, message.content_hash, text_hash,
             findings_text, shape.decision[0] + (text_mid if decided_id == mid else _str_text(decided_id))
             + shape.decision[1],
             _REPORT[0] + _str_ascii(mid) + _REPORT[1]))
        e = shape.evidence
        self.audit.append_json(
            "policy", "decision", "message:" + mid, shape.summary,
            e[0] + _str_text(customer) + e[1] + text_mid + e[2] + findings_canonical + e[3] + _str_text(text_hash) + e[4],
            at_text=now_text, conn=c)
        return EffectsReport(mid)

    def _hold(self, c: sqlite3.Connection, message: Message, findings: list[Finding], decision: Decision,
              customer: str, report: EffectsReport, now: datetime) -> None:
        action = next((a for a in decision.actions if a.type == "hold"), None)
        if action is None:
            return
        p = action.params
        cats = set(p.get("categories", []))
        evidence = [dict(_finding_evidence(f), message_id=message.id) for f in findings if f.category in cats]
        kwargs = dict(
            thread=message.thread or message.id, source=message.source, message_id=message.id,
            rule=", ".join(p.get("rules", [])), categories=sorted(cats), expiry_days=p.get("expiry_days"),
            now=now, conn=c,
        )
        reason = p.get("reason") or "policy"
        scope = p.get("scope", "customer")
        covering = [hold_id for hold_id, held in self.holds.active_scopes(customer, message.thread or message.id,
                                                                          message.source)
                    if SCOPES.index(held) >= SCOPES.index(scope)]
        if covering:
            # Already held at least this widely: the new conduct is evidence on that hold, not a new proposal.
            hold_id = covering[0]
            state = self.holds.extend(hold_id, evidence, message_id=message.id, categories=sorted(cats),
                                      reason=reason, now=now, conn=c)
            report.suppressed.append(f"hold ({p.get('mode')}, {scope}): already covered by active hold {hold_id}")
        else:
            hold_id, state = self.holds.open("active" if p.get("mode") == "apply" else "proposed", customer, scope,
                                             reason, evidence, **kwargs)  # type: ignore[arg-type]
        report.hold_id = hold_id
        report.hold_state = state

    def _escalate(self, c: sqlite3.Connection, message: Message, decision: Decision, customer: str,
                  report: EffectsReport, now: datetime) -> None:
        action = next((a for a in decision.actions if a.type == "escalate"), None)
        if action is None:
            return
        p = action.params
        report.escalation_id = self.escalations.create(
            message.id, customer, list(p.get("to", ["leads"])), p.get("priority", "normal"),
            list(p.get("rules", [])), list(p.get("categories", [])), hold_id=report.hold_id, now=now, conn=c)

    def _draft(self, c: sqlite3.Connection, message: Message, decision: Decision, customer: str,
               report: EffectsReport, now: datetime) -> None:
        action = next((a for a in decision.actions if a.type == "draft"), None)
        if action is None:
            return
        p = action.params
        template = p["template"]
        cap = self.policy.settings.notices
        if template in cap.templates:
            sent = self.drafts.count_notices(customer, now - cap.window, cap.templates, conn=c)
            if sent >= cap.max_per_customer:
                why = (f"draft {template}: notice cap reached ({sent} notice(s) to this customer within "
                       f"{human_duration(cap.window)}; at most {cap.max_per_customer})")
                report.suppressed.append(why)
                self.audit.append("policy", "draft.suppressed", f"message:{message.id}", why,
                                  {"customer": customer, "template": template, "rule": p.get("rule")},
                                  at=now, conn=c)
                return
        org = self.policy.settings.organization
        context = {
            "org_name": org.name, "policy_name": org.policy_name, "policy_url": org.policy_url,
            "customer_name": message.display_name, "original_subject": message.subject,
            "reference": short_reference(message.id), "categories": list(p.get("categories", [])),
        }
        try:
            rendered = self.renderer.render(template, p.get("lang", message.lang), context)
        except DraftError as exc:
            report.errors.append(str(exc))
            self.audit.append("policy", "draft.error", f"message:{message.id}", str(exc),
                              {"template": template}, at=now, conn=c)
            return
        refs = " ".join(x for x in [*message.references, message.message_id] if x)
        report.draft_id = self.drafts.queue(
            customer, rendered.lang, template, rendered.subject, rendered.body,
            to_address=message.reply_to or message.sender_address or message.sender, thread=message.thread,
            source=message.source, message_id=message.id, in_reply_to=message.message_id, references=refs,
            rule=p.get("rule", ""), external=dict(message.external), now=now, conn=c)


#: ``json.dumps(value, ensure_ascii=False)`` without building a new encoder per call.
_json_text = json_text
#: ``json.dumps(value)`` (ASCII, the default separators), called directly.
_json_ascii = json_ascii


_str_text = json.encoder.encode_basestring  # type: ignore[attr-defined]  # a str as _json_text spells it
_str_ascii = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # ... as _json_ascii does
_canonical = canonical_json


def _holes(encode: Callable[[Any], str], value: Any, marks: list[str], spell: Callable[[str], str]) -> list[str]:
    """``encode(value)`` cut at each of ``marks`` (placeholder strings inside ``value``, spelled
    by ``spell``), in the order they appear: the fixed pieces of a JSON text with holes."""
    text = encode(value)
    pieces = []
    for mark in marks:
        head, sep, text = text.partition(spell(mark))
        if not sep:
            raise ValueError("a JSON template lost its placeholder")
        pieces.append(head)
    return pieces + [text]


_HOLE = [f"\x00hg:{i}\x00" for i in range(4)]  # never in a tag, a rule name or a template name
#: The effects report of a message without actions, around its (ASCII-spelled) message id.
_REPORT = _holes(_json_ascii, EffectsReport(_HOLE[0]).to_json(), _HOLE[:1], _str_ascii)


@dataclass(frozen=True)
class _Shape:
    """What a decision without actions writes besides the message's own values: the decision
    JSON around the message id, the audit evidence's canonical JSON around the customer, the
    message id, the findings and the text hash, and the audit reason."""

    decision: list[str]
    evidence: list[str]
    summary: str


_SHAPES: dict[tuple[Any, ...], _Shape] = {}


def _plain_shape(decision: Decision) -> _Shape | None:
    """The cached texts for this decision's shape (tags, categories, hits, misses, shadow, held),
    or None when the shape cannot be a cache key (then the general path writes it)."""
    try:
        key = (tuple(decision.tags), tuple(decision.categories), tuple(decision.hits), tuple(decision.misses),
               decision.shadow, decision.held, type(decision.shadow), type(decision.held))
        shape = _SHAPES.get(key)
    except TypeError:
        return None
    if shape is None:
        if any(type(x) is not str for part in key[:4] for x in part):
            return None
        decided = decision.to_json()
        decided["message_id"] = _HOLE[1]
        evidence = {"customer": _HOLE[0], "tags": decided["tags"], "actions": [], "hits": decided["hits"],
                    "misses": decided["misses"], "shadow": decision.shadow, "held": decision.held,
                    "text_sha256": _HOLE[3], "findings": _HOLE[2], "effects": EffectsReport(_HOLE[1]).to_json()}
        shape = _Shape(_holes(_json_text, decided, _HOLE[1:2], _str_text),
                       _holes(_canonical, evidence, _HOLE, _str_text), _summary(decision))
        if len(_SHAPES) >= 4096:
            _SHAPES.clear()
        _SHAPES[key] = shape
    return shape


def text_sha256(text: str) -> str:
    """The hash of the analyzed text, for the case file (the text itself may be purged later)."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def short_reference(message_id: str) -> str:
    """A short, stable reference for replies (never the raw Message-ID, which can be long)."""
    return "HG-" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:10].upper()


def _finding_evidence(f: Finding) -> dict[str, Any]:
    """What a hold and the audit keep of a finding: its category, severity, score, rule, reason,
    evidence spans and related messages."""
    return _evidence_of(f.to_json())


def _evidence_of(found: dict[str, Any]) -> dict[str, Any]:
    """``_finding_evidence`` from a finding already turned into JSON data (``f.to_json()``), so the
    decision row and the audit entry share one conversion."""
    return {"category": found["category"], "severity": found["severity"], "score": found["score"],
            "rule": found["rule"], "reason": found["reason"], "evidence": found["evidence"],
            "related": found.get("related", [])}


def _summary(decision: Decision) -> str:
    if not decision.hits:
        return "no policy rule fired"
    acts = ", ".join(a.type + (f" ({a.params.get('mode')})" if a.type == "hold" else "") for a in decision.actions)
    return f"rules {', '.join(decision.hits)} fired" + (f"; actions: {acts}" if acts else "") + \
        ("; shadow mode" if decision.shadow else "")


def human_duration(delta: Any) -> str:
    """``timedelta(days=7)`` as "7 days", for reasons a lead reads."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _record(row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(
        message_id=row["message_id"], customer=row["customer"], thread=row["thread"], source=row["source"],
        subject=row["subject"], sender_address=row["sender_address"], lang=row["lang"],
        received_at=parse_iso(row["received_at"]), decided_at=parse_iso(row["decided_at"]),  # type: ignore[arg-type]
        content_hash=row["content_hash"], text_sha256=row["text_sha256"],
        findings=[Finding.from_json(f) for f in json.loads(row["findings"])],
        decision=json.loads(row["decision"]), report=EffectsReport.from_json(json.loads(row["report"])),
    )


def _escalation(row: sqlite3.Row) -> Escalation:
    return Escalation(
        id=row["id"], message_id=row["message_id"], customer=row["customer"],
        recipients=json.loads(row["recipients"]), priority=row["priority"], rules=json.loads(row["rules"]),
        categories=json.loads(row["categories"]), hold_id=row["hold_id"],
        created_at=parse_iso(row["created_at"]), state=row["state"],  # type: ignore[arg-type]
        notified_at=parse_iso(row["notified_at"]), acknowledged_at=parse_iso(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
    )
