"""The socket and the CLI against a real daemon: protocol abuse, steering, events, lifecycle."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from pathlib import Path

from conftest import Home
from earwig import protocol
from earwig import protocol as p
from earwig.client import DaemonClient
from helpers import DaemonProcess, run_cli


def raw_connection(path: Path) -> tuple[socket.socket, protocol.LineBuffer]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(str(path))
    return sock, protocol.LineBuffer()


def read_message(sock: socket.socket, buf: protocol.LineBuffer, pending: list) -> dict:
    while not pending:
        data = sock.recv(65536)
        assert data, "the daemon closed the connection"
        for line in buf.feed(data):
            assert isinstance(line, bytes), f"a line over the limit: {line}"
            pending.append(protocol.decode(line))
    return pending.pop(0)


def test_garbage_and_oversized_lines_get_errors_and_the_daemon_keeps_serving(
    daemon: DaemonProcess,
) -> None:
    sock, buf = raw_connection(daemon.socket)
    pending: list = []
    sock.sendall(protocol.encode(protocol.hello()))
    assert read_message(sock, buf, pending)["type"] == "welcome"

    sock.sendall(b"this is not json\n")
    reply = read_message(sock, buf, pending)
    assert reply["ok"] is False and "JSON" in reply["error"]["message"]

    sock.sendall(b'{"id": 1, "type": "no.such.thing"}\n')
    reply = read_message(sock, buf, pending)
    assert reply["id"] == 1 and reply["error"]["code"] == "unknown_request"

    sock.sendall(b'{"id": 2, "type": "job.get", "params": {"id": "seven"}}\n')
    assert read_message(sock, buf, pending)["error"]["code"] == "protocol"

    sock.sendall(b'{"x": "' + b"a" * (protocol.MAX_LINE + 10) + b'"}\n')
    reply = read_message(sock, buf, pending)
    assert reply["ok"] is False and reply["error"]["code"] == "too_long"

    sock.sendall(b'{"id":3,"type":"status","params":{}}\n')
    reply = read_message(sock, buf, pending)
    assert reply["id"] == 3 and reply["ok"] is True and reply["result"]["pid"] == daemon.process.pid
    sock.close()
    # A fresh connection is served too.
    assert daemon.call(p.GetStatus())["version"]


def test_a_client_that_skips_the_hello_or_speaks_another_version_is_told(
    daemon: DaemonProcess,
) -> None:
    sock, buf = raw_connection(daemon.socket)
    sock.sendall(b'{"id":1,"type":"status","params":{}}\n')
    reply = read_message(sock, buf, [])
    assert reply["ok"] is False and "hello" in reply["error"]["message"]
    sock.close()

    sock, buf = raw_connection(daemon.socket)
    sock.sendall(b'{"type": "hello", "protocol": 99}\n')
    reply = read_message(sock, buf, [])
    assert "mismatch" in reply["error"]["message"] and "99" in reply["error"]["message"]
    assert sock.recv(100) == b""  # and hung up, not left hanging
    sock.close()


def test_socket_is_private(daemon: DaemonProcess) -> None:
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o700


def test_events_snapshot_then_ordered_updates_with_progress(
    home: Home, daemon: DaemonProcess, long_wav: Path
) -> None:
    with daemon.client() as client:
        snapshot = client.call(p.Subscribe(topics=["jobs"]))
        assert snapshot["jobs"] == [] and snapshot["status"]["queue_paused"] is False
        shutil.copy(long_wav, home.watch / "long.wav")
        seqs, states, progress, lines = [], [], [], 0
        for ev in client.events(timeout=120):
            if ev["event"] == "job.progress":
                assert "seq" not in ev  # coalesced, outside the sequence
                progress.append(ev["data"]["fraction"])
                continue
            seqs.append(ev["seq"])  # every other event is in the sequence, live lines too
            if ev["event"] == p.JOB_SEGMENTS.name:
                data = p.JOB_SEGMENTS.data_of(ev)
                assert data is not None
                lines += len(data["segments"])
                continue
            states.append(ev["data"]["state"])
            if ev["data"]["state"] == "done":
                break
    assert seqs == list(range(1, len(seqs) + 1))
    assert states == ["queued", "fetching", "transcribing", "done"]
    known = [f for f in progress if f is not None]
    assert known and known == sorted(known) and known[0] >= 0 and 0 < known[-1] <= 1
    assert lines > 0  # the transcript's lines arrived while it was transcribed


def test_queue_pause_prioritize_and_resume(
    home: Home, daemon: DaemonProcess, speech_wav: Path, second_wav: Path
) -> None:
    assert run_cli(home.config, "pause").returncode == 0
    assert daemon.call(p.GetStatus())["queue_paused"] is True
    assert run_cli(home.config, "add", str(speech_wav), str(second_wav)).returncode == 0
    first, second = daemon.jobs()
    assert first["state"] == second["state"] == "queued"

    assert run_cli(home.config, "pause", str(first["id"])).returncode == 0
    assert daemon.call(p.GetJob(id=first["id"]))["job"]["state"] == "paused"
    out = run_cli(home.config, "prioritize", str(second["id"]))
    assert out.returncode == 0 and "moved to the top" in out.stdout
    assert run_cli(home.config, "resume", str(first["id"])).returncode == 0
    assert run_cli(home.config, "resume").returncode == 0

    first, second = daemon.wait_idle(2)
    assert first["state"] == second["state"] == "done"
    # the prioritized one was taken first (both are short: the other may then ride the same
    # shared batches, issue 38, so it need not wait for the first to be done)
    assert second["times"]["fetching"] <= first["times"]["fetching"]


def test_cancel_a_running_job_then_retry_it(
    home: Home, daemon: DaemonProcess, long_wav: Path
) -> None:
    shutil.copy(long_wav, home.watch / "long.wav")
    job = daemon.wait_job(lambda j: j["state"] == "transcribing", what="transcription")
    out = run_cli(home.config, "cancel", str(job["id"]))
    assert out.returncode == 0, out.stderr
    daemon.wait_job(lambda j: j["state"] == "cancelled", what="the cancel to land")
    assert not (home.out / "long.txt").exists()

    out = run_cli(home.config, "retry", str(job["id"]))
    assert out.returncode == 0 and "queued again" in out.stdout
    (done,) = daemon.wait_idle(1)
    assert done["state"] == "done" and done["force"] is True
    assert (home.out / "long.txt").exists()

    # a done job's retry, called off (issue 39, item 12): done again, as it was, with the
    # transcript and files of its finished run, and still listed under --state done
    text = (home.out / "long.txt").read_text()
    out = run_cli(home.config, "retry", str(job["id"]))
    daemon.wait_job(lambda j: j["state"] == "transcribing", what="the retry to run")
    out = run_cli(home.config, "cancel", str(job["id"]))
    assert out.stdout == (
        f"#{job['id']} long.wav: the retry is called off; it is done as before (its "
        "transcript and files stay)\n"
    ), out.stdout
    again = daemon.call(p.GetJob(id=job["id"], transcript=True))
    assert again["job"]["state"] == "done" and again["transcript"]["segments"]
    assert (home.out / "long.txt").read_text() == text
    listed = run_cli(home.config, "jobs", "--state", "done").stdout
    assert "long.wav" in listed


def test_refused_steering_says_why(home: Home, daemon: DaemonProcess, second_wav: Path) -> None:
    run_cli(home.config, "add", str(second_wav))
    (job,) = daemon.wait_idle(1)
    out = run_cli(home.config, "resume", str(job["id"]))
    said = f"error: job {job['id']} is done, so it cannot be resumed\n"
    assert out.returncode == 1 and out.stderr.startswith(said), out.stderr
    out = run_cli(home.config, "cancel", "999")
    assert out.returncode == 1 and "no job 999" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_views(home: Home, daemon: DaemonProcess, second_wav: Path) -> None:
    # brackets in a title are text, not rich markup, in every view
    shutil.copy(second_wav, home.watch / "morning [b].wav")
    daemon.wait_idle(1)
    status = run_cli(home.config, "status")
    assert status.returncode == 0
    assert "faster-whisper" in status.stdout and str(home.watch) in status.stdout
    assert "done 1" in status.stdout
    jobs = json.loads(run_cli(home.config, "jobs", "--json").stdout)
    assert [j["title"] for j in jobs] == ["morning [b].wav"]
    table = run_cli(home.config, "jobs").stdout
    assert "morning [b].wav" in table and "done" in table
    show = run_cli(home.config, "show", "1").stdout
    assert "morning [b].wav" in show and "[00:00]" in show and "sunny" in show.lower()
    logs = run_cli(home.config, "logs").stdout
    assert "queued" in logs and "done: morning [b].wav" in logs


def test_logs_follow_streams_new_lines(home: Home, daemon: DaemonProcess, second_wav: Path):
    with DaemonClient(daemon.socket) as client:
        snapshot = client.call(p.Subscribe(topics=["log"], log_limit=5))
        assert any("ready" in e["message"] for e in snapshot["log"])
        shutil.copy(second_wav, home.watch / "morning.wav")
        messages = []
        for ev in client.events(timeout=60):
            messages.append(ev["data"]["message"])
            if ev["data"]["message"].startswith("done:"):
                break
    assert any(m.startswith("queued") for m in messages)


def test_second_daemon_on_the_same_socket_exits_clearly(home: Home, daemon: DaemonProcess):
    second = run_cli(home.config, "run", timeout=60)
    assert second.returncode == 1
    assert f"already running (pid {daemon.process.pid})" in second.stderr
    assert daemon.call(p.GetStatus())  # the first one is unharmed


def test_sigterm_stops_cleanly_and_a_restart_after_kill_9_serves(home: Home) -> None:
    daemon = home.daemon().start()
    assert daemon.stop() == 0
    assert not daemon.socket.exists()

    daemon = home.daemon().start()
    daemon.kill()
    assert daemon.socket.exists()  # left behind by the crash
    daemon = home.daemon().start()  # the stale socket does not block the next start
    try:
        assert daemon.call(p.GetStatus())
    finally:
        assert daemon.stop() == 0


def test_without_a_daemon_the_cli_says_how_to_start_one(home: Home) -> None:
    for args in (["status"], ["jobs"], ["add", "/tmp/x.wav"], ["logs"]):
        out = run_cli(home.config, *args)
        assert out.returncode == 3, (args, out.stderr)
        assert "not running" in out.stderr and "earwig run" in out.stderr
        assert "Traceback" not in out.stderr


def test_a_broken_config_stops_the_daemon_from_starting(home: Home) -> None:
    home.config.write_text('[transcribe]\nbeam_size = "lots"\n')
    out = run_cli(home.config, "run")
    assert out.returncode == 78
    assert str(home.config) in out.stderr and "beam_size" in out.stderr
    assert "whole number" in out.stderr and "Traceback" not in out.stderr


def test_an_unknown_model_stops_the_daemon_from_starting(home: Home) -> None:
    home.write_config(extra="")
    text = home.config.read_text().replace("threads = 2", 'threads = 2\nmodel = "large-v9"')
    home.config.write_text(text)
    out = run_cli(home.config, "run")
    assert out.returncode == 1
    assert "unknown model 'large-v9'" in out.stderr and "Traceback" not in out.stderr
    assert "large-v3" in out.stderr  # the names it could have been
    assert not home.socket.exists()
    assert os.listdir(home.socket.parent) == []
