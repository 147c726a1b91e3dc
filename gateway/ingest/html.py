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
            paragraph = name in _PARAGRAPHS
            out.newline(blank=paragraph)
            if name == "blockquote":
                out.depth += 1
                stack.append(_END_QUOTE)
            else:
                stack.append(_PARAGRAPH if paragraph else _BREAK)
            if name == "pre":
                pre += 1
                stack.append(_END_PRE)
            if name == "li":
                out.add("- ")
            stack.append(iter(node.contents))
            continue
        stack.append(iter(node.contents))
    return out.text()
