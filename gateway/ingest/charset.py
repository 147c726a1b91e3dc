"""Bytes to text, whatever the label says.

Mail lies about its charset. Japanese mail labeled ``iso-2022-jp`` is often Microsoft's variant
(CP50220: NEC row 13 circled digits such as ①, NEC-selected IBM kanji such as 髙), which Python's
``iso2022_jp`` codecs refuse; mail labeled ``iso-2022-jp`` or ``us-ascii`` is sometimes raw Shift_JIS
or Windows-1252. :func:`decode_bytes` tries a chain of decoders, says which one produced the text,
and never raises: the last resort is a decode with replacement characters and a warning.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Decoded", "decode_bytes", "decode_cp50220", "canonical_charset"]


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the decoder that produced it, and a warning when the label was not trusted."""

    text: str
    decoder: str
    warning: str | None = None


# Labels mail clients write that Python does not know or that name a subset of what is really sent.
_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "ms932": "cp932",
    "windows-31j": "cp932",
    "csshiftjis": "cp932",
    "cp932": "cp932",
    "x-euc-jp": "euc-jp",
    "eucjp": "euc-jp",
    "cseucpkdfmtjapanese": "euc-jp",
    "iso-2022-jp-ms": "iso-2022-jp",
    "cp50220": "iso-2022-jp",
    "cp50221": "iso-2022-jp",
    "cp50222": "iso-2022-jp",
    "csiso2022jp": "iso-2022-jp",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ansi_x3.4-1968": "us-ascii",
    "ascii": "us-ascii",
    "us_ascii": "us-ascii",
    "utf8": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
    "unknown": "",
    "default": "",
    "x-user-defined": "",
}

# Python codec names -> the names people know from MIME labels (what ``decoder`` reports).
_DISPLAY = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "ascii": "us-ascii",
    "iso2022_jp": "iso-2022-jp",
    "iso2022_jp_ext": "iso-2022-jp-ext",
    "iso2022_jp_2004": "iso-2022-jp-2004",
    "iso2022_jp_3": "iso-2022-jp-3",
    "iso2022_jp_2": "iso-2022-jp-2",
    "iso2022_jp_1": "iso-2022-jp-1",
    "euc_jp": "euc-jp",
    "euc_jis_2004": "euc-jis-2004",
    "cp932": "cp932",
    "shift_jis": "cp932",
    "cp1252": "windows-1252",
    "latin-1": "iso-8859-1",
    "iso8859-1": "iso-8859-1",
}

_NOT_CHARSETS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "unicode-internal"}
_ASCII_INCOMPATIBLE = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-7", "hz",
                       "utf-16le", "utf-16be", "utf-32le", "utf-32be"}
_LATIN1_FAMILY = {"iso-8859-1", "us-ascii", "windows-1252"}
_ISO2022JP = {"iso-2022-jp", "iso-2022-jp-ext", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-2004", "iso-2022-jp-3"}
_EUCJP = {"euc-jp", "euc-jis-2004", "euc-jisx0213"}
_C1 = re.compile(rb"[\x80-\x9f]")
_HIGH = re.compile(rb"[\x80-\xff]")
_KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30fa\u30fc]")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=512)
def canonical_charset(label: str | None) -> str:
    """The MIME name for a charset label, '' for none or a label nobody can decode with."""
    if not label:
        return ""
    name = label.strip().strip("\"'").lower()
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return name  # unknown: the caller decides, with a warning
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return name  # base64, rot13, idna...: Python codecs, not charsets a message can be in
    return _DISPLAY.get(info.name, info.name.replace("_", "-"))


