"""Writes the sample Maildir the daemon's embedded defaults read (gateway/samples/maildir/cur/).

    python tests/data/mail/make_samples.py

Twelve support mails in English and Japanese: ordinary questions, an angry but legitimate
complaint, a refund request, a polite supervisor request, verbal abuse, a threat of violence, a
demand to fire an agent, a dogeza demand, and one customer's same demand three times. The files are
committed; this script documents how their bytes were made.
"""

from __future__ import annotations

import base64
from email.utils import formatdate
from pathlib import Path

from make_corpus import b_word, crlf, jis, qp

OUT = Path(__file__).resolve().parents[3] / "gateway" / "samples" / "maildir" / "cur"
BASE = 1736748000  # 2025-01-13 06:00 UTC


def date(offset):
    return formatdate(BASE + offset, localtime=False)


def write(n, offset, data):
    (OUT / f"{BASE + offset}.M{n}P1.sample:2,").write_bytes(data)


def plain(n, offset, frm, subject, body, *, charset="utf-8", cte="8bit", extra="", encode=None):
    head = crlf(
        f"Return-Path: <{frm.split('<')[-1].rstrip('>') if '<' in frm else frm}>\n"
        "Delivered-To: support@example.com\n"
        f"From: {frm}\nTo: Acme Support <support@example.com>\nSubject: {subject}\n"
        f"Date: {date(offset)}\nMessage-ID: <sample-{n}@{frm.split('@')[-1].rstrip('>')}>\n{extra}"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n"
    ).encode("ascii")
    payload = encode(crlf(body)) if encode else crlf(body).encode(charset)
    write(n, offset, head + payload)


