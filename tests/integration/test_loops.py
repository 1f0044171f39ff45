"""Loops caught on a real hallucinating input: English, then German, read by eSpeak NG, through
the bundled English-only tiny.en on faster-whisper's batched path (what a job over a minute
long takes). The raw engine, given this file, loops; earwig's transcript of it does not, says
where the German is in one warning, and marks it in the subtitles.

What tiny.en made of the German when this test was written (raw `BatchedInferencePipeline`,
beam 5): "... and Fish, and Raffin, Arvin, Schen, Alamud, and Utlutlutlutlutlut..." and "I'm
not sure if I'm going to do this, but" six times in a row, at gzip ratios of 3 to 6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import Home
from earwig import outputs
from earwig import protocol as p
from earwig.speech import synthesize, write_wav
from earwig.transcribe import pipeline, registry
from earwig.transcribe.audio import decode
from earwig.transcribe.base import TranscribeOptions
from earwig.transcribe.models import resolve_ctranslate2
from earwig.transcribe.repair import too_many, worst_repeat
from helpers import run_cli

ENGLISH = " ".join((Path(__file__).parents[2] / "bench" / "prose.txt").read_text().split()[:90])
GERMAN = (
    "Im Winter frieren die Seen in den Bergen zu. Dann kommen die Familien mit ihren "
    "Schlittschuhen, und am Ufer verkauft ein alter Mann heißen Tee und frische Waffeln. "
    "Abends gehen alle müde und glücklich nach Hause. Die Temperatur ist gestiegen, und die "
    "Mitarbeiter möchten mehr Pausen. Der Termin mit dem Kunden wurde verschoben, weil die "
    "Technik nicht funktioniert hat. Wir brauchen eine neue Lösung für die Datenbank und die "
    "Telefonanlage. Meine Damen und Herren, ich bedanke mich für Ihre Aufmerksamkeit und "
    "wünsche Ihnen einen schönen Tag. Tee, Tempo, Termin, Technik, Temperatur und Theater."
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The recording, and where the German starts."""
    folder = tmp_path_factory.mktemp("loops")
    parts = [("en-us", ENGLISH), ("de", GERMAN), ("de", GERMAN)]
    pieces = []
    for i, (voice, text) in enumerate(parts):
        pieces += [decode(synthesize(text, folder / f"{i}.wav", voice=voice))]
        pieces += [np.zeros(16000, np.float32)]
    switch = (len(pieces[0]) + len(pieces[1])) / 16000
    path = folder / "mixed.wav"
    write_wav(path, (np.concatenate(pieces) * 32767).astype("<i2").tobytes(), 16000)
    return path, switch


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the real model, several times, on 2 shared cores
def test_tiny_en_loops_on_german_and_earwig_keeps_no_loop(mixed: tuple[Path, float]) -> None:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    path, switch = mixed
    raw = WhisperModel(str(resolve_ctranslate2("bundled")[0]), compute_type="int8", cpu_threads=2)
    segments, _ = BatchedInferencePipeline(raw).transcribe(
        decode(path), language="en", beam_size=5, batch_size=8
    )
    raw_text = [s.text for s in segments]
    assert any(too_many(worst_repeat(text)) for text in raw_text), raw_text  # it loops

    from earwig.config import TranscribeConfig

    backend = registry.create(TranscribeConfig(backend="faster-whisper", threads=2))
    t = pipeline.transcribe_file(
        backend,
        path,
        TranscribeOptions(),
        lambda f: None,
        lambda: False,
        model="bundled",
        job_id=7,
        cue_words=True,
    )
    for s in t.segments:  # no phrase past a handful of copies, no syllable loop
        assert not too_many(worst_repeat(s.text)), s.text
    (foreign,) = [w for w in t.warnings if w.startswith("not English: ")]
    assert "`earwig retry 7 --model base`" in foreign
    dropped = [f for f in t.flags if f.kind == "foreign"]
    assert dropped and all(f.drop for f in dropped)
    assert abs(dropped[0].start - switch) < 10, (dropped, switch)
    srt = outputs.to_srt(t, {})
    assert "not transcribed" in srt
    cues = [block.split("\n", 2)[2] for block in srt.strip().split("\n\n")]
    assert all(not too_many(worst_repeat(c)) for c in cues)
    assert "Harwick" in srt  # the English is there, in cues of its own


def test_two_german_stretches_are_one_warning_shown_as_one_and_a_retry_clears_it(
    home: Home, tmp_path: Path
) -> None:
    """Through a real daemon: English, German, English, German. The job's card has one
    warning naming both German stretches and its own number (what `earwig show`, the web
    card and the dashboard all list, one line each), the subtitles say what is missing
    where, and a retry starts without the last run's warning."""
    short = " ".join(ENGLISH.split()[:45])
    parts = [("en-us", short), ("de", GERMAN), ("en-us", short), ("de", GERMAN)]
    pieces = []
    for i, (voice, text) in enumerate(parts):
        pieces += [decode(synthesize(text, tmp_path / f"{i}.wav", voice=voice))]
        pieces += [np.zeros(16000, np.float32)]
    path = home.watch / "twice.wav"
    write_wav(path, (np.concatenate(pieces) * 32767).astype("<i2").tobytes(), 16000)
    daemon = home.daemon().start()
    try:
        (job,) = daemon.wait_idle(1, timeout=600)
        shown = run_cli(home.config, "show", str(job["id"]), "--no-transcript").stdout
        retried = run_cli(home.config, "retry", str(job["id"]))
        again = daemon.call(p.GetJob(id=job["id"]))
    finally:
        daemon.kill()
    assert job["state"] == "done", job
    (warning,) = [w for w in job["warnings"] if w.startswith("not English: ")]
    assert f"`earwig retry {job['id']} --model base`" in warning
    assert warning.count("-") >= 2 and " and " in warning.split("(")[0]  # two ranges
    assert shown.count("warning  not English: ") == 1, shown
    srt = (home.out / "twice.srt").read_text()
    assert srt.count("[not transcribed:") == 2 or "not transcribed" in srt
    assert retried.returncode == 0, retried.stderr
    assert not again["job"]["warnings"], again  # the rerun shows only its own
