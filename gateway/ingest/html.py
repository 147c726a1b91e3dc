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

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
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


def _open_block(out: "_Lines", name: str) -> object:
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


#: What :func:`_simple_html_to_text` reads: tags from these sets only, without style or class.
_SIMPLE_INLINE = frozenset({"a", "b", "i", "u", "em", "strong", "span", "font", "small", "big"})
_SIMPLE_BLOCK = _BLOCK - {"pre", "o:p"}
_SIMPLE_VOID = frozenset({"br", "hr"})
_SIMPLE_NAMES = _SIMPLE_INLINE | _SIMPLE_BLOCK | _SIMPLE_VOID | _CELL
#: One token of simple HTML: a start tag with plain double-quoted attributes, an end tag, text
#: without markup characters, or one of a few entities.
_SIMPLE_TOKEN = re.compile(
    r'<([a-zA-Z][a-zA-Z0-9]*)((?: [a-zA-Z][a-zA-Z-]*="[^"<>&]*")*) ?(/?)>'
    r"|</([a-zA-Z][a-zA-Z0-9]*)>"
    r"|([^<>&]+)"
    r"|&(amp|lt|gt|quot|nbsp|#39);"
)
_SIMPLE_ENTITY = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "nbsp": "\u00a0", "#39": "'"}
_SIMPLE_ATTR_NAME = re.compile(r' ([a-zA-Z][a-zA-Z-]*)=')


def _simple_html_to_text(html: str) -> "str | None":
    """What :func:`_soup_to_text` gives, for the simple HTML most mail clients and web forms send,
    read in one pass without building a tree; None for anything else.

    Simple means: properly nested tags from a short list of blocks, cells and inline tags (no
    skipped or preformatted elements, no images), no ``style`` or ``class`` attribute, ``br`` and
    ``hr`` as the only empty elements, no comments or declarations, and ``&``, ``<`` and ``>`` only
    in the entities ``&amp; &lt; &gt; &quot; &nbsp; &#39;``. Such a document has one tree, and the
    tree walk's actions happen in document order: a block's on its start and end tag, text's
    where it stands (tests/unit/test_ingest_html_fast.py compares the two on generated HTML)."""
    out = _Lines()
    open_tags: list[str] = []
    ends: list[object] = []  # per open tag: what the walk does after its children
    data: list[str] = []
    pos, n = 0, len(html)
    match = _SIMPLE_TOKEN.match
    while pos < n:
        m = match(html, pos)
        if m is None:
            return None
        pos = m.end()
        text, entity = m.group(5), m.group(6)
        if text is not None or entity is not None:
            data.append(text if text is not None else _SIMPLE_ENTITY[entity])
            continue
        if data:
            _simple_text(out, "".join(data))
            data = []
        start, end = m.group(1), m.group(4)
        if start is not None:
            name = start.lower()
            if name not in _SIMPLE_NAMES:
                return None
            attrs = m.group(2)
            if attrs and any(a.lower() in ("style", "class") for a in _SIMPLE_ATTR_NAME.findall(attrs)):
                return None
            if name in _SIMPLE_VOID:
                if name == "br":
                    out.newline(force=True)
                else:  # hr: a paragraph-like block without children
                    out.newline(blank=True)
                    out.newline(blank=True)
                continue
            if m.group(3):
                return None  # <p/>: the parser's empty-element handling differs from a void tag
            open_tags.append(name)
            if name in _CELL:
                out.add(" ")
                ends.append(None)
            elif name in _SIMPLE_BLOCK:
                ends.append(_open_block(out, name))
                if name == "li":
                    out.add("- ")
            else:
                ends.append(None)
            continue
        name = end.lower()
        if not open_tags or open_tags[-1] != name:
            return None  # not properly nested (or an end tag of an empty element)
        open_tags.pop()
        action = ends.pop()
        if action is _BREAK:
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
    text = _SPACES.sub(" ", data)
    if text.strip() or (out.words and text == " "):
        out.add(text)


def _soup_to_text(html: str) -> str:
    """The visible text through BeautifulSoup's tree (any HTML)."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
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
