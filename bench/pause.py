"""How long a pause or a cancel takes to reach a running job with both cores busy, by stage:
while the first window is decoded, while the engine transcribes, while the speakers are told
apart. Each figure is a median over the rounds, in seconds from the request:

- answer: the request's reply (the daemon waits until the job has stopped, up to 2 s);
- state: the `job.updated` event saying paused or cancelled (what every client shows);
- quiet: the daemon's CPU use has settled (under 10% over half a second): the work really
  ended, the engine's piece in hand included.

    python bench/pause.py [--rounds 3] [--burners 2] [--copies 2]

About twelve minutes of distinct prose (bench/prose.txt read by eSpeak NG, `--copies` times,
as an mp3, so decoding is real work) through a daemon with the bundled model, 2 threads,
speakers = "auto" (so all three stages exist); `--burners` processes spin on the CPU the
whole time. To measure the code before a change, run it with PYTHONPATH pointing at that
checkout's src/ (the daemon is started with the same interpreter and environment).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from earwig import protocol as p
from earwig.client import DaemonClient
from harness import Daemon, wait

PROSE = Path(__file__).with_name("prose.txt")
TICKS = os.sysconf("SC_CLK_TCK")


def recording(root: Path, copies: int) -> Path:
    """The prose read `copies` times, as a 44.1 kHz stereo mp3."""
    import av
    import numpy as np

    from earwig.speech import synthesize
    from earwig.transcribe.audio import decode

    speech = decode(synthesize(PROSE.read_text(), root / "prose.wav"))
    rate = 44100
    stretched = np.interp(
        np.arange(int(len(speech) * rate / 16000)) * 16000 / rate, np.arange(len(speech)), speech
    ).astype(np.float32)
    pcm = np.tile(stretched, copies)
    path = root / "lecture.mp3"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mp3", rate=rate, layout="stereo")
        step = 1152 * 20
        for i in range(0, len(pcm), step):
            chunk = pcm[i : i + step]
            frame = av.AudioFrame.from_ndarray(
                np.stack([chunk, chunk]).reshape(1, -1), format="flt", layout="stereo"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def cpu(pid: int) -> float:
    """CPU seconds used by the process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def quiet(pid: int, since: float) -> float:
    """Seconds from `since` until the process uses under 10% of a core over half a second."""
    last_t, last_c = time.monotonic(), cpu(pid)
    while True:
        time.sleep(0.1)
        now, used = time.monotonic(), cpu(pid)
        if now - last_t >= 0.5:
            if (used - last_c) / (now - last_t) < 0.1:
                return last_t - since
            last_t, last_c = now, used


def trial(
    daemon: Daemon, job_id: int, stage: str, action: str, wait_after: float
) -> tuple[float, float, float] | None:
    """Run the job again from the start, stop it in `stage` (`wait_after` seconds into it),
    and time the stop three ways."""
    with DaemonClient(daemon.socket, timeout=60) as events:
        events.call(p.Subscribe(topics=["jobs"], limit=1))
        daemon.call(p.RetryJob(id=job_id))
        entered: float | None = None
        for message in events.events(timeout=900):
            changed = p.JOB_UPDATED.data_of(message)
            if changed is not None and changed["id"] == job_id:
                if changed["state"] in ("done", "failed", "cancelled"):
                    why = changed.get("error") or changed["state"]
                    print(f"  (the job ended before {stage} was seen: {why}; not counted)")
                    return None
                continue
            progress = p.JOB_PROGRESS.data_of(message)
            if progress is None or progress["id"] != job_id:
                continue
            if progress.get("phase") == stage:
                entered = entered or time.monotonic()
                if time.monotonic() - entered >= wait_after:
                    break
            elif entered is not None or progress.get("phase") == "writing":
                print(f"  ({stage} was over before the request could be sent: not counted)")
                wait(lambda: daemon.call(p.GetJob(id=job_id))["job"]["state"] == "done")
                return None
        request = p.PauseJob(id=job_id) if action == "pause" else p.CancelJob(id=job_id)
        t0 = time.monotonic()
        daemon.call(request)
        answer = time.monotonic() - t0
        want = "paused" if action == "pause" else "cancelled"
        for message in events.events(timeout=900):
            job = p.JOB_UPDATED.data_of(message)
            if job is not None and job["id"] == job_id and job["state"] == want:
                break
        state = time.monotonic() - t0
    settled = quiet(daemon.pid, t0)
    if action == "pause":  # the next round starts afresh
        daemon.call(p.CancelJob(id=job_id))
    return answer, state, settled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2, help="processes spinning on a core")
    parser.add_argument("--copies", type=int, default=2, help="times the prose is read")
    parser.add_argument(
        "--stages", default="decoding,transcribing,speakers", help="which stages, comma-separated"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media = recording(root, args.copies)
        transcribe = 'threads = 2\nspeakers = "auto"\npreload = true'
        burners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(args.burners)
        ]
        try:
            with Daemon(root / "d", transcribe=transcribe) as daemon:
                daemon.call(p.PauseQueue())
                job_id = daemon.call(p.AddJobs(paths=[str(media)]))["results"][0]["job"]["id"]
                daemon.call(p.CancelJob(id=job_id))
                daemon.call(p.ResumeQueue())
                wait(lambda: daemon.call(p.GetStatus())["backend"]["loaded"])
                rows: list[tuple[str, str, float, float, float, float]] = []
                for stage, delays in (
                    ("decoding", (0.0,)),
                    ("transcribing", (0.5, 2.0, 4.0)),
                    ("speakers", (0.0,)),
                ):
                    if stage not in args.stages.split(","):
                        continue
                    for action in ("pause", "cancel"):
                        tried = [
                            trial(daemon, job_id, stage, action, delays[r % len(delays)])
                            for r in range(args.rounds)
                        ]
                        got = [t for t in tried if t is not None]
                        if not got:
                            continue
                        medians = [statistics.median(x[i] for x in got) for i in range(3)]
                        worst = max(x[1] for x in got)
                        rows.append((stage, action, medians[0], medians[1], medians[2], worst))
                        print(
                            f"{stage:<12} {action:<6} answer {medians[0]:6.2f}s  "
                            f"state {medians[1]:6.2f}s (worst {worst:.2f}s)  "
                            f"quiet {medians[2]:6.2f}s",
                            flush=True,
                        )
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
    load = os.getloadavg()[0]
    print(f"\n{args.rounds} rounds, {args.burners} burners, load average {load:.1f}")
    print("| stage | request | answer | state change (worst) | CPU quiet |")
    print("|---|---|---|---|---|")
    for stage, action, answer, state, settled, worst in rows:
        print(
            f"| {stage} | {action} | {answer:.2f} s | {state:.2f} s ({worst:.2f}) "
            f"| {settled:.2f} s |"
        )


if __name__ == "__main__":
    main()
