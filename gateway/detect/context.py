"""Context around a match that changes what it means.

A phrase the customer quotes or reports ("your agent called me an idiot", 「バカ」と言われた) is not
the customer's own abuse; a negated one ("I'm not threatening anyone", 殺すつもりはない) is not a
threat; a request made politely ("could I please speak to a supervisor") is not pressure. Each
check looks only at the normalized text around the match and returns True when the context applies;
the engine multiplies the rule's score by the factor ``rules/detect.yaml`` gives that context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?\n。！？]")
_CLAUSE_END = re.compile(r"[,;:.!?\n、。！？]")
_REPORT_CLAUSE_END = re.compile(r"(?:[;.!?\n。！？]|,\s*(?:but|and|so|yet)\b)")
_OWN_SPEECH = re.compile(r"\b(?:i|i've|i have|i just|i already|like i|as i)\s+$")
_CONDITIONAL = {"if", "unless", "or", "otherwise", "when", "until"}

_REPORTED_EN = re.compile(
    r"\b(?:call(?:ed|s|ing)? (?:me|us|him|her|them|people|someone|somebody|everyone|my|our|his|their|"
    r"women|men|a|an|\w+ people)|said|says|saying|told|tells|telling|wrote|writes|written|"
    r"accus\w*|shout(?:ed|ing)?|yell(?:ed|ing)?|scream(?:ed|ing)?|swore|threaten(?:ed|ing)|"
    r"(?:posts?|comments?|messages?|tweets?|threats?|words?|remarks?|things?|language|insults?) like|"
    r"such as|the word|phrases? like|referred to \w+ as|label(?:ed|led|s|ing)?)\b[^.!?\n]*$"
)
_REPORTED_JA_AFTER = re.compile(
    r"^[^。！？\n]{0,4}?(?:と|って|とか|など|なんて|などと)(?:[^。！？\n]{0,6}?)"
    r"(?:言|いわ|いっ|云|書|罵|怒鳴|呼ば|暴言|発言|あっ)"
)
_NEG_EN = re.compile(
    r"\b(?:not|never|no|nobody|cannot|can'?t|don'?t|won'?t|wouldn'?t|didn'?t|isn'?t|aren'?t|wasn'?t|"
    r"shouldn'?t|without|nor)\b|n't\b"
)
_NEG_JA_AFTER = re.compile(
    r"^[^。！？\n]{0,4}?(?:つもり|気|意図|わけ|訳|こと)(?:は|では|じゃ)?(?:ない|ありません|ございません|毛頭|一切)"
    r"|^[^。！？\n]{0,3}?(?:とは)(?:言って|申して|思って)(?:い|おり)?(?:ない|ません)"
)
_POLITE = re.compile(
    r"\b(?:please|pls|kindly|could i|could you|may i|would it be possible|would you|if possible|"
    r"i would like|i'?d like|is it possible|thank you|thanks)\b|"
    r"(?:いただけ|頂け|ください|下さい|お願い|でしょうか|ますか|ませんか|たいのですが|可能であれば|恐れ入り)"
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    s = 0
    for m in _SENTENCE_END.finditer(text, max(0, start - 300), start):
        s = m.end()
    m2 = _SENTENCE_END.search(text, end)
    return s, (m2.start() if m2 else len(text))


def _clause_start(text: str, start: int, ends: re.Pattern[str] = _CLAUSE_END) -> int:
    s = 0
    for m in ends.finditer(text, max(0, start - 200), start):
        s = m.end()
    return s


def quoted(text: str, start: int, end: int) -> bool:
    """The match sits between quotation marks on its line (``"..."``, 「...」, 『...』)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    if line_end < 0:
        line_end = len(text)
    # On text[line_start:start] (the line before the match), without copying it.
    if text.count('"', line_start, start) % 2 == 1 and text.find('"', end, line_end) >= 0:
        return True
    for open_, close in (("「", "」"), ("『", "』")):
        o = text.rfind(open_, line_start, start)
        if o >= 0 and text.rfind(close, line_start, start) < o:
            return True
    return False


def reported(text: str, start: int, end: int, lang: str) -> bool:
    """Someone else's words the customer reports ("called me an idiot", 「バカ」と言われた)."""
    if _REPORTED_JA_AFTER.search(text[end:end + 24]):
        return True
    # Whether the pattern matches at a position does not depend on where the search began, so
    # none in the 80 characters before the match means none in the clause's part of them: the
    # clause is looked for only when there is something to find in it.
    if _REPORTED_EN.search(text, max(0, start - 80), start) is None:
        return False
    s = _clause_start(text, start, _REPORT_CLAUSE_END)
    m = _REPORTED_EN.search(text, max(s, start - 80), start)
    # "I said fuck off" is the customer's own speech, not a report of someone else's.
    return bool(m) and not _OWN_SPEECH.search(text, max(0, m.start() - 12), m.start())


def negated(text: str, start: int, end: int, lang: str) -> bool:
    """A negation inside the match or in the two words before it, in the same clause."""
    if _NEG_JA_AFTER.search(text[end:end + 20]):
        return True
    if _NEG_EN.search(text, start, end):
        return True
    cs = _clause_start(text, start)
    words = text[cs:start].split()
    window = words[-4:]
    for i in range(len(window) - 1, -1, -1):
        if _NEG_EN.search(window[i]):
            # "if you don't refund me, I'll ..." is a condition, not a negation of the threat.
            return not any(w in _CONDITIONAL for w in words[: len(words) - len(window) + i])
    return False


def polite(text: str, start: int, end: int, lang: str) -> bool:
    """The request is made politely in its sentence."""
    s, e = _sentence(text, start, end)
    return bool(_POLITE.search(text, s, min(len(text), e + 1)))


CHECKS = {
    "quoted": lambda text, s, e, lang: quoted(text, s, e),
    "reported": reported,
    "negated": negated,
    "polite": polite,
}

#: What a team lead reads when a context lowered a match's score.
EXPLAIN = {
    "quoted": "inside quotation marks",
    "reported": "reported as someone else's words",
    "negated": "negated",
    "polite": "asked politely",
}