@lru_cache(maxsize=512)
def _known(name: str) -> bool:
    """Whether ``name`` is a charset Python can decode text with."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return False
    return info.name not in _NOT_CHARSETS and getattr(info, "_is_text_encoding", True)


def _codec(name: str) -> str:
    """Python codec for a canonical MIME name."""
    return {"windows-1252": "cp1252", "us-ascii": "ascii", "euc-jis-2004": "euc_jis_2004"}.get(name, name)


def decode_bytes(data: bytes, declared: str | None = None, *, what: str = "body") -> Decoded:
    """Decode ``data`` labeled ``declared``; never raises.

    ``what`` names the thing decoded ("body", "subject") in the warning a person reads.
    """
    label = canonical_charset(declared)
    if not data:
        return Decoded("", label or "us-ascii")
    has_esc = b"\x1b" in data
    if not has_esc and data.isascii() and label not in _ASCII_INCOMPATIBLE:
        # Pure 7-bit text reads the same under every ASCII-compatible label.
        text = data.decode("ascii")
        if label and not _known(_codec(label)):
            return Decoded(text, "us-ascii", f"{what}: unknown charset {declared!r}; the text is plain ASCII")
        return Decoded(text, label or "us-ascii")

    # 1. Trust the label when the bytes agree with it.
    if label in _ISO2022JP or (has_esc and not label):
        got = _decode_iso2022jp(data)
        if got is not None:
            text, decoder = got
            warning = None if label else f"{what}: no charset declared; ISO-2022-JP escape sequences found"
            return Decoded(text, decoder, warning)
    elif label in _EUCJP:
        for codec in ("euc_jp", "euc_jis_2004"):
            try:
                return Decoded(data.decode(codec), _DISPLAY[codec])
            except UnicodeDecodeError:
                pass
    elif label in _LATIN1_FAMILY and label != "us-ascii":
        try:  # UTF-8 under a Latin-1 label is a common lie, and Latin text is almost never valid UTF-8
            return Decoded(data.decode("utf-8"), "utf-8", f"{what}: charset {declared!r} does not match the bytes; "
                                                          "decoded as utf-8")
        except UnicodeDecodeError:
            pass
        if label == "iso-8859-1" and not _C1.search(data):
            return Decoded(data.decode("latin-1"), "iso-8859-1")
        try:  # WHATWG: iso-8859-1 labels mean windows-1252 (smart quotes, euro sign)
            return Decoded(data.decode("cp1252"), "windows-1252")
        except UnicodeDecodeError:
            return Decoded(data.decode("latin-1"), "iso-8859-1")
    elif label and label != "us-ascii" and _known(label):
        try:
            codec = "utf-8-sig" if label == "utf-8" else _codec(label)
            return Decoded(data.decode(codec), label)
        except (UnicodeError, LookupError, ValueError):
            pass

    # 2. The label is missing, unknown or wrong: look at the bytes.
    sniffed = _sniff(data)
    if label and not _known(_codec(label)):
        why = f"unknown charset {declared!r}"
    elif label:
        why = f"charset {declared!r} does not match the bytes"
    else:
        why = "no charset declared"
    if sniffed is not None:
        text, decoder = sniffed
        return Decoded(text, decoder, f"{what}: {why}; decoded as {decoder}")
    fallback = _codec(label) if label and _known(_codec(label)) else "utf-8"
    if label in _ISO2022JP:
        return Decoded(decode_cp50220(data, errors="replace"), "cp50220+replace",
                       f"{what}: {why}; decoded as cp50220 with replacement characters")
    name = _DISPLAY.get(codecs.lookup(fallback).name, fallback)
    return Decoded(data.decode(fallback, errors="replace"), f"{name}+replace",
                   f"{what}: {why}; decoded as {name} with replacement characters")


def _decode_iso2022jp(data: bytes) -> tuple[str, str] | None:
    """ISO-2022-JP, then Microsoft's CP50220 (NEC/IBM extensions), then JIS X 0213 variants."""
    try:
        return data.decode("iso2022_jp"), "iso-2022-jp"
    except UnicodeDecodeError:
        pass
    try:
        return decode_cp50220(data), "cp50220"
    except UnicodeDecodeError:
        pass
    for codec in ("iso2022_jp_2004", "iso2022_jp_2", "iso2022_jp_3"):
        try:
            return data.decode(codec), _DISPLAY[codec]
        except UnicodeDecodeError:
            pass
    return None


def _japanese_score(text: str) -> float:
    """How much ``text`` looks like real Japanese: kana and kanji count, half-width kana (the
    tell-tale of EUC-JP read as Shift_JIS) counts against."""
    kana = len(_KANA.findall(text))
    kanji = len(_CJK.findall(text))
    half = len(_HALFWIDTH_KANA.findall(text))
    return 2.0 * kana + kanji - 3.0 * half - 5.0 * text.count("\ufffd")


