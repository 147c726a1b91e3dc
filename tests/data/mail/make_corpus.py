"""Writes the raw test messages in this folder (``python tests/data/mail/make_corpus.py``).

The .eml files are committed; this script documents how their bytes were made. Each message is
shaped the way its client writes mail (headers, MIME structure, transfer encoding, charset, quote
style). Charset conversions are done byte by byte here (not through gateway code), so the tests
check the gateway against independently made bytes.
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sjis_to_jis(data: bytes) -> bytes:
    """cp932 bytes -> ISO-2022-JP as Microsoft writes it (CP50220): JIS X 0208 code points, NEC row 13
    and NEC-selected IBM kanji included, one ESC $ B ... ESC ( B run per stretch of double-byte text."""
    out = bytearray()
    double = False
    i = 0
    while i < len(data):
        s1 = data[i]
        if s1 < 0x80:
            if double:
                out += b"\x1b(B"
                double = False
            out.append(s1)
            i += 1
            continue
        s2 = data[i + 1]
        i += 2
        j1 = ((s1 - (0x70 if s1 < 0xA0 else 0xB0)) << 1) - 1
        if s2 >= 0x9F:
            j1 += 1
            j2 = s2 - 0x7E
        else:
            j2 = s2 - (0x1F if s2 < 0x7F else 0x20)
        if not double:
            out += b"\x1b$B"
            double = True
        out += bytes((j1, j2))
    if double:
        out += b"\x1b(B"
    return bytes(out)


def jis(text: str) -> bytes:
    return sjis_to_jis(text.encode("cp932"))


def b_word(text: str, charset: str, data: bytes | None = None) -> str:
    raw = data if data is not None else text.encode(charset)
    return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def qp(data: bytes) -> bytes:
    return quopri.encodestring(data.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")


def b64(data: bytes) -> bytes:
    encoded = base64.encodebytes(data)
    return encoded.replace(b"\n", b"\r\n")


def write(name: str, *chunks: bytes | str) -> None:
    data = b"".join(c.encode("ascii") if isinstance(c, str) else c for c in chunks)
    (HERE / name).write_bytes(data)


def gmail_reply() -> None:
    plain = crlf(
        "Hi,\n\nThe replacement kettle arrived today but it has the same crack in the lid.\n"
        "Could you send a prepaid return label, please?\n\nThanks,\nDana\n\n"
        "-- \nDana Whitfield\n+1 555 0100\n\n"
        "On Fri, Jan 5, 2024 at 4:02\u202fPM Acme Support <support@example.com>\nwrote:\n\n"
        "> Hello Dana,\n>\n> We are sorry to hear about the kettle. A replacement is on its way.\n>\n"
        "> Acme Support\n>\n"
    )
    html = crlf(
        '<div dir="ltr"><div>Hi,</div><div><br></div><div>The replacement kettle arrived today but it has the '
        "same crack in the lid.</div><div>Could you send a prepaid return label, please?</div><div><br></div>"
        '<div>Thanks,</div><div>Dana</div><div><br></div><span class="gmail_signature_prefix">-- </span><br>'
        '<div dir="ltr" class="gmail_signature">Dana Whitfield<br>+1 555 0100</div></div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Jan 5, 2024 at 4:02\u202fPM Acme '
        'Support &lt;<a href="mailto:support@example.com">support@example.com</a>&gt; wrote:<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        'rgb(204,204,204);padding-left:1ex"><div>Hello Dana,</div><div><br></div><div>We are sorry to hear '
        "about the kettle. A replacement is on its way.</div><div><br></div><div>Acme Support</div>"
        "</blockquote></div>\n"
    )
    boundary = "000000000000f3a1c2060e9b0d7c"
    write(
        "gmail_reply.eml",
        crlf(
            "Received: by 2002:a05:6a10:1234 with SMTP id x20csp123456pxb;\n"
            "        Mon, 8 Jan 2024 01:12:44 -0800 (PST)\n"
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=20230601;\n"
            "        h=to:subject:message-id:date:from:in-reply-to:references:mime-version;\n"
            "        bh=g3zLYH4xKxcPrHOD18z9YfpQcnk/GaJedfustWU5uGs=;\n"
            "        b=Qm9ndXMgc2lnbmF0dXJlIGZvciB0ZXN0cw==\n"
            "MIME-Version: 1.0\n"
            "References: <CAJ8x1=first@mail.example.net> <reply-8812@example.com>\n"
            "In-Reply-To: <reply-8812@example.com>\n"
            "From: Dana Whitfield <Dana.Whitfield+orders@example.net>\n"
            "Date: Mon, 8 Jan 2024 09:12:44 +0000\n"
            "Message-ID: <CAJ8x1=second+abc@mail.example.net>\n"
            "Subject: Re: Your replacement kettle [#40021]\n"
            "To: Acme Support <support@example.com>\n"
            f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
            f"--{boundary}\n"
            'Content-Type: text/plain; charset="UTF-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
        ),
        qp(plain.encode("utf-8")),
        crlf(f"\n--{boundary}\nContent-Type: text/html; charset=\"UTF-8\"\n"
             "Content-Transfer-Encoding: quoted-printable\n\n"),
        qp(html.encode("utf-8")),
        crlf(f"\n--{boundary}--\n"),
    )


def gmail_reply_ja() -> None:
    plain = (
        "サポートご担当者様\n\nお世話になっております。\n商品はまだ届いていません。配送状況を確認していただけますか。\n\n"
        "よろしくお願いいたします。\n佐藤\n\n"
        "2024年1月5日(金) 16:02 Acme サポート <support@example.com>:\n\n"
        "> 佐藤様\n>\n> お問い合わせありがとうございます。\n> 本日発送いたしました。\n>\n"
    )
    write(
        "gmail_reply_ja.eml",
        crlf(
            "MIME-Version: 1.0\n"
            "References: <CAKsato-first@mail.example.jp>\n"
            "In-Reply-To: <CAKsato-first@mail.example.jp>\n"
            "From: =?UTF-8?B?5L2Q6Jek5LiA6YOO?= <ichiro.sato@example.jp>\n"
            "Date: Mon, 8 Jan 2024 18:30:00 +0900\n"
            "Message-ID: <CAKsato-second@mail.example.jp>\n"
            f"Subject: {b_word('Re: 注文番号 40022 の配送について', 'UTF-8')}\n"
            "To: support@example.com\n"
            'Content-Type: text/plain; charset="UTF-8"\nContent-Transfer-Encoding: base64\n\n'
        ),
        b64(crlf(plain).encode("utf-8")),
    )


def outlook_reply() -> None:
    plain = crlf(
        "Hello,\n\nI still have not received the refund you promised on 2 January. Please confirm the date it "
        "will be paid.\n\nRegards,\nMartin Keller\n\n"
        "From: Acme Support <support@example.com> \nSent: Tuesday, January 2, 2024 10:15 AM\n"
        "To: Martin Keller <m.keller@example.org>\nSubject: RE: Refund for order 38817\n\n"
        "Dear Martin,\n\nYour refund has been approved and will be paid within 5 business days.\n\n"
        "Kind regards,\nAcme Support\n"
    )
    html = crlf(
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv="Content-Type" '
        'content="text/html; charset=us-ascii"><style><!-- p.MsoNormal {margin:0cm;font-size:11.0pt;} --></style>'
        '</head><body lang="EN-GB"><div class="WordSection1"><p class="MsoNormal">Hello,<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">I still have not received the refund you '
        "promised on 2 January. Please confirm the date it will be paid.<o:p></o:p></p>"
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Regards,<o:p></o:p></p>'
        '<p class="MsoNormal">Martin Keller<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>From:</b> Acme Support &lt;support@example.com&gt; <br><b>Sent:</b> Tuesday, '
        "January 2, 2024 10:15 AM<br><b>To:</b> Martin Keller &lt;m.keller@example.org&gt;<br><b>Subject:</b> RE: "
        'Refund for order 38817<o:p></o:p></p></div></div><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">Dear Martin,<o:p></o:p></p><p class="MsoNormal">Your refund has been approved and '
        "will be paid within 5 business days.<o:p></o:p></p></div></body></html>\n"
    )
    boundary = "_000_AM0PR01MB1234ABCDEFexampleorg_"
    write(
        "outlook_reply.eml",
        crlf(
            "From: Martin Keller <m.keller@example.org>\n"
            "To: Acme Support <support@example.com>\n"
            "Subject: RE: Refund for order 38817\n"
            "Thread-Topic: Refund for order 38817\n"
            "Thread-Index: AQHaPQ1bXk1d2i3vQ0WmZ0yC7s2pKw==\n"
            "Date: Thu, 4 Jan 2024 14:03:11 +0100\n"
            "Message-ID: <AM0PR01MB1234ABCDEF@AM0PR01MB1234.eurprd01.prod.example.org>\n"
            "References: <acme-38817-1@example.com>\n"
            "In-Reply-To: <acme-38817-1@example.com>\n"
            "Accept-Language: en-GB, en-US\n"
            "Content-Language: en-GB\n"
            "X-MS-Has-Attach:\n"
            f'Content-Type: multipart/alternative;\n\tboundary="{boundary}"\n'
            "MIME-Version: 1.0\n\n"
            f"--{boundary}\n"
            'Content-Type: text/plain; charset="us-ascii"\nContent-Transfer-Encoding: quoted-printable\n\n'
        ),
        qp(plain.encode("ascii")),
        crlf(f"\n--{boundary}\nContent-Type: text/html; charset=\"us-ascii\"\n"
             "Content-Transfer-Encoding: quoted-printable\n\n"),
        qp(html.encode("ascii")),
        crlf(f"\n--{boundary}--\n"),
    )


def outlook_ja_html() -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-2022-jp"></head>'
        '<body lang="JA"><div class="WordSection1"><p class="MsoNormal">Acme株式会社　ご担当者様<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">返品の手続きについて、①返送先の住所と②返金の時期を教えてください。<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">髙橋<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0mm 0mm 0mm">'
        '<p class="MsoNormal"><b>差出人<span lang="EN-US">:</span></b><span lang="EN-US"> Acme サポート '
        "&lt;support@example.com&gt; <br></span><b>送信日時<span lang=\"EN-US\">:</span></b> 2024年1月5日 16:02"
        "<br><b>宛先<span lang=\"EN-US\">:</span></b> 髙橋 &lt;takahashi@example.co.jp&gt;<br>"
        "<b>件名<span lang=\"EN-US\">:</span></b> RE: 返品について<o:p></o:p></p></div>"
        '<p class="MsoNormal">髙橋様<o:p></o:p></p><p class="MsoNormal">返品を承りました。<o:p></o:p></p>'
        "</div></body></html>\n"
    )
    write(
        "outlook_ja_html.eml",
        crlf(
            f"From: {b_word('髙橋', 'iso-2022-jp', jis('髙橋'))} <takahashi@example.co.jp>\n"
            "To: support@example.com\n"
            f"Subject: {b_word('RE: 返品について', 'iso-2022-jp', jis('RE: 返品について'))}\n"
            "Date: Fri, 5 Jan 2024 17:45:10 +0900\n"
            "Message-ID: <TYAPR01MB5678@TYAPR01MB5678.jpnprd01.prod.example.co.jp>\n"
            "In-Reply-To: <acme-returns-77@example.com>\n"
            'Content-Type: text/html; charset="iso-2022-jp"\n'
            "Content-Transfer-Encoding: 7bit\nMIME-Version: 1.0\n\n"
        ),
        crlf(html).encode("ascii", "surrogateescape") if html.isascii() else jis(crlf(html)),
    )


def apple_mail() -> None:
    plain = crlf(
        "Still broken. I would like a call back today, please.\n\nSent from my iPhone\n\n"
        "> On Jan 5, 2024, at 16:02, Acme Support <support@example.com> wrote:\n>\n"
        "> \ufeffHello,\n> Please restart the router and tell us if the light turns green.\n"
    )
    html = crlf(
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto">'
        "Still broken. I would like a call back today, please.<br><br><div dir=\"ltr\">Sent from my iPhone</div>"
        '<div dir="ltr"><br><blockquote type="cite">On Jan 5, 2024, at 16:02, Acme Support '
        '&lt;support@example.com&gt; wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">'
        "\ufeffHello,<br>Please restart the router and tell us if the light turns green.</div></blockquote>"
        "</body></html>\n"
    )
    boundary = "Apple-Mail-4D3F2C1B-9A8E-4F7D-B6C5-3E2D1C0B9A8F"
    write(
        "apple_mail.eml",
        crlf(
            f'Content-Type: multipart/alternative; boundary={boundary}\n'
            "Content-Transfer-Encoding: 7bit\n"
            "From: Priya Natarajan <priya.n@example.org>\n"
            "Mime-Version: 1.0 (1.0)\n"
            "Date: Sat, 6 Jan 2024 08:01:15 -0500\n"
            "Subject: Re: Router still offline\n"
            "Message-Id: <5C1D2E3F-4A5B-6C7D-8E9F-0A1B2C3D4E5F@example.org>\n"
            "References: <acme-router-3@example.com>\n"
            "In-Reply-To: <acme-router-3@example.com>\n"
            "To: Acme Support <support@example.com>\n"
            "X-Mailer: iPhone Mail (21C66)\n\n\n"
            f"--{boundary}\nContent-Type: text/plain;\n\tcharset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        ),
        qp(plain.encode("utf-8")),
        crlf(f"\n--{boundary}\nContent-Type: text/html;\n\tcharset=utf-8\n"
             "Content-Transfer-Encoding: quoted-printable\n\n"),
        qp(html.encode("utf-8")),
        crlf(f"\n--{boundary}--\n"),
    )


def carrier_iso2022jp() -> None:
    body = crlf(
        "お世話になります。\n注文番号①と②の商品が届きません。\n"
        "㈱アクメの髙橋様からの連絡もありません。\n至急確認してください。\n"
    )
    subject = "①②の注文について"
    encoded = jis(subject)
    half = 3 + 2 * 4  # two encoded words of four characters each, as carrier gateways fold them
    first = b_word("", "ISO-2022-JP", encoded[:half] + b"\x1b(B")
    second = b_word("", "ISO-2022-JP", b"\x1b$B" + encoded[half:])
    write(
        "carrier_iso2022jp.eml",
        crlf(
            "Return-Path: <keiko-m.0312@docomo.example.ne.jp>\n"
            "Received: from mfsmax.docomo.example.ne.jp (mfsmax.docomo.example.ne.jp [203.0.113.7])\n"
            "\tby mx.example.com with ESMTP id 4T8k2L; Tue, 9 Jan 2024 07:41:02 +0900 (JST)\n"
            "Date: Tue, 9 Jan 2024 07:40:58 +0900 (JST)\n"
            f"From: {b_word('三浦恵子', 'ISO-2022-JP', jis('三浦恵子'))} <Keiko-M.0312@docomo.example.ne.jp>\n"
            "To: support@example.com\n"
            f"Subject: {first}\n {second}\n"
            "Message-ID: <20240109074058.9f3c.keiko@docomo.example.ne.jp>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=ISO-2022-JP\n"
            "Content-Transfer-Encoding: 7bit\n"
            "X-Mailer: docomo spmode mail\n\n"
        ),
        jis(body),
    )


def sjis_mislabeled() -> None:
    body = crlf("返金はいつになりますか。①の商品は未開封です。\n高田\n")
    write(
        "sjis_mislabeled_iso2022jp.eml",
        crlf(
            "From: takada@example.co.jp\n"
            "To: support@example.com\n"
            f"Subject: {b_word('返金について', 'ISO-2022-JP', jis('返金について'))}\n"
            "Date: Wed, 10 Jan 2024 12:00:00 +0900\n"
            "Message-ID: <sjis-mislabel-1@example.co.jp>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=ISO-2022-JP\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        body.encode("cp932"),
    )


def eucjp() -> None:
    body = crlf("いつもお世話になっております。\n請求書の再発行をお願いできますでしょうか。\n")
    write(
        "eucjp.eml",
        crlf(
            "From: =?EUC-JP?B?" + base64.b64encode("小林".encode("euc_jp")).decode() + "?= <kobayashi@example.jp>\n"
            "To: support@example.com\n"
            "Subject: =?EUC-JP?B?" + base64.b64encode("請求書の再発行".encode("euc_jp")).decode() + "?=\n"
            "Date: Thu, 11 Jan 2024 09:00:00 +0900\n"
            "Message-ID: <eucjp-1@example.jp>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=EUC-JP\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        body.encode("euc_jp"),
    )


def latin1() -> None:
    body = crlf("Bonjour,\n\nMa commande n'est pas arrivée. Merci de vérifier.\n\nRenée Lefèvre\n")
    write(
        "latin1.eml",
        crlf(
            "From: =?iso-8859-1?Q?Ren=E9e_Lef=E8vre?= <renee.lefevre@example.fr>\n"
            "To: support@example.com\n"
            "Subject: =?iso-8859-1?Q?Commande_non_re=E7ue?=\n"
            "Date: Fri, 12 Jan 2024 10:00:00 +0100\n"
            "Message-ID: <latin1-1@example.fr>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="iso-8859-1"\n'
            "Content-Transfer-Encoding: quoted-printable\n\n"
        ),
        qp(body.encode("latin-1")),
    )


def windows1252() -> None:
    body = crlf("I was charged \u20ac49 twice \u2014 that\u2019s \u201cunacceptable\u201d. Please fix it.\n")
    write(
        "windows1252.eml",
        crlf(
            "From: Sean O'Brien <sean.obrien@example.ie>\n"
            "To: support@example.com\n"
            "Subject: Double charge\n"
            "Date: Fri, 12 Jan 2024 11:00:00 +0000\n"
            "Message-ID: <cp1252-1@example.ie>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="Windows-1252"\n'
            "Content-Transfer-Encoding: quoted-printable\n\n"
        ),
        qp(body.encode("cp1252")),
    )


def rfc2047() -> None:
    write(
        "rfc2047_subjects.eml",
        crlf(
            "From: =?ISO-8859-1?Q?Jos=E9_Mart=EDnez?= <jose.martinez@example.es>\n"
            "Reply-To: =?UTF-8?Q?Jos=C3=A9?= <jose+replies@example.es>\n"
            "To: support@example.com\n"
            "Subject: =?UTF-8?B?UmU6IM6RzrvOu86xzrPOrg==?= =?UTF-8?Q?_de_direcci=C3=B3n?= and\n"
            " plain words =?ISO-8859-1?Q?=BFAyuda=3F?=\n"
            "Date: Sat, 13 Jan 2024 10:00:00 +0100\n"
            "Message-ID: <rfc2047-1@example.es>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        crlf("Necesito cambiar la dirección de entrega.\n").encode("utf-8"),
    )


def html_only() -> None:
    html = crlf(
        "<!DOCTYPE html><html><head><title>Contact form</title><style>body{font-family:sans-serif}</style>"
        "<script>window.track&&track('open')</script></head><body>\n"
        "<h1>Contact form submission</h1>\n<p>Name: Lee&nbsp;Morgan<br>Order: 40077</p>\n"
        "<p>The charger &amp; cable don&#39;t fit &ndash; I need a UK plug.</p>\n"
        "<ul><li>Model: X200</li><li>Bought: &quot;last week&quot;</li></ul>\n"
        "<table><tr><td>Priority</td><td>normal</td></tr></table>\n"
        '<p style="display:none">preheader text nobody sees</p><!-- tracking comment -->\n'
        "</body></html>\n"
    )
    write(
        "html_only.eml",
        crlf(
            "From: Contact Form <no-reply@forms.example.com>\n"
            "Reply-To: Lee Morgan <lee.morgan@example.co.uk>\n"
            "To: support@example.com\n"
            "Subject: Contact form: charger does not fit\n"
            "Date: Sun, 14 Jan 2024 10:00:00 +0000\n"
            "Message-ID: <form-40077@forms.example.com>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/html; charset="utf-8"\n'
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        html.encode("utf-8"),
    )


def forwarded_chain() -> None:
    body = crlf(
        "This is the third time I am sending this. Please answer.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Alex Chen <alex.chen@example.com>\nDate: Wed, Jan 10, 2024 at 9:00 AM\n"
        "Subject: Fwd: Warranty claim\nTo: <support@example.com>\n\n"
        "Second try, no answer yet.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Alex Chen <alex.chen@example.com>\nDate: Mon, Jan 8, 2024 at 9:00 AM\n"
        "Subject: Warranty claim\nTo: <support@example.com>\n\n"
        "My blender stopped working after two months. I would like a warranty repair.\n"
    )
    write(
        "forwarded_chain.eml",
        crlf(
            "From: Alex Chen <alex.chen@example.com>\n"
            "To: support@example.com\n"
            "Subject: Fwd: Fwd: Warranty claim\n"
            "Date: Fri, 12 Jan 2024 09:00:00 -0800\n"
            "Message-ID: <CAFwd-3@mail.example.com>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="UTF-8"\n\n'
        ),
        body.encode("utf-8"),
    )


def forward_as_attachment() -> None:
    inner = crlf(
        "From: Alex Chen <alex.chen@example.com>\nTo: support@example.com\nSubject: Warranty claim\n"
        "Date: Mon, 8 Jan 2024 09:00:00 -0800\nMessage-ID: <CAFwd-1@mail.example.com>\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "My blender stopped working after two months. I would like a warranty repair.\n"
    )
    boundary = "Apple-Mail=_2F0E3B7A-1C2D-4E5F-8A9B-0C1D2E3F4A5B"
    write(
        "forward_as_attachment.eml",
        crlf(
            "From: Alex Chen <alex.chen@example.com>\n"
            "To: support@example.com\n"
            "Subject: Fwd: Warranty claim\n"
            "Date: Fri, 12 Jan 2024 09:30:00 -0800\n"
            "Message-ID: <fwd-attached-1@example.com>\n"
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\nSee my original claim attached.\n\n"
            f"--{boundary}\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"Warranty claim.eml\"\n\n"
        ),
        inner.encode("ascii"),
        crlf(f"\n--{boundary}--\n"),
    )


def bounce() -> None:
    boundary = "2B4A1C7F0E.1705300000/mx.example.com"
    write(
        "bounce.eml",
        crlf(
            "Return-Path: <>\n"
            "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
            "To: support@example.com\n"
            "Subject: Undelivered Mail Returned to Sender\n"
            "Auto-Submitted: auto-replied\n"
            "Date: Mon, 15 Jan 2024 06:40:00 +0000 (UTC)\n"
            "Message-Id: <20240115064000.2B4A1C7F0E@mx.example.com>\n"
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"\n\n'
            "This is a MIME-encapsulated message.\n\n"
            f"--{boundary}\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
            "This is the mail system at host mx.example.com.\n\n"
            "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
            "<nobody@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n\n"
            f"--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx.example.com\nArrival-Date: Mon, 15 Jan 2024 06:39:58 +0000 (UTC)\n\n"
            "Final-Recipient: rfc822; nobody@example.org\nAction: failed\nStatus: 5.1.1\n\n"
            f"--{boundary}\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"
            "From: support@example.com\nTo: nobody@example.org\nSubject: Your ticket #40021\n"
            "Message-ID: <acme-40021-9@example.com>\n\n"
            f"--{boundary}--\n"
        ),
    )


def auto_reply() -> None:
    write(
        "auto_reply.eml",
        crlf(
            "From: Jordan Blake <jordan.blake@example.org>\n"
            "To: support@example.com\n"
            "Subject: Automatic reply: Your ticket #40088\n"
            "Auto-Submitted: auto-replied\n"
            "X-Auto-Response-Suppress: All\n"
            "Precedence: bulk\n"
            "Date: Mon, 15 Jan 2024 08:00:00 +0000\n"
            "Message-ID: <auto-40088@example.org>\n"
            "In-Reply-To: <acme-40088-2@example.com>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "I am out of the office until 22 January with limited access to email.\n"
        ),
    )


def lying_charset() -> None:
    write(
        "lying_charset.eml",
        crlf(
            "From: Zoe Muller <zoe.muller@example.de>\n"
            "To: support@example.com\n"
            "Subject: Lieferung\n"
            "Date: Tue, 16 Jan 2024 10:00:00 +0100\n"
            "Message-ID: <lying-1@example.de>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        crlf("Die Lieferung ist beschädigt. Grüße, Zoë\n").encode("cp1252"),
    )


def unknown_charset() -> None:
    write(
        "unknown_charset.eml",
        crlf(
            "From: Mia Novak <mia.novak@example.cz>\n"
            "To: support@example.com\n"
            "Subject: Invoice\n"
            "Date: Tue, 16 Jan 2024 11:00:00 +0100\n"
            "Message-ID: <unknown-cs-1@example.cz>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=x-mac-unheard-of\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        crlf("Prosím o fakturu. Děkuji.\n").encode("utf-8"),
    )


def attachments() -> None:
    boundary = "----=_Part_1234_5678.1705400000000"
    pdf = b"%PDF-1.4\n% test invoice\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    write(
        "attachments.eml",
        crlf(
            "From: Hana Ito <hana.ito@example.jp>\n"
            "To: support@example.com\n"
            "Subject: Photo of the damage\n"
            "Date: Wed, 17 Jan 2024 10:00:00 +0900\n"
            "Message-ID: <attach-1@example.jp>\n"
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n"
            "The box arrived crushed. Photo and invoice attached.\n\n"
            f"--{boundary}\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment;\n filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.pdf\n\n"
        ),
        b64(pdf),
        crlf(f"\n--{boundary}\nContent-Type: image/png; name=\"=?UTF-8?B?5YaZ55yfLnBuZw==?=\"\n"
             "Content-Transfer-Encoding: base64\nContent-Disposition: inline\n\n"),
        b64(png),
        crlf(f"\n--{boundary}--\n"),
    )


def outlook_original_message() -> None:
    body = crlf(
        "Please cancel my subscription from next month.\n\nBest,\nOmar\n\n"
        "-----Original Message-----\nFrom: Acme Billing <billing@example.com>\n"
        "Sent: Monday, January 15, 2024 9:00 AM\nTo: Omar Haddad <omar.haddad@example.com>\n"
        "Subject: Your January invoice\n\nYour invoice is attached.\n"
    )
    write(
        "outlook_original_message.eml",
        crlf(
            "From: Omar Haddad <omar.haddad@example.com>\n"
            "To: billing@example.com\n"
            "Subject: RE: Your January invoice\n"
            "Date: Tue, 16 Jan 2024 10:00:00 +0000\n"
            "Message-ID: <000001da4861$1a2b3c4d$5e6f7a8b@example.com>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="us-ascii"\n'
            "Content-Transfer-Encoding: 7bit\n"
            "X-Mailer: Microsoft Outlook 16.0\n\n"
        ),
        body.encode("ascii"),
    )


def outlook_original_message_ja() -> None:
    body = crlf(
        "お世話になっております。\n先日の件、担当の方から折り返しのお電話をお願いします。\n\n"
        "-----元のメッセージ-----\n差出人: Acme サポート [mailto:support@example.com] \n"
        "送信日時: Monday, January 15, 2024 9:00 AM\n宛先: 中村 <nakamura@example.co.jp>\n件名: お問い合わせの件\n\n"
        "中村様\nお問い合わせありがとうございます。\n"
    )
    write(
        "outlook_original_message_ja.eml",
        crlf(
            f"From: {b_word('中村', 'shift_jis', '中村'.encode('cp932'))} <nakamura@example.co.jp>\n"
            "To: support@example.com\n"
            f"Subject: {b_word('RE: お問い合わせの件', 'shift_jis', 'RE: お問い合わせの件'.encode('cp932'))}\n"
            "Date: Tue, 16 Jan 2024 10:00:00 +0900\n"
            "Message-ID: <000101da4862$aabbccdd$eeff0011@example.co.jp>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="shift_jis"\n'
            "Content-Transfer-Encoding: 8bit\n"
            "X-Mailer: Microsoft Outlook 14.0\n\n"
        ),
        body.encode("cp932"),
    )


def thunderbird_ja() -> None:
    body = crlf(
        "回答ありがとうございます。\nでは来週までに交換品を送ってください。\n\n"
        "Acme サポート さんは書きました:\n> 交換品の発送には一週間ほどかかります。\n> ご了承ください。\n"
    )
    write(
        "thunderbird_ja.eml",
        crlf(
            "From: =?UTF-8?B?5p2+5pys?= <matsumoto@example.jp>\n"
            "To: support@example.com\n"
            "Subject: =?UTF-8?B?UmU6IOS6pOaPm+OBq+OBpOOBhOOBpg==?=\n"
            "Date: Wed, 17 Jan 2024 21:00:00 +0900\n"
            "Message-ID: <tb-ja-1@example.jp>\n"
            "In-Reply-To: <acme-exchange-5@example.com>\n"
            "User-Agent: Mozilla/5.0 Thunderbird/115.6.0\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ),
        body.encode("utf-8"),
    )


def apple_mail_ja() -> None:
    body = crlf(
        "確認しました。明日もう一度試します。\n\niPhoneから送信\n\n"
        "2024/01/17 10:00、Acme サポート <support@example.com>のメール:\n\n"
        "> 再起動をお試しください。\n"
    )
    write(
        "apple_mail_ja.eml",
        crlf(
            "From: =?utf-8?B?5Lit5bGx?= <nakayama@example.jp>\n"
            "To: support@example.com\n"
            "Subject: =?utf-8?B?UmU6IOaOpee2muOBp+OBjeOBquOBhA==?=\n"
            "Date: Wed, 17 Jan 2024 22:00:00 +0900\n"
            "Message-Id: <AB12CD34-apple-ja@example.jp>\n"
            "Mime-Version: 1.0 (1.0)\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "X-Mailer: iPhone Mail (21C66)\n\n"
        ),
        body.encode("utf-8"),
    )


if __name__ == "__main__":
    for make in (gmail_reply, gmail_reply_ja, outlook_reply, outlook_ja_html, apple_mail, carrier_iso2022jp,
                 sjis_mislabeled, eucjp, latin1, windows1252, rfc2047, html_only, forwarded_chain,
                 forward_as_attachment, bounce, auto_reply, lying_charset, unknown_charset, attachments,
                 outlook_original_message, outlook_original_message_ja, thunderbird_ja, apple_mail_ja):
        make()
    print("\n".join(sorted(p.name for p in HERE.glob("*.eml"))))
