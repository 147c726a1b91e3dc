"""Quoted history, forwarded mail and signatures: what the customer did not write in this message.

Detection must read only the customer's new words, or a customer replying above our own agent's
text (or above an earlier message already acted on) would be judged twice. What is removed is kept,
block by block, for the record (``Message.quoted``).

Shapes recognized, in English and Japanese as mail clients write them:
``>`` lines; attribution lines ("On Mon, Jan 8, 2024 at 9:12 AM Acme <a@acme.example> wrote:",
"2024年1月8日(月) 9:12 Acme <a@acme.example>:", "山田さんは書きました:", Apple Mail's
"...のメール:"); "-----Original Message-----" / "-----元のメッセージ-----"; Outlook header blocks
(From:/Sent:/To:/Subject: and 差出人:/送信日時:/宛先:/件名:); forwarded-message markers; a signature
after "-- "; and device footers such as "Sent from my iPhone".
"""

from __future__ import annotations

import re

__all__ = ["strip_quoted"]

_SEPARATOR = re.compile(
    r"^[-_=*\s]*[-_=]{2,}\s*(?:original message|forwarded message|元のメッセージ|オリジナル\s*メッセージ|"
    r"転送されたメッセージ|転送メッセージ|メッセージ転送|ursprüngliche nachricht|weitergeleitete nachricht|"
    r"message d'origine|message transféré|mensaje original|mensaje reenviado)\s*[-_=]{2,}[-_=*\s]*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^(?:begin forwarded message|forwarded message|転送されたメッセージ|転送メッセージ)\s*[:：]\s*$", re.IGNORECASE
)
_HEADER_FROM = re.compile(r"^\*?\s*(?:from|差出人|送信者|von|de)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\*?\s*(?:sent|date|to|cc|subject|送信日時|送信日|日付|宛先|件名|cc|gesendet|datum|an|betreff|envoyé|objet)"
    r"\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_HEADER_DATE = re.compile(r"^\*?\s*(?:sent|date|送信日時|送信日|日付|gesendet|datum|envoyé)\s*\*?\s*[:：]", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE = re.compile(r"^--\s?$")
_SIGNATURE_LINES = 8
_DEVICE_FOOTER = re.compile(
    r"^(?:sent from my (?:iphone|ipad|android|mobile|galaxy|phone|blackberry)[^\n]{0,40}|"
    r"sent from (?:mail|outlook) for (?:windows|ios|android)[^\n]{0,20}|get outlook for (?:ios|android)|"
    r"sent from yahoo mail[^\n]{0,40}|iphoneから送信|ipadから送信|androidから送信|"
    r"auのスマートフォンから送信|docomoのスマートフォンから送信|softbankのスマートフォンから送信|"
    r"ドコモのスマートフォンから送信)\s*$",
    re.IGNORECASE,
)
_JA_DATE_START = re.compile(r"^\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}")
_ANGLE_ADDRESS = re.compile(r"<\s*[^<>\s]+@[^<>\s]+\s*>")
_EN_VERBS = ("wrote", "a écrit", "escribió", "ha scritto", "schreef")
_JA_MARKS = ("書きました", "wrote", "のメール", "のメッセージ")
_WROTE_END = re.compile(r"(?:wrote|書きました|a écrit|schrieb|のメール|のメッセージ)\s*[:：]\s*$", re.IGNORECASE)
_COLLAPSE = re.compile(r"\n{3,}")
# Any line that could start one of the shapes above (or ends in a colon); every other line is the
# customer's own.
_CANDIDATE = re.compile(
    r"^(?:[-_=*>]|\d|(?:on|le|am|el|il|op) |(?:from|差出人|送信者|von|de)\b|"
    r"(?:sent from|get outlook|iphone|ipad|android|au|docomo|softbank|ドコモ))",
    re.IGNORECASE,
)
_COLONS = (":", "：")
_FROM_INITIALS = frozenset("*FfVvDd差送")
_FOOTER_STARTS = ("sent from", "get outlook", "iphone", "ipad", "android", "au", "docomo", "softbank", "ドコモ")
_ATTRIBUTION_STARTS = ("on ", "le ", "am ", "el ", "il ", "op ")


def _is_quote(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _attribution_span(lines: list[str], i: int) -> int:
    """Number of lines (1-3) forming an attribution line starting at ``i``, or 0."""
    first = lines[i].strip()
    if not first:
        return 0
    en = first[:3].lower() in _ATTRIBUTION_STARTS
    ja = first[0].isdigit() and bool(_JA_DATE_START.match(first))
    if not (en or ja or first.endswith((":", "："))):
        return 0
    joined = first
    for span in range(1, 4):
        if joined.endswith((":", "：")):
            if len(joined) > 400:
                break
            tail = joined.rstrip(":： \t").lower()
            # "On <date>, <name> wrote:", "Le ... a écrit :", "Am ... schrieb <name>:"
            if en and (tail.endswith(_EN_VERBS) or "schrieb" in tail[-120:]):
                return span
            # "2024年1月5日(金) 16:02 Name <addr>:", "2024/01/17 10:00、Name <addr>のメール:"
            if ja and (any(mark in joined for mark in _JA_MARKS) or _ANGLE_ADDRESS.search(joined)):
                return span
            if "さんは書きました" in joined and span == 1:
                return span
            break
        if i + span >= len(lines) or not lines[i + span].strip() or not (en or ja):
            break
        joined = f"{joined} {lines[i + span].strip()}"
    return 0


def _followed_by_quote(lines: list[str], j: int) -> bool:
    """Whether the next non-blank line at or after ``j`` is a ``>`` line."""
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and _is_quote(lines[j])


def _outlook_header_block(lines: list[str], i: int) -> bool:
    """A From:/差出人: line followed closely by a Sent:/Date: line and more header lines."""
    if not _HEADER_FROM.match(lines[i].strip()):
        return False
    headerish = 0
    dated = False
    for line in lines[i + 1:i + 8]:
        s = line.strip()
        if not s:
            continue
        if _HEADER_NEXT.match(s):
            headerish += 1
            dated = dated or bool(_HEADER_DATE.match(s))
        else:
            break
    return dated and headerish >= 2


def _starts_history(lines: list[str], j: int) -> bool:
    """Whether line ``j`` starts quoted or forwarded history (what may follow a signature)."""
    line = lines[j]
    stripped = line.strip()
    if not stripped:
        return False
    return (_is_quote(line) or bool(_SEPARATOR.match(stripped)) or bool(_FORWARD_INTRO.match(stripped))
            or bool(_UNDERSCORES.match(stripped)) or _outlook_header_block(lines, j)
            or _attribution_span(lines, j) > 0)


def _signature_end(lines: list[str], i: int) -> int:
    """End (exclusive) of the signature starting at the "-- " line ``i``.

    A signature is short: it ends where quoted history starts, or after ``_SIGNATURE_LINES`` lines.
    Text beyond that is read again, so words after a fake "-- " line are not hidden from detection.
    """
    end = i + 1
    limit = min(len(lines), i + 1 + _SIGNATURE_LINES)
    while end < limit and not _starts_history(lines, end):
        end += 1
    while end > i + 1 and not lines[end - 1].strip():
        end -= 1  # trailing blank lines stay with the text
    return end


def strip_quoted(text: str) -> tuple[str, list[str]]:
    """Split ``text`` into the customer's own words and the removed blocks, in order."""
    if not text:
        return "", []
    lines = text.split("\n")
    kept: list[str] = []
    quoted: list[str] = []
    block: list[str] = []

    def close_block() -> None:
        if block:
            body = "\n".join(block).strip("\n")
            if body.strip():
                quoted.append(body)
            block.clear()

    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if stripped[:1] == ">":
            block.append(line)
            i += 1
            continue
        if stripped and not stripped.endswith(_COLONS) and not _CANDIDATE.match(stripped):
            if block:
                close_block()
            kept.append(line.rstrip())
            i += 1
            continue
        if not stripped:
            if block and i + 1 < n and _is_quote(lines[i + 1]):
                block.append(line)  # a blank line inside a quote stays with it
            else:
                close_block()
                kept.append("")
            i += 1
            continue
        first = stripped[0]
        colon = stripped.endswith((":", "："))
        cut = False
        if first == "-" and _SIGNATURE.match(line.rstrip("\r")):
            close_block()
            end = _signature_end(lines, i)
            quoted.append("\n".join(lines[i:end]).rstrip())
            i = end
            continue
        if first in "-_=*" and _SEPARATOR.match(stripped):
            cut = True
        elif first == "_" and _UNDERSCORES.match(stripped) and i + 1 < n and _outlook_header_block(lines, i + 1):
            cut = True
        elif (colon and _FORWARD_INTRO.match(stripped)) or (first in _FROM_INITIALS and _outlook_header_block(lines, i)):
            cut = True
        elif len(stripped) <= 60 and stripped.lower().startswith(_FOOTER_STARTS) and _DEVICE_FOOTER.match(stripped):
            close_block()
            quoted.append(stripped)
            i += 1
            continue
        else:
            span = _attribution_span(lines, i)
            if not span and colon and _WROTE_END.search(stripped) \
                    and _followed_by_quote(lines, i + 1):
                span = 1
            if span:
                if _followed_by_quote(lines, i + span):
                    # Bottom-posting or interleaved replies: the attribution goes with its quote and
                    # the customer's text below the quote stays.
                    close_block()
                    block.extend(lines[i:i + span])
                    i += span
                    continue
                cut = True
        if cut:
            close_block()
            rest = "\n".join(lines[i:]).strip("\n")
            if rest.strip():
                quoted.append(rest)
            break
        close_block()
        kept.append(line.rstrip())
        i += 1
    close_block()
    clean = "\n".join(kept)
    if "\n\n\n" in clean:
        clean = _COLLAPSE.sub("\n\n", clean)
    clean = clean.strip()
    return clean, quoted
