"""Subscriptions: checked on a schedule (APScheduler 3.x), new items queued exactly once.

A check lists the subscription (a feed with a conditional GET, or yt-dlp's flat listing),
drops what the download archive already knows, and commits the new jobs together with their
archive rows. The first check takes only the newest `backfill` items (or those since `since`)
and archives the rest as seen, so subscribing never pulls in a whole back catalogue. A failing
check is recorded on the subscription and never stops the others or the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from earwig import media, reach
from earwig.config import Config, SubscriptionConfig
from earwig.daemon.hosts import HostPolicy
from earwig.daemon.queue import Events, JobQueue
from earwig.errors import EarwigError, NotFound
from earwig.jobs import new as new_job
from earwig.protocol import CheckOutcome, SubscriptionView
from earwig.sources import Item, feeds, http, ytdlp
from earwig.sources.errors import RateLimited, host_of

log = logging.getLogger("earwig.subscriptions")
MAX_NEW_PER_CHECK = 50  # a feed that suddenly "has" hundreds of new items is suspicious
LIST_NEWEST = 30  # how many entries a yt-dlp listing looks at after the first check
LISTING_GRACE = 120.0  # seconds a yt-dlp listing may take past a feed's deadline


class Subscriptions:
    """The schedule and the checks. Handed the queue, the log, the host policy, the network
    threads and the live config (subscriptions, [downloads] timeouts, the output folder)."""

    def __init__(
        self,
        queue: JobQueue,
        events: Events,
        hosts: HostPolicy,
        network: Executor,
        config: Callable[[], Config],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.queue = queue
        self.events = events
        self.hosts = hosts
        self.network = network
        self.config = config
        self.on_change = on_change  # publish the subscriptions' new state
        self.scheduler = AsyncIOScheduler()
        self.checking: set[str] = set()
        self.problems: dict[str, list[str]] = {}  # per check, from the listing thread
        self._configs: dict[str, SubscriptionConfig] = {}

    def start(self) -> None:
        self.scheduler.start()
        self.sync(self.config().subscriptions)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def sync(self, subs: tuple[SubscriptionConfig, ...]) -> None:
        """Make the schedule match the config: add, reschedule and remove jobs."""
        wanted = {s.name: s for s in subs}
        store = self.queue.store
        for name in list(self._configs):
            if name not in wanted:
                self.scheduler.remove_job(_job_id(name))
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(_retry_id(name))
                del self._configs[name]
                store.forget_subscription_state(name)  # a later one of that name starts afresh
        states = store.subscription_states()
        for name, sub in wanted.items():
            if self._configs.get(name) == sub:
                continue
            if (states.get(name) or {}).get("url") not in (None, sub.url):
                store.forget_subscription_state(name)  # the name now follows another URL
                states.pop(name, None)
            if sub.cron:
                trigger: Any = CronTrigger.from_crontab(sub.cron)
            else:
                trigger = IntervalTrigger(seconds=sub.interval, jitter=min(sub.interval / 10, 600))
            never_checked = not (states.get(name) or {}).get("last_ok")
            extra: dict[str, Any] = {}
            if never_checked:
                extra["next_run_time"] = _now_dt()
            self.scheduler.add_job(
                self.check,
                trigger,
                args=[name],
                id=_job_id(name),
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                **extra,
            )
            self._configs[name] = sub

    def _after_back_off(self, name: str) -> None:
        """Check `name` again as soon as its back-off ends, not at its next regular time
        (which may be hours away)."""
        wait = self.hosts.wait_time(_feed_key(name))
        if wait <= 0 or not self.scheduler.running:
            return
        import datetime as dt

        self.scheduler.add_job(
            self.check,
            "date",
            run_date=_now_dt() + dt.timedelta(seconds=wait + 0.2),
            args=[name],
            id=_retry_id(name),
            replace_existing=True,
            misfire_grace_time=None,
        )

    def first_check_note(self, name: str) -> str:
        """What `earwig subscribe` says about the first check: now, or why it waits."""
        sub = self.config().subscription(name)
        host = host_of(sub.url) if sub is not None else ""
        wait = self.hosts.wait_time(_feed_key(name))
        if wait:
            return f"its first check waits {wait:.0f}s: {host} asked earwig to back off (429)"
        return "its first check runs now"

    def next_run(self, name: str) -> float | None:
        """The next check: the regular one, or sooner, the one after a back-off."""
        if not self.scheduler.running:
            return None
        times = [
            job.next_run_time.timestamp()
            for job in (
                self.scheduler.get_job(_job_id(name)),
                self.scheduler.get_job(_retry_id(name)),
            )
            if job is not None and job.next_run_time
        ]
        return min(times, default=None)

    def view(self) -> list[SubscriptionView]:
        states = self.queue.store.subscription_states()
        out: list[SubscriptionView] = []
        for sub in self.config().subscriptions:
            state = states.get(sub.name) or {}
            out.append(
                {
                    "name": sub.name,
                    "url": sub.url,
                    "schedule": f"cron {sub.cron}" if sub.cron else f"every {_human(sub.interval)}",
                    "next_check": self.next_run(sub.name),
                    "checking": sub.name in self.checking,
                    "last_check": state.get("last_check"),
                    "last_ok": state.get("last_ok"),
                    "last_error": state.get("last_error"),
                    "items_found": state.get("items_found") or 0,
                    "last_new": state.get("last_new"),
                }
            )
        return out

    async def check(self, name: str) -> CheckOutcome:
        sub = self.config().subscription(name)
        if sub is None:
            raise NotFound(f"no subscription named {name!r}", "`earwig subscriptions` lists them")
        if name in self.checking:
            return {"name": name, "skipped": "a check is already running"}
        if self.queue.halted:
            return {"name": name, "error": self.queue.halted}
        self.checking.add(name)
        try:
            return await self._check(sub)
        finally:
            self.checking.discard(name)
            self.on_change()

    async def _check(self, sub: SubscriptionConfig) -> CheckOutcome:
        name, now = sub.name, time.time()
        state = self.queue.store.subscription_state(name) or {}
        first = not state.get("last_ok")
        host = host_of(sub.url)
        wait = self.hosts.wait_time(_feed_key(name))  # this feed's own: a 429 from one feed
        if wait:  # does not hold back the other feeds of its host
            self._after_back_off(name)
            return self._failed(
                sub, f"backing off from {host} for {wait:.0f}s after a 429; checked then", now
            )
        try:
            async with self.hosts.slot(host):
                # network work has its own threads: a slow server never delays local files
                loop = asyncio.get_running_loop()
                # a subscription a network client added is fetched by its rules
                fence = reach.for_clients(self.config()) if sub.added_over_http else None
                listing = await asyncio.wait_for(
                    loop.run_in_executor(
                        self.network,
                        functools.partial(reach.within, fence, self._list, sub, state, first),
                    ),
                    http.deadline_for(self.config().downloads.timeout) + LISTING_GRACE,
                )
        except TimeoutError:
            return self._failed(sub, f"no complete answer from {host} in time", now)
        except RateLimited as exc:
            seconds = exc.retry_after or self.config().daemon.retry_backoff
            self.hosts.back_off(_feed_key(name), seconds)
            self._after_back_off(name)
            return self._failed(sub, exc.message, now)
        except EarwigError as exc:
            return self._failed(sub, exc.message, now)
        except Exception as exc:  # a bug must not stop the scheduler
            log.exception("check of %s crashed", name)
            return self._failed(sub, f"unexpected error: {exc}", now)
        items, etag, modified = listing
        for problem in self.problems.pop(name, ()):
            self.events.log("warning", f"subscription {name}: {problem}")
        if items is None:  # 304: unchanged
            self.queue.store.save_subscription_state(
                name, url=sub.url, last_check=now, last_ok=now, last_error=None, last_new=0
            )
            return {"name": name, "new": 0, "unchanged": True}
        known = self.queue.store.archived(name, [i.id for i in items])
        fresh = [i for i in items if i.id not in known]
        if first:
            if sub.since is not None:
                take = [i for i in fresh if i.published is not None and i.published >= sub.since]
            else:
                take = fresh[: sub.backfill]
            skip = [i for i in fresh if i not in take]
        else:
            take, skip = fresh[:MAX_NEW_PER_CHECK], []
        out_dir = self.config().output.dir / media.safe_stem(name)
        jobs = [
            (
                item.archive_row(),
                new_job(
                    reach.NETWORK_SOURCE if sub.added_over_http else "subscription",
                    item.title,
                    now,
                    subscription=name,
                    url=item.url,
                    output_dir=str(out_dir),
                    publisher=_publisher(item, sub),
                    # a hint the audio can overrule, where multilingual is on
                    options={"language": sub.language} if sub.language else {},
                ),
            )
            for item in reversed(take)  # oldest first, so the queue runs in publication order
        ]
        added = self.queue.store.commit_subscription_items(
            name, jobs, [i.archive_row() for i in skip]
        )
        self.queue.store.save_subscription_state(
            name,
            url=sub.url,
            last_check=now,
            last_ok=now,
            last_error=None,
            items_found=(state.get("items_found") or 0) + len(added),
            last_new=len(added),
            etag=etag,
            modified=modified,
            created_at=state.get("created_at") or now,
        )
        for job in added:
            self.queue.announce(job)
        if added:
            self.events.log("info", f"subscription {name}: {len(added)} new item(s)")
        return {
            "name": name,
            "new": len(added),
            "skipped": len(skip),
            "jobs": [j.id for j in added if j.id is not None],
        }

    def _failed(self, sub: SubscriptionConfig, message: str, now: float) -> CheckOutcome:
        self.queue.store.save_subscription_state(
            sub.name, url=sub.url, last_check=now, last_error=message
        )
        self.events.log("warning", f"subscription {sub.name}: {message}")
        return {"name": sub.name, "error": message}

    def _list(
        self, sub: SubscriptionConfig, state: dict[str, Any], first: bool
    ) -> tuple[list[Item] | None, str | None, str | None]:
        """Runs in a worker thread: (items newest first, or None if unchanged; etag; modified)."""
        cfg = self.config().downloads
        if sub.kind in ("feed", "auto"):
            try:
                result = feeds.fetch(
                    sub.url,
                    None if first else state.get("etag"),
                    None if first else state.get("modified"),
                    cfg.timeout,
                )
                if result.status == 304:
                    return None, result.etag, result.modified
                self.problems[sub.name] = result.problems  # logged back on the event loop
                return result.items, result.etag, result.modified
            except feeds.NotAFeed as exc:
                # only a web page may be something yt-dlp can list (a channel, a playlist)
                if sub.kind == "feed" or "HTML" not in exc.message:
                    raise
        newest = max(sub.backfill, 1) if first and sub.since is None else LIST_NEWEST
        items = ytdlp.list_entries(
            sub.url, newest, timeout=cfg.timeout, sleep_requests=cfg.sleep_requests
        )
        return items, None, None


def _publisher(item: Item, sub: SubscriptionConfig) -> dict[str, Any]:
    """A feed item's Podcasting 2.0 links, and what the subscription wants done with them."""
    if not item.transcripts and not item.chapters:
        return {}
    return {
        "transcripts": list(item.transcripts),
        "chapters": item.chapters,
        "mode": sub.transcripts,
    }


def _feed_key(name: str) -> str:
    """The key of a subscription's own back-off in the host policy (downloads use hosts)."""
    return f"feed {name}"


def _job_id(name: str) -> str:
    return f"subscription:{name}"


def _retry_id(name: str) -> str:
    return f"subscription:{name}:after-back-off"


def _now_dt():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
