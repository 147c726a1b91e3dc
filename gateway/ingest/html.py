"""HTML mail to the text a person would read.

BeautifulSoup (with the standard library's parser) builds the tree; a walk over it keeps visible
text only: script, style, head and hidden elements are dropped, block elements become line breaks,
entities are decoded by the parser, and ``<blockquote>`` content is prefixed with ``>`` so the quote
remover treats quoted HTML history like quoted plain text. The walk is iterative, so deeply nested
hostile HTML cannot exhaust the stack.
"""

from __future__ import annotations

import re
import warnings as _warnings

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)
from bs4.builder import HTMLTreeBuilder
from bs4.dammit import EntitySubstitution, UnicodeDammit
from bs4.element import PreformattedString

__all__ = ["html_to_text"]

_SKIP = frozenset({"script", "style", "title", "template", "noscript", "object", "iframe", "svg",
                   "math", "select", "button", "meta", "link"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
    "tr", "ul", "caption", "body", "html", "o:p",
})
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0\u200b]+")
#: Whitespace that ``_SPACES`` would change: any but a lone space.
_SPACES_TO_FOLD = re.compile(r"[\t\n\r\f\v\u00a0\u200b]|  ")
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.IGNORECASE)
_BLANKS = re.compile(r"\n{3,}")
_RUNS = re.compile(r" {2,}")

_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "pre", "hr",
                         "blockquote", "figure"})
_BREAK = object()
_PARAGRAPH = object()
_END_QUOTE = object()
_END_PRE = object()


class _Lines:
    """Accumulates words into lines, each line remembering its blockquote depth."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.words: list[str] = []
        self.depth = 0
        self.line_depth = 0
        self.pre_line = False

    def add(self, text: str, pre: bool = False) -> None:
        if not self.words:
            self.line_depth = self.depth
        self.pre_line = self.pre_line or pre
        self.words.append(text)

    def add_pre(self, text: str) -> None:
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                self.newline(force=True)
            if part:
                self.add(part, pre=True)

    def newline(self, force: bool = False, blank: bool = False) -> None:
        """End the current line. ``force``: an empty line counts (``<br>``); ``blank``: leave a
        blank line after it (paragraph-like blocks)."""
        line = "".join(self.words)
        line = line.rstrip() if self.pre_line else _RUNS.sub(" ", line).strip(" ")
        self.words = []
        self.pre_line = False
        if line:
            self.lines.append(("> " * self.line_depth) + line if self.line_depth else line)
        elif force:
            self.lines.append("")
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        self.newline()
        return _BLANKS.sub("\n\n", "\n".join(self.lines)).strip("\n")


def _open_block(out: _Lines, name: str) -> object:
    """Start a block element's lines (a blank line before a paragraph, one more quote level for a
    blockquote) and return the marker that ends it, for both converters."""
    paragraph = name in _PARAGRAPHS
    out.newline(blank=paragraph)
    if name == "blockquote":
        out.depth += 1
        return _END_QUOTE
    return _PARAGRAPH if paragraph else _BREAK


def _is_mso_line(node: Tag) -> bool:
    classes = node.attrs.get("class") if node.attrs else None
    if not classes:
        return False
    if isinstance(classes, str):
        classes = classes.split()
    return any(c.lower().startswith("mso") for c in classes)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document or fragment."""
    if not html or not html.strip():
        return ""
    fast = _simple_html_to_text(html)
    if fast is not None:
        return fast
    return _soup_to_text(html)


