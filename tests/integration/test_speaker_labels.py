"""Speaker labels end to end: a real daemon with `[transcribe] speakers = "auto"`, the real
model, a conversation of eSpeak NG voices dropped into its folder; then a name given to one
voice, and a later file from the same folder where that voice is recognised."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BEN, CAL, CONVERSATION, Home, conversation
from helpers import run_cli


def test_speakers_are_labelled_named_and_recognised_later(home: Home, tmp_path: Path) -> None:
    home.write_config(transcribe='speakers = "auto"')
    made = tmp_path / "made"
    made.mkdir()
    conversation(made / "talk.wav")
    daemon = home.daemon().start()
    try:
        (made / "talk.wav").rename(home.watch / "talk.wav")
        (job,) = daemon.wait_idle(1)
        assert job["state"] == "done", job
        doc = json.loads((home.out / "talk.json").read_text())
        said = [s["speaker"] for s in doc["segments"]]
        assert all(said) and len(set(said)) == 3, said
        assert said[0] == "SPEAKER 1" and "SPEAKER 2" in said
        # every format carries them the way its readers expect
        txt = (home.out / "talk.txt").read_text()
        assert txt.startswith("SPEAKER 1: ") and "\n\nSPEAKER 2: " in txt
        assert "<v SPEAKER 2>" in (home.out / "talk.vtt").read_text()
        assert "SPEAKER 3: " in (home.out / "talk.srt").read_text()
        assert (home.out / "talk.tsv").read_text().splitlines()[0].endswith("\tspeaker")
        # Ben (en-us+f2) speaks the second line: call that voice Ben
        ben = said[1]
        named = run_cli(home.config, "speakers", "name", str(job["id"]), ben, "Ben")
        assert named.returncode == 0, named.stderr
        doc = json.loads((home.out / "talk.json").read_text())
        assert "Ben" in [s["speaker"] for s in doc["segments"]]
        assert ben not in (home.out / "talk.txt").read_text()
        hits = json.loads(run_cli(home.config, "search", "stream", "--json").stdout)
        assert hits and hits[0]["speaker"] == "Ben", hits
        listed = run_cli(home.config, "speakers")
        assert "Ben" in listed.stdout and str(home.watch) in listed.stdout
        wrong = run_cli(home.config, "speakers", "name", str(job["id"]), "SPEAKER 9", "Zed")
        assert wrong.returncode == 1 and "no speaker 'SPEAKER 9'" in wrong.stderr
        # a later file from the same folder: Ben is known by his voice, Cal is not
        later = [(CAL, CONVERSATION[4][1]), (BEN, CONVERSATION[3][1]), (CAL, CONVERSATION[7][1])]
        later += [(BEN, CONVERSATION[6][1])] * 2
        conversation(made / "later.wav", later)
        (made / "later.wav").rename(home.watch / "later.wav")
        jobs = daemon.wait_idle(2)
        assert all(j["state"] == "done" for j in jobs), jobs
        doc = json.loads((home.out / "later.json").read_text())
        by_text = {s["text"]: s["speaker"] for s in doc["segments"]}
        bens = [who for text, who in by_text.items() if "farmers" in text.lower()]
        cals = [who for text, who in by_text.items() if "apprentice" in text.lower()]
        assert bens and set(bens) == {"Ben"}, by_text
        assert cals and "Ben" not in cals, by_text
    finally:
        daemon.kill()