def _sniff(data: bytes) -> tuple[str, str] | None:
    """Guess the charset of unlabeled or mislabeled bytes; None when nothing fits without loss."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x1b$" in data or b"\x1b(" in data:
        got = _decode_iso2022jp(data)
        if got is not None:
            return got
    best: tuple[float, str, str] | None = None
    for codec, name in (("cp932", "cp932"), ("euc_jp", "euc-jp"), ("euc_jis_2004", "euc-jis-2004")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _japanese_score(text)
        if score > 0 and (best is None or score > best[0]):
            best = (score, text, name)
    if best is not None:
        return best[1], best[2]
    high = len(_HIGH.findall(data))
    if high * 3 <= len(data):  # mostly ASCII with some accented letters: Western text
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            pass
    return None


# ISO-2022-JP escape sequences (RFC 1468, plus what CP50220/50221 and JIS X 0212 add).
_ESCAPES = {
    b"\x1b(B": "ascii",
    b"\x1b(J": "ascii",  # JIS X 0201 Roman: yen sign and overline, read as ASCII as mailers do
    b"\x1b(I": "kana",  # JIS X 0201 half-width katakana
    b"\x1b$@": "jis",
    b"\x1b$B": "jis",
    b"\x1b$(B": "jis",
    b"\x1b$(D": "jisx0212",
    b"\x1b&@": None,  # JIS C 6226 update marker: no mode change
}
_ESCAPE_RE = re.compile(rb"(\x1b\(B|\x1b\(J|\x1b\(I|\x1b\$@|\x1b\$B|\x1b\$\(B|\x1b\$\(D|\x1b&@|\x0e|\x0f)")


@lru_cache(maxsize=1)
def _jis_table() -> dict[int, str]:
    """JIS row/cell (0x2121..0x7e7e) -> character, through Microsoft's cp932 mapping."""
    table: dict[int, str] = {}
    for j1 in range(0x21, 0x7F):
        for j2 in range(0x21, 0x7F):
            s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
            if j1 & 1:
                s2 = j2 + (0x1F if j2 <= 0x5F else 0x20)
            else:
                s2 = j2 + 0x7E
            try:
                table[(j1 << 8) | j2] = bytes((s1, s2)).decode("cp932")
            except UnicodeDecodeError:
                continue
    return table


def decode_cp50220(data: bytes, errors: str = "strict") -> str:
    """Decode ISO-2022-JP as Microsoft writes it (CP50220/50221).

    JIS X 0208 pairs map through cp932, so NEC row 13 (①, ㈱, ㍉) and the NEC-selected IBM kanji
    (髙, 﨑) decode; half-width katakana may come as ESC ( I or SO/SI. Raises UnicodeDecodeError on
    bytes no mode can read unless ``errors="replace"``.
    """
    table = _jis_table()
    out: list[str] = []
    mode = "ascii"
    shifted = False
    pos = 0
    for piece in _ESCAPE_RE.split(data):
        if not piece:
            continue
        if piece in _ESCAPES:
            new = _ESCAPES[piece]
            if new is not None:
                mode = new
            pos += len(piece)
            continue
        if piece == b"\x0e":
            shifted = True
            pos += 1
            continue
        if piece == b"\x0f":
            shifted = False
            pos += 1
            continue
        out.append(_decode_run(piece, "kana" if shifted else mode, table, pos, errors))
        pos += len(piece)
    return "".join(out)


def _decode_run(run: bytes, mode: str, table: dict[int, str], pos: int, errors: str) -> str:
    if mode == "ascii":
        if run.isascii():
            return run.decode("ascii")
        return _fail_or_replace(run, pos, "8-bit byte in ISO-2022-JP", errors)
    if mode == "kana":
        chars = []
        for i, b in enumerate(run):
            if 0x21 <= b <= 0x5F:
                chars.append(chr(0xFF61 + b - 0x21))
            elif b < 0x21:
                chars.append(chr(b))
            else:
                chars.append(_fail_or_replace(run[i:i + 1], pos + i, "invalid half-width kana", errors))
        return "".join(chars)
    # Two-byte modes. Line breaks inside a two-byte run are a common encoder slip: pass them through.
    chars = []
    i = 0
    n = len(run)
    while i < n:
        b = run[i]
        if b < 0x21:
            chars.append(chr(b))
            i += 1
            continue
        if i + 1 >= n or run[i + 1] < 0x21 or run[i + 1] > 0x7E or b > 0x7E:
            chars.append(_fail_or_replace(run[i:i + 1], pos + i, "truncated or invalid JIS pair", errors))
            i += 1
            continue
        if mode == "jisx0212":
            try:
                chars.append(bytes((0x8F, b | 0x80, run[i + 1] | 0x80)).decode("euc_jp"))
            except UnicodeDecodeError:
                chars.append(_fail_or_replace(run[i:i + 2], pos + i, "unmapped JIS X 0212 pair", errors))
        else:
            ch = table.get((b << 8) | run[i + 1])
            chars.append(ch if ch is not None else _fail_or_replace(run[i:i + 2], pos + i, "unmapped JIS pair", errors))
        i += 2
    return "".join(chars)


def _fail_or_replace(chunk: bytes, pos: int, reason: str, errors: str) -> str:
    if errors == "strict":
        raise UnicodeDecodeError("cp50220", chunk, pos, pos + len(chunk), reason)
    return "\ufffd"