#: Elements the one-pass reader leaves to the tree: preformatted text (its whitespace is kept),
#: and elements whose content the standard library's parser reads as raw text in some Python
#: versions and as markup in others.
_ONE_PASS_REFUSED = frozenset({"pre", "listing", "textarea", "xmp", "plaintext", "noembed", "noframes"})
#: Elements BeautifulSoup closes as soon as they open (``<br>``, ``<img>``...): its own list.
_VOID = frozenset(HTMLTreeBuilder.DEFAULT_EMPTY_ELEMENT_TAGS or ())
#: Elements whose content the parser reads as raw text up to their end tag.
_RAW_TEXT = frozenset({"script", "style"})
_WS = "[ \t\n\r\f]"
#: One token of HTML the one-pass reader can read: a start tag (attributes double-quoted,
#: single-quoted, unquoted or bare), an end tag, text without markup characters, a complete
#: entity or character reference, a comment, a doctype. Anything else (``<`` or ``&`` standing
#: alone, ``<![CDATA[``, ``<?...>``, attributes the parser would read differently) matches none.
_TOKEN = re.compile(
    rf"<([a-zA-Z][a-zA-Z0-9:-]*)((?:{_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    rf"(?:{_WS}*={_WS}*(?:\"[^\"]*\"|'[^']*'|[^ \t\n\r\f\"'=<>`/]+(?=[ \t\n\r\f>])))?)*){_WS}*(/?)>"
    rf"|</([a-zA-Z][a-zA-Z0-9:-]*){_WS}*>"
    r"|([^<&]+)"
    r"|&(?:([a-zA-Z][a-zA-Z0-9]*)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));"
    r"|<!--(?:[^<>-]|-(?!-))*-->|<![dD][oO][cC][tT][yY][pP][eE][^<>]*>"
)
_ATTR = re.compile(rf"{_WS}+([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:{_WS}*={_WS}*(\"[^\"]*\"|'[^']*'|[^ \t\n\r\f\"'=<>`/]+))?")
_ENTITY = EntitySubstitution.HTML_ENTITY_TO_CHARACTER
_NO_ATTRS: dict[str, str] = {}


def _attributes(text: str) -> dict[str, str] | None:
    """The attributes the tree walk reads (``style``, ``class``, ``alt``) of a start tag's
    attribute text, as the parser gives them (names lowercased, the last of a repeated name);
    None when one of them holds a character reference (the parser would decode it)."""
    found: dict[str, str] = {}
    for name, value in _ATTR.findall(text):
        name = name.lower()
        if name in ("style", "class", "alt"):
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            if "&" in value:
                return None
            found[name] = value
    return found


def _simple_html_to_text(html: str) -> str | None:
    """What :func:`_soup_to_text` gives, read in one pass without building a tree, for HTML
    whose tree is plain from its tags: None for anything else.

    That is: every element closed in order (``<p>a</p>``, never ``<p>a`` or ``<b><i></b></i>``),
    except BeautifulSoup's empty elements (``<br>``, ``<img>``, ``<meta>``...), never closed;
    no preformatted or raw-text-in-some-versions element (``_ONE_PASS_REFUSED``); ``script`` and
    ``style`` without ``<`` inside; comments without ``--`` inside; entities complete (``&name;``
    of the parser's table, ``&#nnn;``, ``&#xhh;``) and ``&`` or ``<`` nowhere else; no
    ``MsoNormal`` paragraph (Word's lines need the whole paragraph's text first); no reference
    inside a ``style``, ``class`` or ``alt`` value. Such a document has one tree, and the tree
    walk's actions happen in document order: an element's on its start and end tag, text's
    where it stands, a skipped element's (``_SKIP``, or hidden by its style) nowhere.
    tests/unit/test_ingest_html_fast.py compares the two on generated HTML."""
    out = _Lines()
    open_tags: list[str] = []
    ends: list[object] = []  # per open tag: what the walk does after its children
    data: list[str] = []
    skipping = 0  # open elements from the outermost skipped one (0: not skipping)
    pos, n = 0, len(html)
    match = _TOKEN.match
    while pos < n:
        m = match(html, pos)
        if m is None:
            return None
        pos = m.end()
        kind = m.lastindex  # 5 text, 3 start tag, 4 end tag, 6-8 a reference, None a comment or doctype
        if kind == 5:
            if not skipping:
                data.append(m.group(5))
            continue
        if kind is not None and kind > 5:
            if kind == 6:  # a named reference
                char = _ENTITY.get(m.group(6))
                if char is None:
                    return None  # the parser keeps it as text, with a semicolon of its own
            else:
                char, replaced = UnicodeDammit.numeric_character_reference(
                    int(m.group(kind), 10 if kind == 7 else 16))
                if replaced or not char:
                    return None
            if not skipping:
                data.append(char)
            continue
        if data:  # a tag or a comment ends a text node
            _simple_text(out, "".join(data))
            data = []
        if kind is None:
            continue  # a comment or a doctype
        if kind == 3:
            name = m.group(1).lower()
            if name in _ONE_PASS_REFUSED:
                return None
            void = name in _VOID
            if m.group(3) and not void:
                return None  # <p/>: the parser's empty-element handling differs from a void tag
            attrs = _attributes(m.group(2)) if m.group(2) else _NO_ATTRS
            if attrs is None:
                return None
            if name in _RAW_TEXT:  # its text up to its end tag, never shown
                close = html.find("<", pos)
                if close < 0 or html[close : close + len(name) + 3].lower() != f"</{name}>":
                    return None
                pos = close + len(name) + 3
                continue
            if skipping or name in _SKIP or (attrs.get("style") and _HIDDEN.search(attrs["style"])):
                if not void:
                    open_tags.append(name)
                    ends.append(None)
                    skipping += 1
                continue
            if void:
                if name == "br":
                    out.newline(force=True)
                elif name == "hr":  # a paragraph-like block without children
                    out.newline(blank=True)
                    out.newline(blank=True)
                elif name == "img":
                    alt = attrs.get("alt", "").strip()
                    if alt:
                        out.add(alt)
                continue
            if name == "p" and "class" in attrs and any(c.lower().startswith("mso") for c in attrs["class"].split()):
                return None  # Word's line: empty or not decides before its children (see the tree walk)
            open_tags.append(name)
            if name in _CELL:
                out.add(" ")
                ends.append(None)
            elif name in _BLOCK:
                ends.append(_open_block(out, name))
                if name == "li":
                    out.add("- ")
            else:
                ends.append(None)
            continue
        name = m.group(4).lower()
        if not open_tags or open_tags[-1] != name:
            return None  # not closed in order (or an end tag of an empty element)
        open_tags.pop()
        action = ends.pop()
        if skipping:
            skipping -= 1
        elif action is _BREAK:
            out.newline()
        elif action is _PARAGRAPH:
            out.newline(blank=True)
        elif action is _END_QUOTE:
            out.newline(blank=True)
            out.depth -= 1
    if open_tags:
        return None
    if data:
        _simple_text(out, "".join(data))
    return out.text()


def _simple_text(out: _Lines, data: str) -> None:
    """A text node, as the tree walk adds it (outside ``pre``)."""
    text = _SPACES.sub(" ", data) if _SPACES_TO_FOLD.search(data) else data
    if text.strip() or (out.words and text == " "):
        out.add(text)


def _soup_to_text(html: str) -> str:
    """The visible text through BeautifulSoup's tree (any HTML)."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        _warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML mail: read as HTML, as it should be
        soup = BeautifulSoup(html, "html.parser")
    out = _Lines()
    pre = 0
    stack: list[object] = [iter(soup.contents)]
    while stack:
        top = stack[-1]
        if top is _BREAK:
            stack.pop()
            out.newline()
            continue
        if top is _PARAGRAPH:
            stack.pop()
            out.newline(blank=True)
            continue
        if top is _END_QUOTE:
            stack.pop()
            out.newline(blank=True)
            out.depth -= 1
            continue
        if top is _END_PRE:
            stack.pop()
            pre -= 1
            continue
        node = next(top, None)  # type: ignore[call-overload]
        if node is None:
            stack.pop()
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):
                continue  # comments, doctype, CDATA, processing instructions
            if pre:
                out.add_pre(str(node))
            else:
                text = _SPACES.sub(" ", str(node))
                if text.strip() or (out.words and text == " "):
                    out.add(text)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name.lower() if node.name else ""
        if name in _SKIP:
            continue
        style = node.attrs.get("style") if node.attrs else None
        if style and isinstance(style, str) and _HIDDEN.search(style):
            continue
        if name == "br":
            out.newline(force=True)
            continue
        if name == "img":
            alt = node.attrs.get("alt") if node.attrs else None
            if isinstance(alt, str) and alt.strip():
                out.add(alt.strip())
            continue
        if name in _CELL:
            out.add(" ")
            stack.append(iter(node.contents))
            continue
        if name == "p" and _is_mso_line(node):
            # Word/Outlook HTML: each <p class=MsoNormal> is one line (margin 0); an empty one
            # (<o:p>&nbsp;</o:p>) is a blank line.
            out.newline()
            if not node.get_text().strip():
                out.newline(force=True)
                continue
            stack.append(_BREAK)
            stack.append(iter(node.contents))
            continue
        if name in _BLOCK:
            stack.append(_open_block(out, name))
            if name == "pre":
                pre += 1
                stack.append(_END_PRE)
            if name == "li":
                out.add("- ")
            stack.append(iter(node.contents))
            continue
        stack.append(iter(node.contents))
    return out.text()
