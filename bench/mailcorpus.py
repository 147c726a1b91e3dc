"""Mixed support mail for the benchmarks: plain, HTML, Japanese (ISO-2022-JP, UTF-8), quoted
replies, complaints and abuse, many customers writing more than once.

Texts come from the public labeled sets in ../shared/data when present (airline complaints and
abusive tweets), mixed with Japanese support lines; without that folder a built-in set is used.

``corpus()`` is the benchmark mail: each text is taken whole from a pool of about 2,300 English
texts and a few hundred Japanese sentence combinations, so many messages share a text with dozens of
others (near-duplicate campaign candidates for the contact stage). ``corpus(..., varied=True)``
builds each message from two or three sentences of different texts with its own order number and
product, as mixed support mail is: texts rarely repeat. Same seed, same mail, either way.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

BUILTIN_EN = [
    "My parcel has not arrived yet and tracking shows nothing. Could you check, please?",
    "The blender broke after two days. I want the refund the warranty promises.",
    "This is the third time I am writing about the same invoice error. Please fix it.",
    "You are useless idiots and I am sick of your excuses.",
    "If this is not fixed today you will regret it, I know where your office is.",
    "Thanks for the quick help yesterday, everything works now.",
    "I want the name of the agent who hung up on me and I want them fired.",
]
JA_OPEN = ["お世話になっております。", "突然のご連絡失礼します。", "いつも利用しています。", "すみません、",
           "先日の件ですが、", "至急確認してください。", "こんにちは。", "何度も連絡していますが、"]
JA_BODY = [
    "{d}日に注文した{p}がまだ届きません。", "届いた{p}が壊れていました。交換をお願いします。",
    "{p}の請求額が{n}円多いようです。", "注文番号{o}の配送状況を教えてください。",
    "{p}の使い方がわかりません。", "返品の手続きについて教えていただけますか。",
    "お前は本当に無能だな。上司を出せ。", "今すぐ土下座して謝りに来い。",
    "対応しないならネットに担当者の名前を晒すぞ。", "{n}万円の慰謝料を払え。",
    "昨日はご対応ありがとうございました。無事に解決しました。", "領収書を再発行してください。",
    "{p}の色を変更したいです。", "解約の方法を教えてください。",
]
JA_CLOSE = ["よろしくお願いします。", "早めの対応をお願いします。", "", "ご確認ください。", "以上です。"]
PRODUCTS = ["ブレンダー", "掃除機", "スマートウォッチ", "電気ケトル", "ヘッドホン", "炊飯器", "プリンター", "カメラ"]


START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)  # the first message's Date


def _texts() -> list[str]:
    texts: list[str] = []
    for name, limit in (("airline_tweets/airline_tweets_negative_part1.jsonl", 1500),
                        ("davidson/davidson_labeled_sample6000.jsonl", 800)):
        path = DATA / name
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if i >= limit:
                        break
                    texts.append(json.loads(line)["text"])
    return texts or list(BUILTIN_EN)


def corpus(count: int, *, seed: int = 7, customers: int = 400, varied: bool = False,
           spacing: float = 37) -> list[bytes]:
    """``count`` raw messages; the same seed gives the same bytes. ``varied``: texts assembled per
    message (see the module docstring) instead of reused whole. ``spacing``: seconds between
    messages (37: about 2,300 a day, so 30,000 messages span 13 days, all inside the 30-day
    duplicate lookback; 180: 480 a day, so a run outlasts the lookback and the contact stage's
    memory reaches its working set)."""
    rng = random.Random(seed)
    english = _texts()
    if varied:
        english = _Assembled(english, rng)
    start = START
    out: list[bytes] = []
    for n in range(count):
        customer = rng.randrange(customers)
        msg = EmailMessage()
        msg["From"] = f"Customer {customer} <customer{customer}@example.org>"
        msg["To"] = "support@example.com"
        msg["Message-ID"] = f"<bench-{seed}-{n}@example.org>"
        msg["Date"] = format_datetime(start + timedelta(seconds=spacing * n))
        shape = n % 10
        if shape in (0, 1, 2):  # Japanese
            text = _japanese(rng, varied=varied)
            msg["Subject"] = f"ご注文 {1000 + customer} について"
            msg.set_content(text, charset="iso-2022-jp" if shape == 0 else "utf-8")
        elif shape == 3:  # HTML only
            text = rng.choice(english)
            msg["Subject"] = f"Order {1000 + customer}"
            msg.set_content(f"<html><body><p>Hello,</p><p>{_html(text)}</p><p>Regards</p></body></html>", subtype="html")
        elif shape == 4:  # a reply with quoted history
            text = rng.choice(english)
            msg["Subject"] = f"Re: Order {1000 + customer}"
            msg["In-Reply-To"] = f"<bench-{seed}-{max(0, n - 5)}@example.org>"
            quoted = "\n".join("> " + line for line in rng.choice(english).splitlines())
            msg.set_content(f"{text}\n\nOn Mon, Support wrote:\n{quoted}\n")
        else:  # plain, sometimes with text and HTML alternatives
            text = " ".join(rng.choice(english) for _ in range(rng.randint(1, 3)))
            msg["Subject"] = f"Order {1000 + customer}"
            msg.set_content(text + "\n\n-- \nSent from my phone\n")
            if shape == 9:
                msg.add_alternative(f"<p>{_html(text)}</p>", subtype="html")
                msg.set_boundary(f"=_bench-{seed}-{n}")  # (the library's default is random)
        out.append(bytes(msg))
    return out


def _japanese(rng: random.Random, *, varied: bool = False) -> str:
    body = rng.choice(JA_BODY).format(d=rng.randint(1, 28), p=rng.choice(PRODUCTS), n=rng.randint(2, 90) * 100,
                                      o=rng.randint(100000, 999999))
    if varied:
        more = rng.choice(JA_BODY).format(d=rng.randint(1, 28), p=rng.choice(PRODUCTS),
                                          n=rng.randint(2, 90) * 100, o=rng.randint(100000, 999999))
        detail = rng.choice(JA_DETAIL).format(o=rng.randint(100000, 999999), m=rng.randint(1, 12),
                                              d=rng.randint(1, 28), c=rng.choice(COLOURS))
        parts = [body, more, detail]
        rng.shuffle(parts)
        return rng.choice(JA_OPEN) + "".join(parts) + rng.choice(JA_CLOSE)
    return rng.choice(JA_OPEN) + body + rng.choice(JA_CLOSE)


JA_DETAIL = ["注文番号は{o}です。", "{m}月{d}日に購入しました。", "色は{c}を選びました。", "問い合わせ番号{o}の件です。",
             "{m}月{d}日の夕方に電話しました。", "{c}のモデルです。"]
COLOURS = ["黒", "白", "赤", "青", "シルバー", "ゴールド", "グリーン"]
EN_DETAIL = ["My order number is {o}.", "I bought the {c} {p} on {m}/{d}.", "Reference {o}.",
             "I called on {m}/{d} about the {p}.", "It is the {c} model."]
EN_PRODUCTS = ["kettle", "vacuum", "smartwatch", "headphones", "rice cooker", "printer", "camera", "blender"]
EN_COLOURS = ["black", "white", "red", "blue", "silver", "gold", "green"]


class _Assembled:
    """Stands in for the list of English texts: each ``rng.choice`` of it assembles a new text from
    sentences of two or three texts and a detail of its own."""

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        self.sentences = [s.strip() for t in texts for s in t.replace("!", ".").replace("?", ".").split(".")
                          if len(s.strip()) > 12]
        self.rng = rng

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> str:
        rng = self.rng
        picked = [rng.choice(self.sentences) + "." for _ in range(rng.randint(2, 3))]
        picked.append(rng.choice(EN_DETAIL).format(o=rng.randint(100000, 999999), m=rng.randint(1, 12),
                                                   d=rng.randint(1, 28), c=rng.choice(EN_COLOURS),
                                                   p=rng.choice(EN_PRODUCTS)))
        rng.shuffle(picked)
        return " ".join(picked)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
