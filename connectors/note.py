"""The private note an agent reads on the ticket: what was found, with evidence, and the draft.

The note is plain text (both helpdesks show it as written). Abusive passages are masked
(``[verbal_abuse]``) so the agent sees where and why without having to read the insult again;
the policy rules that fired and those that were checked and did not are listed, as a moderator
needs both to trust a verdict. The drafted reply comes last, for the agent to approve or edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.model import Decision, Evidence, Finding, Message

Masker = Callable[[str, list[Finding]], str]

MARKER = "harassment-gateway"  # first line of every note; lets a re-read recognise our own notes
_CONTEXT = 60  # characters of surrounding text shown with each piece of evidence


def default_masker() -> Masker:
    """``gateway.detect.mask`` when the detect package provides it, else a local equivalent."""
    try:
        from gateway.detect import mask  # type: ignore[attr-defined]
    except ImportError:
        return mask_spans
    return mask


def mask_spans(text: str, findings: list[Finding]) -> str:
    """Replace every evidence span with ``[category]``; overlapping spans merge into one marker."""
    spans: list[tuple[int, int, str]] = sorted(
        (e.start, e.end, f.category) for f in findings for e in f.evidence if 0 <= e.start < e.end <= len(text)
    )
    merged: list[list] = []
    for start, end, category in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, category])
    out: list[str] = []
    pos = 0
    for start, end, category in merged:
        out.append(text[pos:start])
        out.append(f"[{category}]")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def render_note(
    message: Message,
    findings: Sequence[Finding],
    decision: Decision,
    *,
    draft: str | None = None,
    hold_state: str | None = None,
    masker: Masker | None = None,
) -> str:
    """The private-note text for one processed message.

    ``hold_state`` says what happened to a hold the decision asks for ("proposed: waiting for a
    team lead", "applied"); ``draft`` is the drafted reply, if the policy drafted one.
    """
    mask = masker or default_masker()
    findings = list(findings)
    lines = [f"{MARKER}: {_headline(decision)}"]
    if decision.tags:
        lines.append("Tags: " + ", ".join(decision.tags))
    if findings:
        lines.append("")
        lines.append("Findings (abusive passages masked):")
        for f in sorted(findings, key=lambda f: (-int(f.severity), f.category)):
            reason = _mask_quotes(f.reason, findings, mask)
            lines.append(f"- {f.category} ({f.severity.label}, score {f.score:.2f}) by rule {f.rule}: {reason}")
            for e in f.evidence:
                lines.append(f"    \u201c{_excerpt(message.text, findings, e.start, e.end, mask)}\u201d")
            if f.related:
                lines.append("    related messages: " + ", ".join(f.related))
    if decision.hits or decision.misses:
        lines.append("")
        if decision.hits:
            lines.append("Policy rules that fired: " + ", ".join(decision.hits))
        if decision.misses:
            lines.append("Checked, did not fire: " + ", ".join(decision.misses))
    hold = next((a for a in decision.actions if a.type in _HOLD_ACTIONS), None)
    if hold is not None or hold_state or decision.held:
        lines.append("")
        lines.append("Contact hold: " + (hold_state or _hold_text(hold.type, hold.params) if hold else
                                         hold_state or "this customer is under an active hold"))
    if decision.shadow:
        lines.append("")
        lines.append("Shadow mode: recorded only, nothing was changed on the ticket besides this note.")
    if draft:
        lines.append("")
        lines.append("Drafted reply (not sent; approve or edit it before it goes to the customer):")
        lines.append("-----")
        lines.append(draft.strip())
        lines.append("-----")
    return "\n".join(lines).rstrip() + "\n"


def _mask_quotes(reason: str, findings: list[Finding], mask: Masker) -> str:
    """A rule's reason may quote the evidence; mask those quotes as the text itself is masked."""
    quoted: list[Finding] = []
    for f in findings:
        spans = []
        for e in f.evidence:
            start = reason.find(e.text) if e.text else -1
            while start >= 0:
                spans.append(Evidence(start, start + len(e.text), e.text))
                start = reason.find(e.text, start + 1)
        if spans:
            quoted.append(Finding(f.category, f.severity, f.score, spans, f.rule, ""))
    return mask(reason, quoted) if quoted else reason


def _headline(decision: Decision) -> str:
    if not decision.categories:
        return "no harassment found"
    return "found " + ", ".join(decision.categories)


_HOLD_ACTIONS = ("hold", "propose_hold", "apply_hold")


def _hold_text(kind: str, params: dict) -> str:
    scope = params.get("scope") or "thread"
    mode = str(params.get("state") or params.get("mode") or "").lower()
    active = kind == "apply_hold" or mode in {"active", "apply", "applied"} or params.get("needs_approval") is False
    if active:
        return f"applied at once ({scope}) as the policy requires; a team lead can lift it"
    return f"proposed ({scope}), waiting for a team lead's approval"


def _excerpt(text: str, findings: list[Finding], start: int, end: int, mask: Masker) -> str:
    """The evidence with some context either side, masked the same way as the whole text."""
    lo = max(0, start - _CONTEXT)
    hi = min(len(text), end + _CONTEXT)
    # Mask the window on its own so offsets stay right: shift the evidence into the window.
    window: list[Finding] = []
    for f in findings:
        spans = [e for e in f.evidence if e.start >= lo and e.end <= hi]
        if spans:
            window.append(
                Finding(f.category, f.severity, f.score,
                        [Evidence(e.start - lo, e.end - lo, e.text) for e in spans], f.rule, f.reason)
            )
    piece = mask(text[lo:hi], window) if window else text[lo:hi]
    piece = " ".join(piece.split())
    return ("\u2026" if lo > 0 else "") + piece + ("\u2026" if hi < len(text) else "")
