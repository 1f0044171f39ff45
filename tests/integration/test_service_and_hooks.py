"""Running as a service: readiness, reload, hooks, logging and who may connect."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Home
from earwig import protocol as p
from helpers import DaemonProcess, daemon_env, run_cli, wait_for
from httpserver import LocalServer

HOOK = textwrap.dedent(
    """
    import json, os, sys, time
    job = json.load(sys.stdin)
    mode = sys.argv[2]
    env = {k: v for k, v in os.environ.items() if k.startswith("EARWIG_")}
    with open(sys.argv[1], "a") as fh:
        fh.write(json.dumps({"mode": mode, "job": job, "env": env}) + "\\n")
    if mode == "fail":
        sys.exit(1)
    if mode == "hang":
        time.sleep(60)
    """
)


def hooks_config(home: Home, body: str) -> None:
    home.config.write_text(home.config.read_text() + "\n[hooks]\n" + body)


def test_hooks_get_the_job_and_cannot_hurt_it(home: Home, tmp_path: Path, second_wav: Path):
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    record = tmp_path / "hooks.jsonl"
    hooks_config(
        home,
        f'on_done = ["{sys.executable}", "{script}", "{record}", "ok"]\n'
        f'on_fail = ["{sys.executable}", "{script}", "{record}", "fail"]\n',
    )
    daemon = home.daemon().start()
    try:
        shutil.copy(second_wav, home.watch / "good.wav")
        (home.watch / "bad.wav").write_text("not audio\n" * 50)
        jobs = {j["title"]: j for j in daemon.wait_idle(2)}
        assert jobs["good.wav"]["state"] == "done" and jobs["bad.wav"]["state"] == "failed"
        lines = wait_for(
            lambda: (
                record.exists()
                and len(record.read_text().splitlines()) == 2
                and record.read_text().splitlines()
            ),
            what="both hooks",
        )
        calls = {json.loads(line)["mode"]: json.loads(line) for line in lines}
        done = calls["ok"]
        assert done["job"]["id"] == jobs["good.wav"]["id"] and done["job"]["state"] == "done"
        assert done["env"]["EARWIG_TRANSCRIPT_TXT"] == str(home.out / "good.txt")
        assert done["env"]["EARWIG_SOURCE"] == str(home.watch / "good.wav")
        assert calls["fail"]["env"]["EARWIG_JOB_STATE"] == "failed"
        assert "bad.wav" in calls["fail"]["env"]["EARWIG_ERROR"]
        wait_for(
            lambda: any(
                "hook python" in e["message"] and "exited with 1" in e["message"]
                for e in daemon.call(p.TailLogs())["log"]
            ),
            what="the hook's failure",
        )
        # The failing on_fail hook changed nothing about the jobs.
        assert {j["title"]: j["state"] for j in daemon.jobs()} == {
            "good.wav": "done",
            "bad.wav": "failed",
        }
    finally:
        daemon.kill()


def test_a_hanging_hook_is_killed_after_its_timeout(home: Home, tmp_path: Path, second_wav):
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    hooks_config(
        home,
        f'on_done = ["{sys.executable}", "{script}", "{tmp_path}/r", "hang"]\ntimeout = "1s"\n',
    )
    daemon = home.daemon().start()
    try:
        shutil.copy(second_wav, home.watch / "a.wav")
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done"
        wait_for(
            lambda: any("timed out" in e["message"] for e in daemon.call(p.TailLogs())["log"]),
            what="the timeout",
        )
        assert daemon.stop() == 0
    finally:
        daemon.kill()


def test_webhook_receives_a_json_post_and_is_retried(home: Home, second_wav) -> None:
    with LocalServer() as server:
        url = server.add("/hook", status=503, fail_first=1)
        hooks_config(home, f'webhook = "{url}?token=s3cret"\n')
        home.config.chmod(0o644)
        daemon = home.daemon().start()
        try:
            shutil.copy(second_wav, home.watch / "a.wav")
            daemon.wait_idle(1)
            posts = wait_for(
                lambda: [r for r in server.requests if r.method == "POST"][1:],
                what="the retried POST",
            )
            body = json.loads(posts[0].body)
            assert body["event"] == "job.done" and body["job"]["title"] == "a.wav"
            log = daemon.log() + (home.state / "earwig.log").read_text()
            assert "s3cret" not in log  # the token never reaches a log
            assert "readable by others" in log and "chmod 600" in log
        finally:
            daemon.kill()


def test_sighup_picks_up_a_new_watch_folder(home: Home, daemon: DaemonProcess, second_wav):
    extra = home.root / "lectures"
    home.config.write_text(home.config.read_text() + f'\n[[watch]]\npath = "{extra}"\n')
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: any(
            "config reloaded: [[watch]] folders" in e["message"]
            for e in daemon.call(p.TailLogs())["log"]
        ),
        what="the reload",
    )
    wait_for(extra.exists, what="the new folder")
    shutil.copy(second_wav, extra / "new.wav")
    (job,) = daemon.wait_idle(1)
    assert job["state"] == "done" and job["title"] == "new.wav"


def test_sighup_with_a_broken_config_says_one_line_and_no_traceback(home: Home) -> None:
    """SIGHUP is what the service's ExecReload sends. A broken config is refused in one line
    (the running one kept); nothing else reaches the log: no "Task exception was never
    retrieved", no traceback. A daemon started with `--http` does not report that flag's
    address as a change needing a restart at each reload."""
    daemon = home.daemon().start(args=("--http", "127.0.0.1:0"))
    good = home.config.read_text()
    home.config.write_text(good + "\n[transcribe]\nbeam = 1\n")  # the table twice: no TOML
    daemon.process.send_signal(signal.SIGHUP)

    def said(words: str) -> list[str]:
        return [e["message"] for e in daemon.call(p.TailLogs())["log"] if words in e["message"]]

    (refusal,) = wait_for(lambda: said("reload refused"), what="the refusal")
    assert "\n" not in refusal and "config.toml" in refusal, refusal
    home.config.write_text(good.replace('stable_after = "0.5s"', 'stable_after = "1s"'))
    daemon.process.send_signal(signal.SIGHUP)
    (reloaded,) = wait_for(lambda: said("config reloaded"), what="the next reload")
    assert reloaded == "config reloaded: [daemon] stable_after", reloaded
    # a key read once at start-up: `earwig status` says it waits for a restart (item 13)
    home.config.write_text(
        good.replace('stable_after = "0.5s"', 'stable_after = "1s"').replace(
            "threads = 2", 'threads = 2\nspeakers = "auto"'
        )
    )
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: len(said("config reloaded")) == 2, what="the third reload")
    status = run_cli(home.config, "status").stdout
    assert "  restart  [transcribe] speakers changed in the config: it applies once" in status
    assert daemon.stop() == 0
    for log in (daemon.log(), (home.state / "earwig.log").read_text()):
        assert "reload refused" in log
        assert "Traceback" not in log and "never retrieved" not in log, log


def test_readiness_is_signalled_to_systemd(home: Home, tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(60)
    env = {**daemon_env(), "NOTIFY_SOCKET": path}
    log = open(tmp_path / "d.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "earwig", "--config", str(home.config), "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        message = sock.recv(4096).decode()
        assert "READY=1" in message and f"MAINPID={proc.pid}" in message
        assert home.socket.exists()  # ready means the socket already answers
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in sock.recv(4096).decode()
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        sock.close()


def test_json_logs(home: Home) -> None:
    home.config.write_text(
        home.config.read_text().replace(
            'stable_after = "0.5s"', 'stable_after = "0.5s"\nlog_format = "json"'
        )
    )
    daemon = home.daemon().start()
    daemon.stop()
    entries = [json.loads(line) for line in (home.state / "earwig.log").read_text().splitlines()]
    assert any("ready" in e["message"] and e["level"] == "info" for e in entries)
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in entries)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_a_connection_from_another_user_is_refused(home: Home, daemon: DaemonProcess) -> None:
    # Open the 0700 directory and 0600 socket up, so only the uid check stands in the way.
    os.chmod(daemon.socket.parent, 0o755)
    os.chmod(daemon.socket, 0o666)
    probe = textwrap.dedent(
        f"""
        import os, socket
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX)
        s.connect({str(daemon.socket)!r})
        s.sendall(b'{{"type":"hello","protocol":1}}\\n')
        print(s.recv(4096).decode())
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert "forbidden" in out.stdout and "another user" in out.stdout, out.stderr
    assert "welcome" not in out.stdout
    assert run_cli(home.config, "status").returncode == 0  # the owner still gets in