def main() -> None:
    # 1. English ordinary question, Gmail-style multipart/alternative
    b = "000000000000sample1"
    text = ("Hi,\n\nI placed order 51204 yesterday and just noticed the delivery address is my old flat.\n"
            "Could you change it to 14 Harbour Road, Leeds LS1 4AB before it ships?\n\nThanks a lot,\nEmily\n")
    html = ('<div dir="ltr"><div>Hi,</div><div><br></div><div>I placed order 51204 yesterday and just noticed the delivery '
            'address is my old flat.</div><div>Could you change it to 14 Harbour Road, Leeds LS1 4AB before it ships?</div>'
            '<div><br></div><div>Thanks a lot,</div><div>Emily</div></div>\n')
    write(1, 0, crlf(
        "From: Emily Carter <emily.carter@example.net>\nTo: Acme Support <support@example.com>\n"
        "Subject: Change delivery address for order 51204\n"
        f"Date: {date(0)}\nMessage-ID: <CAsample1-emily@mail.example.net>\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{b}"\n\n--{b}\nContent-Type: text/plain; charset="UTF-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n").encode() + qp(crlf(text).encode()) +
        crlf(f"\n--{b}\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n\n").encode()
        + qp(crlf(html).encode()) + crlf(f"\n--{b}--\n").encode())

    # 2. Japanese ordinary question from a mobile carrier, ISO-2022-JP with circled digits
    body = ("お世話になります。\n先日注文した件で二点お伺いします。\n①領収書を発行していただくことは可能でしょうか。\n"
            "②支払い方法をコンビニ払いからクレジットカードに変更したいです。\nよろしくお願いいたします。\n山本\n")
    head = crlf(
        "Return-Path: <yamamoto.h-0715@docomo.example.ne.jp>\nFrom: "
        f"{b_word('', 'ISO-2022-JP', jis('山本 裕子'))} <yamamoto.h-0715@docomo.example.ne.jp>\n"
        "To: support@example.com\n"
        f"Subject: {b_word('', 'ISO-2022-JP', jis('①領収書と②支払い方法について'))}\n"
        f"Date: {date(1800)}\nMessage-ID: <20250113063000.sample2@docomo.example.ne.jp>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\nX-Mailer: docomo spmode mail\n\n"
    ).encode()
    write(2, 1800, head + jis(crlf(body)))

    # 3. Angry but legitimate complaint
    plain(3, 3600, "Daniel Brooks <d.brooks@example.org>", "Third delay on order 50871 - this is unacceptable",
          "Hello,\n\nThis is the THIRD time my delivery date has been pushed back. I took a day off work for the last "
          "one and nobody came. Honestly I am fed up and this is unacceptable service.\n\n"
          "I want a firm delivery date by Friday, or a refund as your terms allow. Please reply today.\n\n"
          "Daniel Brooks\n")

    # 4. Japanese refund request under the terms
    plain(4, 5400, f"{b_word('', 'UTF-8', '斎藤 健'.encode())} <saito.ken@example.jp>",
          b_word("", "UTF-8", "破損品の返金のお願い".encode()),
          "お世話になっております。\n本日届いた食器セットのうち、皿が二枚割れていました。\n"
          "写真は添付できませんが、箱も潰れていました。\n利用規約の返品条件に従って、全額返金をお願いいたします。\n\n斎藤\n",
          cte="base64", encode=lambda s: base64.encodebytes(s.encode("utf-8")).replace(b"\n", b"\r\n"))

    # 5. Polite manager request
    plain(5, 7200, "Margaret Ellison <m.ellison@example.co.uk>", "Request to speak with a supervisor",
          "Good morning,\n\nI have had three conversations about my account credit and each agent has told me "
          "something different. Would it be possible to speak with a supervisor so we can settle it?\n\n"
          "Thank you for your help.\nMargaret Ellison\n", charset="us-ascii", cte="7bit")

    # 6. Clear verbal abuse
    plain(6, 9000, "Kevin Marsh <kmarsh77@example.com>", "RE: your so-called support",
          "You are a useless idiot. Every one of you in that call centre is an incompetent moron and I am sick of "
          "talking to brainless clowns.\n", charset="us-ascii", cte="7bit",
          extra="In-Reply-To: <acme-50990-2@example.com>\nReferences: <kmarsh-1@example.com> <acme-50990-2@example.com>\n")

    # 7. Threat of violence, Japanese, Shift_JIS as older PC clients send it
    plain(7, 10800, f"{b_word('', 'ISO-2022-JP', jis('大島'))} <oshima.t@example.co.jp>",
          b_word("", "ISO-2022-JP", jis("いい加減にしろ")),
          "ふざけるな。何度電話させる気だ。\n今から店に行って担当者を殴ってやる。\n覚悟しておけ。\n",
          charset="Shift_JIS", encode=lambda s: s.encode("cp932"))

    # 8. Demand to fire a staff member
    plain(8, 12600, "Gary Holt <gary.holt@example.net>", "Your agent Sam",
          "Your agent Sam hung up on me this morning. I want Sam fired today. I will not accept anything less "
          "than him losing his job, and I expect written confirmation that he has been fired.\n",
          charset="us-ascii", cte="7bit")

    # 9. Dogeza demand, Japanese
    plain(9, 14400, f"{b_word('', 'UTF-8', '木村'.encode())} <kimura.s@example.jp>",
          b_word("", "UTF-8", "謝罪を要求します".encode()),
          "配送が遅れたせいで予定が台無しになった。\nメールの謝罪だけで済むと思うな。\n"
          "責任者が家まで来て土下座して謝れ。\n",
          cte="quoted-printable", encode=lambda s: qp(s.encode("utf-8")))

    # 10-12. The same demand, three times within two hours, from one customer
    demands = [
        "I demand a full refund of $2,000 plus $5,000 compensation for my wasted time, paid today. "
        "The blender cost $89. Pay up or else.",
        "I DEMAND a full refund of $2,000 plus $5,000 compensation for my wasted time, paid today. "
        "The blender cost $89. Pay up or else!!",
        "Again: I demand a full refund of $2,000 plus $5,000 compensation for my wasted time, paid today. "
        "The blender cost $89. Pay up or else.",
    ]
    for k, text in enumerate(demands):
        n = 10 + k
        plain(n, 16200 + k * 2400, "Rick Dawson <rick.dawson+orders@example.com>", "Refund NOW" if k == 0 else "Re: Refund NOW",
              f"{text}\n\nRick\n", charset="us-ascii", cte="7bit")
    print("\n".join(sorted(p.name for p in OUT.iterdir())))


if __name__ == "__main__":
    main()
