"""Detection speed and memory: messages per second one at a time on one core, RSS over a long run.

Builds ~1 KB customer messages (English and Japanese, mostly ordinary complaints, some abusive)
from sentence pools, then calls ``Detector.detect`` once per message, not batched. Prints the
throughput by CPU time of this process (``time.process_time``: on a shared machine wall time also
counts other people's work) and by wall time, the rules' load time, and the resident memory
every ``--every`` messages so a leak shows as growth.

    python bench/bench_detect.py --count 100000
    python bench/bench_detect.py --count 1000000 --every 100000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.detect import Detector  # noqa: E402
from gateway.model import Message  # noqa: E402

EN = [
    "Hello, I ordered a replacement router three weeks ago and it still has not arrived.",
    "The tracking number you gave me does not work on the courier's website.",
    "I have called your support line four times and each time I was put on hold for forty minutes.",
    "Please refund the second charge on my card; I was billed twice for the same order.",
    "Your agent promised a callback within 24 hours, which never happened.",
    "I would like to cancel my subscription at the end of this billing period.",
    "This is extremely frustrating and I expect a proper answer this time.",
    "The device overheats after an hour and the fan makes a grinding noise.",
    "Could I please speak to a supervisor about this case?",
    "I am attaching photos of the damaged box and the receipt.",
    "Thank you for your help so far, but the issue is not resolved.",
    "My account number is in the subject line; please check the notes from my last call.",
    "This damn app logs me out every time I switch networks.",
    "I will post an honest review if this is not sorted out.",
]
EN_BAD = [
    "You are a useless idiot and I know where you live.",
    "Get me your manager NOW or I will post your name and photo online.",
    "Fire that agent immediately, she is a stupid cow.",
]
JA = [
    "いつもお世話になっております。先日注文した商品がまだ届いておりません。",
    "問い合わせ番号をお伝えしますので、配送状況を確認していただけますでしょうか。",
    "二重に請求されているようですので、返金をお願いいたします。",
    "何度も電話しましたが、つながりませんでした。早急に対応してください。",
    "責任者の方とお話しできますでしょうか。",
    "商品の箱が潰れていて、中身にも傷がありました。交換を希望します。",
]
JA_BAD = ["お前は本当に無能だな。土下座しろ。", "担当者の名前をネットに晒してやる。"]


def make_messages(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ja = rng.random() < 0.3
        pool, bad = (JA, JA_BAD) if ja else (EN, EN_BAD)
        parts: list[str] = []
        target = 340 if ja else 1000  # about 1 KB either way (Japanese is 3 bytes a character)
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(bad) if rng.random() < 0.05 else rng.choice(pool))
        out.append(" ".join(parts))
    return out


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="messages to process")
    parser.add_argument("--every", type=int, default=0, help="print RSS every N messages (default count/10)")
    parser.add_argument("--rules", type=Path, default=None, help="rules directory (default: the shipped rules/)")
    parser.add_argument("--distinct", type=int, default=5_000, help="distinct texts cycled through")
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    cpu0, wall0 = time.process_time(), time.perf_counter()
    detector = Detector.load(args.rules)
    prefilter = getattr(detector, "prefilter", None)
    print(f"load: {time.process_time() - cpu0:.2f}s CPU, {time.perf_counter() - wall0:.2f}s wall; "
          f"RE2 prefilter {'on' if prefilter is not None and prefilter.available else 'off'}")
    texts = make_messages(args.distinct)
    avg = sum(len(t.encode()) for t in texts) / len(texts)
    every = args.every or max(1, args.count // 10)
    print(f"texts: {len(texts)} distinct, {avg:.0f} bytes UTF-8 on average; count {args.count}")
    for i in range(200):  # warm caches
        detector.detect(Message(id=f"w{i}", text=texts[i % len(texts)]))
    start, cpu_start = time.perf_counter(), time.process_time()
    lap, cpu_lap = start, cpu_start
    flagged = 0
    print(f"{'messages':>10} {'msg/s CPU':>10} {'msg/s wall':>11} {'RSS MB':>8}")
    for i in range(args.count):
        text = texts[i % len(texts)]
        if detector.detect(Message(id=str(i), text=text)):
            flagged += 1
        if (i + 1) % every == 0:
            now, cpu_now = time.perf_counter(), time.process_time()
            print(f"{i + 1:10d} {every / max(cpu_now - cpu_lap, 1e-9):10.0f} "
                  f"{every / (now - lap):11.0f} {rss_mb():8.1f}", flush=True)
            lap, cpu_lap = now, cpu_now
    total, cpu_total = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"total: {args.count} messages in {cpu_total:.1f}s CPU ({total:.1f}s wall) = "
          f"{args.count / cpu_total:.0f} msg/s per core by CPU time ({args.count / total:.0f} by wall time); "
          f"{flagged} with findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
