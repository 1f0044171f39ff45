"""Voices in short conversations, end to end: a real daemon with `speakers = "auto"`, the real
models, eSpeak NG voices taking turns. A 16 s two-voice conversation splits in two without
being told how many; a name given to one voice in one file is given in the next files to that
voice only, never to another voice nor to every line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ANN, BEN, CAL, Home, conversation
from helpers import run_cli

ANN_BEN = [
    (ANN, "Good morning, how was the long trip back from the coast?"),
    (BEN, "Long, but the view from the train was lovely all the way."),
    (ANN, "Did you see the mountains covered in fresh snow?"),
    (BEN, "Yes, and the lakes were frozen near the border towns."),
]
ANN_CAL = [
    (ANN, "Where did you put the keys to the garden shed?"),
    (CAL, "On the hook by the kitchen door, right next to my coat."),
    (ANN, "I looked there twice already this morning."),
    (CAL, "Then check your pocket, you had them in the garden."),
]
BEN_CAL = [
    (BEN, "Is the corner shop still open at this late hour?"),
    (CAL, "Until nine, but the bakery next to it closes at six."),
    (BEN, "Then I will buy the bread early tomorrow instead."),
    (CAL, "Good idea, it is always fresher in the morning anyway."),
]


def voice_of(truth: list[tuple[float, float, str]], start: float, end: float) -> str:
    """The true voice that speaks most of [start, end]."""
    return max(truth, key=lambda t: min(t[1], end) - max(t[0], start))[2]


def speakers(home: Home, name: str) -> list[tuple[float, float, str]]:
    doc = json.loads((home.out / f"{name}.json").read_text())
    return [(s["start"], s["end"], s["speaker"]) for s in doc["segments"]]


def test_a_short_two_voice_conversation_then_a_name_only_where_its_voice_is(
    home: Home, tmp_path: Path
) -> None:
    home.write_config(transcribe='speakers = "auto"')
    truths = {
        name: conversation(tmp_path / f"{name}.wav", lines)
        for name, lines in (("first", ANN_BEN), ("second", ANN_CAL), ("third", BEN_CAL))
    }
    first_end = truths["first"][-1][1]
    assert 14 < first_end < 20, first_end  # about 16 s, four turns
    daemon = home.daemon().start()
    try:
        shutil.copy(tmp_path / "first.wav", home.watch / "first.wav")
        (job,) = daemon.wait_idle(1)
        said = speakers(home, "first")
        labels = {label for _, _, label in said}
        assert len(labels) == 2, said  # not told how many: found
        by_voice = {voice_of(truths["first"], s, e): label for s, e, label in said}
        assert by_voice[ANN] != by_voice[BEN], said
        named = run_cli(home.config, "speakers", "name", str(job["id"]), by_voice[BEN], "Ben")
        assert named.returncode == 0, named.stderr
        for name in ("second", "third"):
            shutil.copy(tmp_path / f"{name}.wav", home.watch / f"{name}.wav")
        daemon.wait_idle(3)
    finally:
        daemon.kill()
    second = speakers(home, "second")
    assert "Ben" not in {label for _, _, label in second}, second  # Ben does not speak there
    third = speakers(home, "third")
    for s, e, label in third:
        voice = voice_of(truths["third"], s, e)
        assert (label == "Ben") == (voice == BEN), third
