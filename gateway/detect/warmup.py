"""Text that brings detection to its steady state before the first real message.

The RE2 automata of the prefilter (``prefilter.py``) build their states lazily, as text needs
them, and a new state of a 64-pattern automaton costs far more than following a cached one: a
freshly started process pays several times the steady cost per message for its first thousands
of messages. :meth:`Detector.warm` runs the prefilter over the texts made here so that many of
those states exist before the first customer's mail arrives (generic text cannot reach every state
real mail needs: on the benchmark mail it removes about half of the lazy cost).

The texts are made from what ships with the project, never from evaluation or benchmark mail:
the lexicon's own terms (each slot term and glue word) set among everyday support-mail words, the sample Maildir's messages, and short Japanese support phrases
around the Japanese terms, with the punctuation, digits and symbols mail carries. A fixed seed
makes them the same in every process, so warm-up is reproducible.
"""

from __future__ import annotations

import random
import re

from gateway.detect.lexicon import Lexicon

#: Everyday words of support mail and of English in general, lower case (detection folds case).
COMMON_EN = """
a about above after again against all also am an and any are as at back be because been before
being below between both but by can could day did do does doing done down during each even every
few for from further get got had has have having he her here hers him his how i if in into is it
its just know last like made make many may me more most much must my need never new no nor not now
of off on once one only or other our out over own please really same say see she should so some
still such than thank thanks that the their them then there these they thing think this those
through time to today too two under until up us very want was way we well were what when where which
while who whom why will with would yes yet you your yours tomorrow yesterday week month year
hello hi dear regards best sincerely kind team support customer service help account order orders
number refund refunds return returned delivery delivered deliver package parcel shipping shipped
tracking item items product products price charge charged charges payment paid pay bill billing
invoice receipt card credit bank money cost fee fees discount coupon code subscription cancel
cancelled cancellation renew plan upgrade store shop online website app email mail phone call
called calling message messages reply replied answer answered waiting wait waited hours minutes
days weeks still again already since problem problems issue issues error broken damaged missing
wrong late delay delayed working work works fixed fix replace replacement exchange warranty repair
manager supervisor agent staff employee representative person people someone anyone nobody
everyone company business office address name contact information details request requested
complaint complain complaints feedback review rating experience disappointed frustrated angry upset
unhappy terrible awful horrible worst bad poor good great fine okay ok sorry apologize apology
understand explain explanation tell told ask asked said says send sent receive received check
checked confirm confirmed update updated status today tonight morning afternoon evening weekend
flight flights airline seat seats bag bags baggage luggage gate plane crew pilot trip travel
ticket tickets booking booked change changed hold line queue desk counter lost found finally
times first second third last next soon later ever always often really actually literally
absolutely totally completely seriously honestly basically just only even also quite rather
pretty enough fast slow quick quickly long short big small old young right left free full
lol lmao omg wtf smh tbh idk imo rt via amp http https www com
""".split()

#: Short Japanese support phrases (polite openings, requests, closings) the Japanese terms are set in.
COMMON_JA = [
    "お世話になっております。", "いつもご利用ありがとうございます。", "先日注文した商品について",
    "まだ届いていません。", "確認をお願いします。", "返金してください。", "交換をお願いします。",
    "担当者から連絡がありません。", "電話がつながりません。", "何度も問い合わせています。",
    "説明してください。", "至急対応してください。", "よろしくお願いいたします。", "以上です。",
    "注文番号は", "請求額が違います。", "商品が壊れていました。", "返品の方法を教えてください。",
    "サポートの対応が遅いです。", "メールを送りましたが、", "本日中に返事をください。",
    "解約したいです。", "ありがとうございました。", "困っています。", "どうなっているのですか。",
    "説明と違う", "カスタマーサービス", "店長", "責任者", "会社", "お客様", "今日", "明日", "昨日",
]

_EN_PUNCT = [" ", " ", " ", " ", " ", ", ", ". ", "! ", "? ", "... ", " - ", "\n", ": ", "; ",
             " (", ") ", '"', "'", " #", " @", " $", " & ", " / ", " * ", "!! ", "?! "]
