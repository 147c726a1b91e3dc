"""HTML to the text a person reads."""

from __future__ import annotations

from gateway.ingest import html_to_text, ingest


def test_script_style_head_and_hidden_elements_are_dropped():
    html = (
        "<html><head><title>Order</title><style>.x{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Visible</p><div style='display: none'>preheader</div>"
        "<noscript>enable js</noscript><!-- a comment --></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_block_elements_become_line_breaks_and_inline_ones_do_not():
    html = "<div>One <b>bold</b> <i>word</i></div><div>Two</div><p>Three<br>Four</p><h2>Five</h2>"
    assert html_to_text(html) == "One bold word\nTwo\n\nThree\nFour\n\nFive"


def test_entities_are_decoded_and_whitespace_collapsed():
    html = "<p>Fish &amp; chips&nbsp;&eacute;t&eacute; &#12354;&#x3044; &lt;b&gt;\n   not bold</p>"
    assert html_to_text(html) == "Fish & chips été あい <b> not bold"


def test_lists_tables_and_pre():
    html = "<ul><li>a</li><li>b</li></ul><table><tr><td>k</td><td>v</td></tr></table><pre>  x\n    y</pre>"
    assert html_to_text(html) == "- a\n- b\n\nk v\n\n  x\n    y"


def test_blockquote_lines_are_marked_as_quotes():
    html = "<div>Reply</div><blockquote><div>old line</div><blockquote>older</blockquote></blockquote>"
    assert html_to_text(html) == "Reply\n\n> old line\n\n> > older"


def test_gmail_style_empty_divs_give_blank_lines():
    assert html_to_text("<div>Hi</div><div><br></div><div>Thanks</div>") == "Hi\n\nThanks"


def test_outlook_mso_paragraphs_are_lines():
    html = '<p class="MsoNormal">Regards,<o:p></o:p></p><p class="MsoNormal">Kim<o:p></o:p></p>' \
           '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">PS</p>'
    assert html_to_text(html) == "Regards,\nKim\n\nPS"


def test_image_alt_text_is_kept():
    assert html_to_text('<p>Rating: <img src="x.png" alt="1 star"></p>') == "Rating: 1 star"


def test_empty_and_text_only_input():
    assert html_to_text("") == ""
    assert html_to_text("   ") == ""
    assert html_to_text("just text") == "just text"


def test_deeply_nested_html_does_not_exhaust_the_stack():
    depth = 20_000
    assert html_to_text("<div>" * depth + "deep" + "</div>" * depth) == "deep"


def test_html_only_mail_in_shift_jis_is_decoded_then_converted():
    body = "<p>返品&amp;交換</p><p>①について</p>".encode("cp932")
    raw = (
        b"From: a@example.jp\r\nSubject: x\r\nContent-Type: text/html; charset=shift_jis\r\n\r\n" + body
    )
    message = ingest(raw)
    assert message.text == "返品&交換\n\n①について"
    assert message.decoder == "cp932"
