"""Simple HTML read in one pass gives exactly the text of the BeautifulSoup tree walk.

``html_to_text`` reads the simple HTML most mail carries (nested blocks and inline tags, a few
entities) without building a tree; anything else goes through BeautifulSoup. Whenever the one-pass
reader answers, its text must be the tree walk's.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ingest.html import _simple_html_to_text, _soup_to_text, html_to_text

_TAGS = ["p", "div", "span", "b", "i", "a", "blockquote", "ul", "ol", "li", "h1", "h3", "table", "tr", "td",
         "th", "body", "html", "center", "strong", "em", "font", "section", "P", "DIV", "Td"]
_OTHER = ["pre", "img", "script", "style", "title", "head", "o:p", "select", "q", "label", "wbr"]
_TEXTS = ["Hello", "refund", " ", "  ", "\n", "\t", "\u00a0", "\u200b", "&amp;", "&lt;", "&gt;", "&quot;",
          "&nbsp;", "&#39;", "a&b", "x > y", "&eacute;", "&#12354;", "返品", ">", "- ", "it's", "\r\n", ""]
_ATTRS = ['', ' dir="ltr"', ' href="https://example.com/a?b"', ' style="display:none"', ' class="MsoNormal"',
          ' id="x"', " dir='ltr'", ' data-x="1"', ' CLASS="q"', ' hidden="hidden"']


def _doc(rng: random.Random, depth: int = 0) -> str:
    out = []
    for _ in range(rng.randrange(0, 5)):
        kind = rng.random()
        if kind < 0.4:
            out.append(rng.choice(_TEXTS))
        elif kind < 0.5:
            out.append(rng.choice(["<br>", "<br/>", "<br />", "<hr>", "<BR>", "<hr/>", "</br>", "<p/>"]))
        elif depth < 5:
            tag = rng.choice(_TAGS if rng.random() < 0.9 else _OTHER)
            attrs = rng.choice(_ATTRS) if rng.random() < 0.3 else ""
            inner = _doc(rng, depth + 1)
            close = f"</{tag}>" if rng.random() < 0.95 else rng.choice(["", "</p>", "</div>"])
            out.append(f"<{tag}{attrs}>{inner}{close}")
    return "".join(out)


def _agrees(html: str) -> bool:
    """True when the one-pass reader answered (and then it must equal the tree walk)."""
    fast = _simple_html_to_text(html)
    if fast is None:
        return False
    assert fast == _soup_to_text(html), html
    return True


def test_one_pass_reader_equals_the_tree_walk_on_generated_html() -> None:
    rng = random.Random(11)
    answered = sum(_agrees(_doc(rng)) for _ in range(2500))
    assert answered > 800  # most generated documents are simple enough to be read in one pass


@settings(max_examples=800, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<b>", "</b>", "<br>", "<li>", "</li>",
                                 "<blockquote>", "</blockquote>", "<td>", "</td>", "<hr>", " ", "\n", "x y",
                                 "&amp;", "&nbsp;", "<", "&", "Z"]), max_size=14))
def test_one_pass_reader_equals_the_tree_walk_on_any_token_sequence(tokens: list[str]) -> None:
    html = "".join(tokens)
    if html.strip():
        _agrees(html)


def test_mail_shaped_html_is_read_in_one_pass() -> None:
    web_form = "<html><body><p>Hello,</p><p>Fish &amp; chips &lt;3 it&#39;s &quot;late&quot;</p><p>Regards</p></body></html>"
    gmail = ('<div dir="ltr"><div>Hi,</div><div><br></div><div>The kettle&nbsp;broke.</div>'
             '<blockquote><div>old</div></blockquote></div>')
    for html in (web_form, gmail):
        assert _simple_html_to_text(html) is not None
        assert html_to_text(html) == _soup_to_text(html)
    assert html_to_text(web_form) == "Hello,\n\nFish & chips <3 it's \"late\"\n\nRegards"


def test_anything_else_goes_through_the_tree() -> None:
    for html in ("<p>a<img alt='x'></p>", "<p style='display:none'>a</p>", "<!-- c --><p>a</p>",
                 "<p>unclosed", "<p>a</div>", "<pre> x</pre>", "a < b", "&eacute;"):
        assert _simple_html_to_text(html) is None
