"""Fixtures: generated speech, private earwig homes, and real daemons.

Nothing here touches the user's home: every test gets its own config, database, socket and
folders, and the model is the bundled tiny.en (no test downloads anything).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from earwig.config import SECTIONS
from earwig.speech import SAMPLE_TEXT, synthesize
from helpers import DaemonProcess, stop_daemons_using
from hubserver import Hub, base_model_files

BASE = "Systran/faster-whisper-base"  # the real model the loopback hub serves

SECOND_TEXT = (
    "Good morning everyone. The weather today is sunny and warm. "
    "We hope you enjoy the rest of your day."
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point HOME and the XDG dirs at a temp dir, so nothing reads or writes the real ones."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("EARWIG_CONFIG", raising=False)
    for name in os.environ:  # config keys from the environment (EARWIG_HTTP_TRUST...)
        if name.startswith(tuple(f"EARWIG_{section.upper()}_" for section in SECTIONS)):
            monkeypatch.delenv(name)
    # No test ever talks to the real model hub: anything not pointed at the loopback hub of
    # tests/hubserver.py goes to a port where nothing listens, and fails fast.
    for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> Path:
    return synthesize(SAMPLE_TEXT, media_dir / "meeting.wav")


@pytest.fixture(scope="session")
def second_wav(media_dir: Path) -> Path:
    return synthesize(SECOND_TEXT, media_dir / "morning.wav")


@pytest.fixture(scope="session")
def speech_mp3(speech_wav: Path, media_dir: Path) -> Path:
    return encode(speech_wav, media_dir / "meeting.mp3", "mp3")


@pytest.fixture(scope="session")
def long_wav(media_dir: Path) -> Path:
    """About a minute of speech: long enough to interrupt mid-transcription."""
    return synthesize(" ".join([SAMPLE_TEXT, SECOND_TEXT] * 4), media_dir / "long.wav")


def encode(src: Path, dst: Path, codec: str) -> Path:
    """Re-encode with PyAV (bundled FFmpeg), as a real mp3 in the wild would be."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream(codec, rate=22050)
        assert isinstance(stream, av.AudioStream)
        for frame in inp.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def make_video(
    wav: Path, dst: Path, subtitle_language: str | None = None, audio_delay: float = 0.0
) -> Path:
    """A real video file made with PyAV: a small black mpeg4 picture and the speech as AAC,
    in the container `dst`'s name says (.mkv). With `subtitle_language`, a SubRip stream is
    muxed in too, with FFmpeg (imageio-ffmpeg's binary: PyAV does not encode subtitles).
    With `audio_delay`, the audio stream starts that many seconds after the picture (as
    Amazon WEB-DL audio often does)."""
    import subprocess
    from fractions import Fraction

    import av
    import imageio_ffmpeg
    import numpy as np

    plain = dst if subtitle_language is None else dst.with_name("plain-" + dst.name)
    with av.open(str(wav)) as inp, av.open(str(plain), "w") as out:
        video = out.add_stream("mpeg4", rate=2)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        seconds = float(inp.duration or 0) / 1e6 + audio_delay
        black = np.zeros((48, 64, 3), np.uint8)
        for i in range(int(seconds * 2) + 1):
            frame = av.VideoFrame.from_ndarray(black, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
        pts = round(audio_delay * 16000)
        for sound in inp.decode(audio=0):
            for chunk in resampler.resample(sound):
                chunk.pts = None
                if audio_delay:  # on the file's clock, from the delay on
                    chunk.pts, chunk.time_base = pts, Fraction(1, 16000)
                pts += chunk.samples
                for packet in audio.encode(chunk):
                    out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    if subtitle_language is None:
        return dst
    srt = dst.with_name("embedded.srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nAlready subtitled.\n")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    inputs = ["-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1"]
    language = ["-metadata:s:s:0", f"language={subtitle_language}"]
    command = [ffmpeg, "-v", "error", "-y", *inputs, "-c", "copy", "-c:s", "srt", *language]
    subprocess.run([*command, str(dst)], check=True)
    plain.unlink()
    srt.unlink()
    return dst


# Three eSpeak NG voices CAM++ tells apart (measured: 0.8-0.9 cosine between two recordings
# of one voice, 0.4-0.65 between these voices), taking turns.
ANN, BEN, CAL = "en-us", "en-us+f2", "en-us+klatt"
CONVERSATION = [
    (ANN, "Welcome back to the show. Today we are talking about rivers and bridges."),
    (BEN, "Thanks for having me. I have been building bridges for almost thirty years now."),
    (ANN, "That is a long time. What was the first bridge you ever worked on?"),
    (BEN, "It was a small footbridge over a stream near my village, made of oak and iron."),
    (CAL, "Let me add something here, since I was there at the time as a young apprentice."),
    (ANN, "Wonderful. Tell us more about that village and the people who lived there."),
    (BEN, "Most of them were farmers, and the bridge saved them an hour every morning."),
    (CAL, "And the mill owner paid for half of it, which nobody expected from him."),
    (CAL, "He even came to the opening, wearing his best coat and a borrowed hat."),
]
GAP = 0.6  # seconds of silence between turns


def conversation(
    path: Path, lines: list[tuple[str, str]] = CONVERSATION
) -> list[tuple[float, float, str]]:
    """Write the voices taking turns as a 16 kHz wav; return the truth: (start, end, voice)."""
    import numpy as np

    from earwig.speech import synthesize, write_wav
    from earwig.transcribe.audio import decode

    parts, truth, t = [], [], 0.0
    for i, (voice, text) in enumerate(lines):
        speech = decode(synthesize(text, path.with_name(f"{path.stem}-{i}.wav"), voice=voice))
        path.with_name(f"{path.stem}-{i}.wav").unlink()
        parts += [speech, np.zeros(int(GAP * 16000), np.float32)]
        truth.append((t, t + len(speech) / 16000, voice))
        t += len(speech) / 16000 + GAP
    write_wav(path, (np.concatenate(parts) * 32767).astype("<i2").tobytes(), 16000)
    return truth


class Home:
    """A private earwig setup: config file, watch folder, output folder, state, socket."""

    def __init__(self, root: Path, runtime: Path, models: Path) -> None:
        self.models = models  # shared by the session: the bundled model is converted once
        self.root = root
        self.watch = root / "inbox"
        self.out = root / "transcripts"
        self.state = root / "state"
        self.socket = runtime / "earwig.sock"  # short path: AF_UNIX allows ~108 bytes
        self.config = root / "config.toml"
        self.media = root / "media"
        self.daemons: list[DaemonProcess] = []  # every daemon made here, stopped at the end
        self.watch.mkdir(parents=True)
        self.write_config()

    def write_config(
        self, extra: str = "", stable_after: str = "0.5s", transcribe: str = "", http: str = ""
    ) -> None:
        """`http`: the [http] table's lines; by default no HTTP server (listen = ""), so
        test daemons never contend for a port; HTTP tests pass listen = "127.0.0.1:0"."""
        self.config.write_text(
            f"""
[daemon]
database = "{self.state / "earwig.db"}"
state_dir = "{self.state}"
socket = "{self.socket}"
stable_after = "{stable_after}"
shutdown_grace = "5s"

[transcribe]
threads = 2
models_dir = "{self.models}"
{transcribe}

[output]
dir = "{self.out}"

[downloads]
dir = "{self.root / "media"}"
timeout = "5s"
retries = 2

[http]
{http or 'listen = ""'}

[[watch]]
path = "{self.watch}"
{extra}
"""
        )

    def daemon(self) -> DaemonProcess:
        """A daemon on this home's config; the `home` fixture stops it whatever happens."""
        daemon = DaemonProcess(self.config, self.root / "daemon.log")
        self.daemons.append(daemon)
        return daemon

    def finish(self) -> None:
        """Stop every daemon of this home: those made by daemon(), and any other `earwig run`
        on its config (the dashboard's `S`, `earwig web`), whatever state the test left."""
        for daemon in self.daemons:
            daemon.finish()
        stop_daemons_using(self.config)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def home(tmp_path: Path, models_dir: Path) -> Iterator[Home]:
    runtime = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    made = Home(tmp_path / "earwig", runtime, models_dir)
    try:
        yield made
    finally:
        made.finish()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def daemon(home: Home) -> Iterator[DaemonProcess]:
    proc = home.daemon()  # registered before it starts: a start that times out is stopped too
    try:
        yield proc.start()
    finally:
        proc.finish()


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return base_model_files(tmp_path_factory.mktemp("hub-files"))


@pytest.fixture
def hub(
    model_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hub]:
    server = Hub()
    server.add_repo(BASE, model_files)
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # plain HTTP, as a mirror serves it
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests whose parts .ci/run builds in the background while the rest of the suite runs
    go last, so that by the time they start their part is ready rather than waited for: those
    that need the compiled language-model server (llm_server), then the container tests."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("container") is not None,
            item.get_closest_marker("llm_server") is not None,
        )
    )
