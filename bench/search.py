"""Search speed: 10,000 synthetic transcripts of 50 segments each (500,000 segments).

Prints the time to write them with the live index (triggers) and without it, the time to
rebuild the index from scratch, and median / p95 latency of 100 mixed queries (words, AND,
phrases, prefixes) through earwig.search, against the same words found with a plain LIKE scan.

    python bench/search.py [--jobs 10000] [--segments 50] [--queries 100]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from earwig import search
from earwig.model import Job, JobState, Segment, Transcript
from earwig.store import Store

SYLLABLES: tuple[str, ...] = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa")
SYLLABLES += ("do", "fi", "gu", "ha", "je", "ko", "lu", "ma", "ni", "os")


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def fill(store: Store, jobs: int, segments: int, vocab: list[str], rng: random.Random) -> float:
    t0 = time.perf_counter()
    for n in range(jobs):
        job = store.add_job(
            Job(
                id=None,
                source="bench",
                title=f"episode {n}",
                state=JobState.DONE,
                created_at=float(n),
            )
        )
        segs = tuple(
            Segment(i * 4.0, i * 4.0 + 4.0, " ".join(rng.choices(vocab, k=12)))
            for i in range(segments)
        )
        assert job.id is not None
        store.save_transcript(job.id, Transcript(segs, "en", segments * 4.0, "bench", "bench"))
    return time.perf_counter() - t0


def queries(vocab: list[str], rng: random.Random, count: int) -> list[str]:
    kinds = [
        lambda: rng.choice(vocab),
        lambda: f"{rng.choice(vocab)} AND {rng.choice(vocab)}",
        lambda: f'"{rng.choice(vocab)} {rng.choice(vocab)}"',
        lambda: rng.choice(vocab)[:4] + "*",
    ]
    return [kinds[i % len(kinds)]() for i in range(count)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    vocab = vocabulary(rng, 20_000)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        with_index = fill(store, args.jobs, args.segments, vocab, random.Random(1))

        plain = Store(Path(tmp) / "plain.db")
        plain.db.execute("drop trigger segments_fts_insert")
        plain.db.execute("drop trigger segments_fts_delete")
        without_index = fill(plain, args.jobs, args.segments, vocab, random.Random(1))
        t0 = time.perf_counter()
        with plain.db.conn:
            plain.db.execute("delete from segments_fts")
            plain.db.execute(
                "insert into segments_fts (rowid, text, title, subscription, date, start, job_id) "
                "select s.rowid, s.text, j.title, '', j.created_at, s.start, s.job_id "
                "from segments s join jobs j on j.id = s.job_id"
            )
        rebuild = time.perf_counter() - t0

        qs = queries(vocab, rng, args.queries)
        fts_times, like_times, hits = [], [], 0
        for q in qs:
            t0 = time.perf_counter()
            hits += len(search.search(store, q, limit=20))
            fts_times.append(time.perf_counter() - t0)
        for q in qs[:: len(qs) // 10 or 1]:  # LIKE scans are slow: a tenth of them is enough
            word = q.strip('"').split()[0].rstrip("*")
            t0 = time.perf_counter()
            store.db.execute(
                "select job_id, start from segments where text like ? limit 20", [f"%{word}%"]
            ).fetchall()
            like_times.append(time.perf_counter() - t0)

    segments = args.jobs * args.segments
    med = statistics.median
    print(f"{args.jobs} transcripts x {args.segments} segments = {segments} segments")
    print(f"write with live index     : {with_index:.1f}s")
    print(
        f"write without index       : {without_index:.1f}s  "
        f"(index costs x{with_index / without_index:.2f} on writes)"
    )
    print(f"index rebuild from scratch: {rebuild:.1f}s")
    print(f"{len(qs)} queries, {hits} hits")
    print(f"query latency median      : {med(fts_times) * 1000:.1f} ms")
    print(f"query latency p95         : {pct(fts_times, 0.95) * 1000:.1f} ms  (goal < 50 ms)")
    print(
        f"LIKE scan median          : {med(like_times) * 1000:.1f} ms  "
        f"(FTS is x{med(like_times) / med(fts_times):.0f} faster)"
    )


if __name__ == "__main__":
    main()
