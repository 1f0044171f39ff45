"""The pool on real parts: two real OpenAI-compatible servers (faster-whisper-server on the
bundled model, each behind a counting proxy on 127.0.0.1) and a real daemon spreading its
queue over them; one server is killed mid-request and started again. And this machine's own
`workers = 2`, two real transcriptions at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, wait_for
from speechserver import Proxy, SpeechServer


def unique(wav: Path, dst: Path, n: int) -> Path:
    """The same speech with its last sample set to n: other content to sha256."""
    data = wav.read_bytes()
    dst.write_bytes(data[:-2] + n.to_bytes(2, "little"))
    return dst


def slots(daemon: DaemonProcess) -> dict[str, p.SlotView]:
    return {s["name"]: s for s in daemon.call(p.GetStatus())["slots"]}


@pytest.mark.slow
def test_a_queue_spread_over_two_servers_survives_one_dying(
    home: Home, tmp_path: Path, long_wav: Path, speech_wav: Path
) -> None:
    a = SpeechServer(tmp_path / "a.log").start()
    b = SpeechServer(tmp_path / "b.log").start()
    pa, pb = Proxy(a.base), Proxy(b.base)
    home.write_config(
        transcribe="workers = 0",
        extra=f"""
[[transcribe.servers]]
name = "a"
url = "{pa.url}"
priority = 10

[[transcribe.servers]]
name = "b"
url = "{pb.url}"
""",
    )
    daemon = home.daemon().start()
    try:
        assert set(slots(daemon)) == {"a", "b"}  # workers = 0: no local slot
        # a long file goes to a (priority 10); a is killed while it works on it
        shutil.copy(long_wav, home.watch / "long.wav")
        wait_for(pa.in_flight.is_set, 60, what="a request in flight on server a")
        a.kill()
        job = daemon.wait_job(lambda j: j["state"] == "done", 180, what="the long job")
        assert job["slot"] == "b" and job["attempts"] == 1, job  # failed over, counted
        assert sorted(p.name for p in home.out.glob("long*")) == [
            "long.json",
            "long.srt",
            "long.tsv",
            "long.txt",
            "long.vtt",
        ]  # one transcript, not two
        down = slots(daemon)["a"]
        assert not down["up"] and down["errors"] == 1, down

        a = SpeechServer(tmp_path / "a.log", port=a.port).start()  # back on its port
        wait_for(lambda: slots(daemon)["a"]["up"], 90, what="server a probed back up")
        before = pa.posts
        for n in range(4):
            unique(speech_wav, home.watch / f"talk{n}.wav", n)
        jobs = daemon.wait_idle(5)
        assert all(j["state"] == "done" for j in jobs), jobs
        assert {j["slot"] for j in jobs if j["title"].startswith("talk")} == {"a", "b"}
        assert pa.posts > before  # a takes work again
        assert sorted(p.name for p in home.out.glob("*.txt")) == [
            "long.txt",
            *(f"talk{n}.txt" for n in range(4)),
        ]
        shown = daemon.call(p.GetStatus())["slots"]
        assert all(s["done"] >= 1 and s["up"] for s in shown), shown
    finally:
        daemon.stop()
        pa.close()
        pb.close()
        a.stop()
        b.stop()


def test_two_local_workers_transcribe_two_files_at_once(home: Home, long_wav: Path) -> None:
    home.write_config(transcribe="workers = 2")
    daemon = home.daemon().start()
    try:
        assert slots(daemon)["local"]["capacity"] == 2
        for n in range(2):
            unique(long_wav, home.watch / f"lecture{n}.wav", n)
        wait_for(
            lambda: len(daemon.call(p.GetStatus())["running_jobs"]) == 2,
            120,
            interval=0.02,
            what="two jobs running at once",
        )
        jobs = daemon.wait_idle(2)
        assert [j["state"] for j in jobs] == ["done", "done"]
        assert {j["slot"] for j in jobs} == {"local"}
    finally:
        assert daemon.stop() == 0
