"""Checking subscriptions: earwig's feed path against yt-dlp's generic extractor.

100 podcast feeds (10 episodes each) are served from a local HTTP server. Both approaches do
a first check and then an unchanged re-check of every feed; the server counts the requests.
earwig: urllib + feedparser with ETag/Last-Modified (the re-check is a 304 per feed).
yt-dlp flat: extract_info(feed, extract_flat="in_playlist") per feed (no conditional GET).
yt-dlp full: extract_info(feed, download=False) per feed, resolving every entry, as a naive
daemon that lets yt-dlp "check" a feed would.

    python bench/subscriptions.py [--feeds 100] [--episodes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from earwig.sources import feeds, ytdlp
from httpserver import LocalServer, rss


def serve(server: LocalServer, count: int, episodes: int) -> list[str]:
    urls = []
    for f in range(count):
        items = []
        for e in range(episodes):
            media = server.add(
                f"/media/f{f}e{e}.mp3", body=b"\xff\xfb" * 2000, content_type="audio/mpeg"
            )
            items.append(
                {
                    "title": f"Feed {f} episode {e}",
                    "url": media,
                    "date": 1_700_000_000 + e * 86400,
                    "guid": f"f{f}e{e}",
                }
            )
        urls.append(
            server.add(
                f"/feed{f}.xml",
                body=rss(items, title=f"Feed {f}"),
                content_type="application/rss+xml",
                etag=f'"feed{f}"',
                last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
            )
        )
    return urls


def earwig_round(urls: list[str]) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    state = {}
    for url in urls:
        r = feeds.fetch(url, None, None, timeout=10)
        state[url] = (r.etag, r.modified)
        assert len(r.items) > 0
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    unchanged = 0
    for url in urls:
        r = feeds.fetch(url, *state[url], timeout=10)
        unchanged += r.status == 304
    return first, time.perf_counter() - t0, unchanged


def ytdlp_round(urls: list[str], flat: bool) -> tuple[float, float]:
    import yt_dlp

    options = {**ytdlp.base_options(10, 0), "extract_flat": "in_playlist" if flat else False}
    times = []
    for _ in range(2):  # yt-dlp has no conditional GET: the re-check is a full check
        t0 = time.perf_counter()
        with yt_dlp.YoutubeDL(options) as ydl:
            for url in urls:
                info = ydl.extract_info(url, download=False)
                assert info and info.get("entries")
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list] = {"earwig": [], "flat": [], "full": []}
    with LocalServer() as server:
        urls = serve(server, args.feeds, args.episodes)
        for _ in range(args.rounds):
            before = len(server.requests)
            first, recheck, unchanged = earwig_round(urls)
            results["earwig"].append((first, recheck, len(server.requests) - before, unchanged))
            for mode in ("flat", "full"):
                before, media_before = len(server.requests), server.media_requests()
                first, recheck = ytdlp_round(urls, flat=mode == "flat")
                requests = len(server.requests) - before
                media = server.media_requests() - media_before
                results[mode].append((first, recheck, requests, media))
    med = statistics.median
    e = results["earwig"]
    print(f"{args.feeds} feeds x {args.episodes} episodes, {args.rounds} rounds, medians")
    print(f"{'':14}{'first check':>12}{'re-check':>10}{'requests':>10}{'media':>7}")
    print(
        f"{'earwig':14}{med(r[0] for r in e):>11.2f}s{med(r[1] for r in e):>9.2f}s"
        f"{e[0][2]:>10}{0:>7}   ({e[0][3]} of {args.feeds} re-checks were 304)"
    )
    for mode, label in (("flat", "yt-dlp flat"), ("full", "yt-dlp full")):
        y = results[mode]
        print(
            f"{label:14}{med(r[0] for r in y):>11.2f}s{med(r[1] for r in y):>9.2f}s"
            f"{y[0][2]:>10}{y[0][3]:>7}"
            f"   re-check x{med(r[1] for r in y) / med(r[1] for r in e):.1f}"
        )


if __name__ == "__main__":
    main()
