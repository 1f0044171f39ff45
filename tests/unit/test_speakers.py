"""Speaker labels with the real models (Silero VAD, CAM++ on onnxruntime) on conversations
generated offline with eSpeak NG voices whose turn times are known.

The diarization error rate is computed here (not with pyannote.metrics, which needs torch):
10 ms frames, the best one-to-one mapping of found speakers to true ones, DER = (missed
speech + false alarm + confusion) / true speech, no collar.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import ANN, BEN, CAL, CONVERSATION, conversation
from earwig import outputs
from earwig.model import Segment, Transcript, Word
from earwig.speakers import assign, cluster, names
from earwig.speakers.diarize import Turn, diarize, embed
from earwig.speech import synthesize
from earwig.transcribe.audio import decode

DER_LIMIT = 0.10  # measured 0.02-0.04 on these conversations


def der(truth: list[tuple[float, float, str]], turns: list[Turn], parts: bool = False) -> Any:
    """The diarization error rate; with `parts`, (missed, false alarm, confusion) as shares
    of the true speech too."""
    end = max(e for _, e, _ in truth) + 1
    frames = int(end * 100)
    voices = sorted({v for _, _, v in truth})
    ref = np.full(frames, -1)
    for s, e, v in truth:
        ref[int(s * 100) : int(e * 100)] = voices.index(v)
    hyp = np.full(frames, -1)
    for t in turns:
        hyp[int(t.start * 100) : int(t.end * 100)] = t.speaker
    speech = ref >= 0
    missed = int((speech & (hyp < 0)).sum())
    false_alarm = int((~speech & (hyp >= 0)).sum())
    found = sorted({int(h) for h in hyp if h >= 0})
    best = 0
    for perm in itertools.permutations(range(max(len(voices), len(found))), len(found)):
        mapping = dict(zip(found, perm, strict=True))
        mapped = np.array([mapping.get(int(h), -2) if h >= 0 else -1 for h in hyp])
        best = max(best, int((speech & (mapped == ref)).sum()))
    confusion = int((speech & (hyp >= 0)).sum()) - best
    total = int(speech.sum())
    rate = (missed + false_alarm + confusion) / total
    return (rate, missed / total, false_alarm / total, confusion / total) if parts else rate


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list]:
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    truth = conversation(path)
    return decode(path), truth


def test_three_voices_are_found_and_placed(talk) -> None:
    samples, truth = talk
    found = diarize(samples)
    assert found.speakers == 3
    error = der(truth, found.turns)
    assert error < DER_LIMIT, error
    # the turns follow the script: who starts, who answers
    order = [t.speaker for t in found.turns]
    assert order == [0, 1, 0, 1, 2, 0, 1, 2], order


def test_a_given_number_of_speakers_is_kept(talk) -> None:
    samples, _ = talk
    assert diarize(samples, speakers=2).speakers == 2
    assert diarize(samples, speakers=1).speakers == 1


def test_one_voice_is_one_speaker_and_silence_is_none(tmp_path: Path) -> None:
    lines = [(BEN, text) for _, text in CONVERSATION[:5]]
    conversation(tmp_path / "one.wav", lines)
    assert diarize(decode(tmp_path / "one.wav")).speakers == 1
    silence = diarize(np.zeros(16000 * 20, dtype=np.float32))
    assert silence.speakers == 0 and silence.turns == []


def test_one_voice_in_two_recordings_matches_and_others_do_not(tmp_path: Path) -> None:
    """What names.SAME_VOICE rests on: a voice named in one file is known in another."""
    texts = ["The bridge was built of oak and iron.", "Farmers crossed it every morning."]
    emb = {
        (voice, i): embed([decode(synthesize(t, tmp_path / f"{voice}{i}.wav", voice=voice))])[0]
        for voice in (ANN, BEN, CAL)
        for i, t in enumerate(texts)
    }
    x = {k: v / np.linalg.norm(v) for k, v in emb.items()}
    same = [float(x[(v, 0)] @ x[(v, 1)]) for v in (ANN, BEN, CAL)]
    other = [
        float(x[(a, 0)] @ x[(b, 1)]) for a in (ANN, BEN, CAL) for b in (ANN, BEN, CAL) if a != b
    ]
    assert min(same) > names.SAME_VOICE > max(other), (same, other)


def test_known_voices_name_the_speakers_they_match() -> None:
    rng = np.random.default_rng(1)
    alice, bob = rng.normal(size=192), rng.normal(size=192)
    voices = [bob + 0.1 * rng.normal(size=192), rng.normal(size=192)]
    assert names.names_for(voices, [("Alice", alice.tolist()), ("Bob", bob.tolist())]) == [
        "Bob",
        "SPEAKER 2",
    ]
    assert names.names_for(voices, []) == ["SPEAKER 1", "SPEAKER 2"]


def test_clustering_needs_enough_speech_and_keeps_order() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=192), rng.normal(size=192)
    few = np.stack([a + 0.05 * rng.normal(size=192) for _ in range(3)])
    assert list(cluster.cluster(few)) == [0, 0, 0]
    many = np.stack([(b if i % 4 >= 2 else a) + 0.05 * rng.normal(size=192) for i in range(40)])
    labels = cluster.cluster(many)
    assert labels[0] == 0 and len(set(labels)) == 2
    assert all(labels[i] == labels[i % 4] for i in range(40))


T = Transcript((), "en", 10.0, "faster-whisper", "tiny.en")
TURNS = [Turn(0.0, 4.0, 0), Turn(4.0, 10.0, 1)]


def test_a_segment_spanning_a_change_is_split_between_its_words() -> None:
    words = tuple(Word(s, s + 0.8, f" w{i}") for i, s in enumerate([1.0, 2.0, 3.0, 4.2, 5.0]))
    t = T.replace(segments=(Segment(1.0, 5.8, " w0 w1 w2 w3 w4", words=words),))
    out = assign.label(t, TURNS, ["Ann", "Ben"]).segments
    assert [(s.speaker, s.text, s.start, s.end) for s in out] == [
        ("Ann", "w0 w1 w2", 1.0, 3.8),
        ("Ben", "w3 w4", 4.2, 5.8),
    ]
    doc = json.loads(outputs.to_json(t.replace(segments=tuple(out)), {}))
    assert [w["speaker"] for s in doc["segments"] for w in s["words"]] == ["Ann"] * 3 + ["Ben"] * 2


def test_without_words_the_text_is_shared_out_at_the_change() -> None:
    t = T.replace(
        segments=(
            Segment(0.5, 3.5, "all mine"),
            Segment(2.0, 8.0, "one two three four five six"),  # 2 s Ann, 4 s Ben
            Segment(3.8, 4.4, "hm"),  # mostly nobody's but Ben's
        )
    )
    out = assign.label(t, TURNS, ["Ann", "Ben"]).segments
    assert [(s.speaker, s.text) for s in out] == [
        ("Ann", "all mine"),
        ("Ann", "one two"),
        ("Ben", "three four five six"),
        ("Ben", "hm"),
    ]
    assert out[1].end == out[2].start == 4.0