_JA_PUNCT = ["", "", "、", "。", "！", "？", "…", "　", " ", "・", "ー", "（", "）", "「", "」", "\n"]
_WORD_RX = re.compile(r"[a-z][a-z']+")


def _terms(lexicon: Lexicon, lang: str) -> list[str]:
    """The lexicon's terms of one language: every slot term, and for English the glue words the
    normalizer splits off run-together words."""
    terms: set[str] = set()
    for (slot_lang, _), slot in lexicon.slots.items():
        if slot_lang == lang:
            terms.update(t for t in slot.terms if t)
    if lang == "en":
        terms.update(lexicon.glue_words)
    return sorted(terms)


def _english(rng: random.Random, terms: list[str], count: int, share: float) -> list[str]:
    """``count`` texts of 2-6 sentences: everyday words with lexicon terms among them, now and
    then in upper case, with digits, stretched or masked letters as mail has them."""
    texts = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(2, 6)):
            for k in range(rng.randint(4, 18)):
                r = rng.random()
                if r < share:
                    word = rng.choice(terms)
                elif r < share + 0.03:
                    word = str(rng.randint(0, 99999))
                else:
                    word = rng.choice(COMMON_EN)
                if rng.random() < 0.05:
                    word = word.upper()
                elif rng.random() < 0.03 and len(word) > 2:
                    cut = rng.randrange(1, len(word) - 1)
                    word = word[:cut] + rng.choice(["*", word[cut] * 2, ""]) + word[cut + 1:]
                parts.append(word if k else word.capitalize())
                parts.append(rng.choice(_EN_PUNCT))
            parts.append(rng.choice([". ", "! ", "? ", ".\n", "\n\n"]))
        texts.append("".join(parts).strip())
    return texts


def _japanese(rng: random.Random, terms: list[str], count: int) -> list[str]:
    """``count`` texts of Japanese support phrases with the lexicon's Japanese terms among them,
    some with an English word or a number, as Japanese mail has them."""
    texts = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(3, 12)):
            r = rng.random()
            if r < 0.45:
                parts.append(rng.choice(terms))
            elif r < 0.5:
                parts.append(rng.choice([str(rng.randint(1, 99999)), rng.choice(COMMON_EN)]))
            else:
                parts.append(rng.choice(COMMON_JA))
            parts.append(rng.choice(_JA_PUNCT))
        texts.append("".join(parts))
    return texts


def warmup_texts(lexicon: Lexicon, *, english: int = 1000, japanese: int = 200, share: float = 0.3,
                 seed: int = 1) -> list[str]:
    """The warm-up texts for ``lexicon``: the sample Maildir's messages, then ``english`` and
    ``japanese`` generated texts (the same ones in every process), a ``share`` of whose words
    are lexicon terms. The defaults cost about 1.5-2 CPU-seconds of prefilter work at start-up
    and remove about half of its lazy cost on mail it has never seen (README, detection speed)."""
    rng = random.Random(seed)
    texts = sample_texts()
    texts += _english(rng, _terms(lexicon, "en"), english, share)
    texts += _japanese(rng, _terms(lexicon, "ja"), japanese)
    return texts


def sample_texts() -> list[str]:
    """The clean texts of the sample Maildir shipped with the project (none when absent)."""
    from gateway.errors import IngestError
    from gateway.ingest import ingest
    from gateway.resources import samples_dir

    folder = samples_dir() / "maildir"
    texts = []
    for sub in ("cur", "new"):
        path = folder / sub
        if path.is_dir():
            for item in sorted(path.iterdir()):
                try:
                    raw = item.read_bytes()
                except OSError:
                    continue  # warm-up text is optional
                try:
                    texts.append(ingest(raw, source="warm-up").text)
                except IngestError:
                    pass  # warm-up text is optional
    return texts


__all__ = ["COMMON_EN", "COMMON_JA", "sample_texts", "warmup_texts"]
