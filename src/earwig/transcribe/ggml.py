"""Convert a CTranslate2 Whisper model directory into the ggml file whisper.cpp loads.

whisper.cpp only reads ggml files, which only the model hub serves; the model that ships with
earwig is in CTranslate2 format. Both hold the same weights, so they are re-laid out here with
numpy, without torch: the names are mapped, fused attention matrices are split, and the mel
filterbank and GPT-2 vocabulary that whisper.cpp expects inside the file are rebuilt.

Verified facts this relies on (see the design notes): model.bin is a flat list of named arrays;
self-attention q/k/v are fused by rows and cross-attention k/v likewise; whisper.cpp has no key
bias and rejects tensors it does not know; 1-D tensors, positional embeddings and conv biases
(reshaped to [n, 1]) must be float32 and the rest float16.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from earwig.errors import BackendError

GGML_MAGIC = 0x67676D6C
GPT2_BASE_TOKENS = 50257  # whisper.cpp adds the special tokens itself
# CTranslate2's DataType enum, as written in model.bin
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)$")
# CTranslate2 sub-module -> whisper (PyTorch) sub-module, inside one block
BLOCK_NAMES = {
    "self_attention/layer_norm": "attn_ln",
    "attention/layer_norm": "cross_attn_ln",
    "ffn/layer_norm": "mlp_ln",
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
    "self_attention/linear_1": "attn.out",
    "attention/linear_0": "cross_attn.query",
    "attention/linear_2": "cross_attn.out",
}
TOP_NAMES = {
    "encoder/conv1": "encoder.conv1",
    "encoder/conv2": "encoder.conv2",
    "encoder/layer_norm": "encoder.ln_post",
    "decoder/layer_norm": "decoder.ln",
}
FLOAT32_NAMES = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
}


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Every named array in a CTranslate2 model.bin (format version 6), aliases resolved."""
    with path.open("rb") as f:

        def u32() -> int:
            return struct.unpack("<I", f.read(4))[0]

        def string() -> str:
            (n,) = struct.unpack("<H", f.read(2))
            return f.read(n)[:-1].decode()

        version = u32()
        if version < 5:
            raise BackendError(f"{path}: CTranslate2 model format {version} is too old to convert")
        spec = string()
        if spec != "WhisperSpec":
            raise BackendError(f"{path} holds a {spec}, not a Whisper model")
        u32()  # revision
        arrays: dict[str, np.ndarray] = {}
        for _ in range(u32()):
            name = string()
            shape = [u32() for _ in range(f.read(1)[0])]
            dtype_id = f.read(1)[0]
            nbytes = u32()
            raw = f.read(nbytes)
            if dtype_id not in CT2_DTYPES:
                raise BackendError(
                    f"{path}: {name} has CTranslate2 type {dtype_id}, which cannot be converted",
                    "convert a float16 or float32 model (not a quantized one)",
                )
            arrays[name] = np.frombuffer(raw, dtype=CT2_DTYPES[dtype_id]).reshape(shape)
        for _ in range(u32()):
            alias, target = string(), string()
            arrays[alias] = arrays[target]
    return arrays


def whisper_tensors(ct2: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """The arrays under whisper.cpp's (= OpenAI's PyTorch) names, in a stable order."""
    yield "encoder.positional_embedding", ct2["encoder/position_encodings/encodings"]
    yield "decoder.positional_embedding", ct2["decoder/position_encodings/encodings"]
    yield "decoder.token_embedding.weight", ct2["decoder/embeddings/weight"]
    for name, value in sorted(ct2.items()):
        if value.dtype == np.int8 and name.endswith("weight"):
            raise BackendError(f"{name} is int8-quantized", "convert a float16 or float32 model")
        if not name.endswith(("/weight", "/bias", "/gamma", "/beta")):
            continue  # scalars such as num_heads, and the encodings handled above
        stem, leaf = name.rsplit("/", 1)
        leaf = {"gamma": "weight", "beta": "bias"}[leaf] if leaf in ("gamma", "beta") else leaf
        if stem in TOP_NAMES:
            yield f"{TOP_NAMES[stem]}.{leaf}", value
            continue
        match = LAYER.match(stem)
        if not match:
            continue  # embeddings (above) and the projection alias of them
        side, index, sub = match.groups()
        prefix = f"{side}.blocks.{index}"
        if sub in BLOCK_NAMES:
            yield f"{prefix}.{BLOCK_NAMES[sub]}.{leaf}", value
        elif sub == "self_attention/linear_0":  # fused query, key, value
            q, k, v = np.split(value, 3, axis=0)
            yield f"{prefix}.attn.query.{leaf}", q
            if leaf == "weight":  # whisper has no key bias (CTranslate2 stores zeros)
                yield f"{prefix}.attn.key.{leaf}", k
            yield f"{prefix}.attn.value.{leaf}", v
        elif sub == "attention/linear_1":  # cross-attention: fused key, value
            k, v = np.split(value, 2, axis=0)
            if leaf == "weight":
                yield f"{prefix}.cross_attn.key.{leaf}", k
            yield f"{prefix}.cross_attn.value.{leaf}", v
        else:
            raise BackendError(f"unexpected tensor {name} in the CTranslate2 model")


def mel_filters(n_mels: int, sample_rate: int = 16000, n_fft: int = 400) -> np.ndarray:
    """The Slaney-scale, Slaney-normalised mel filterbank Whisper was trained with."""
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        return np.where(
            f >= min_log_hz,
            min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep,
            f / f_sp,
        )

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(
            m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), m * f_sp
        )

    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = hz_to_mel(np.array([0.0, sample_rate / 2]))
    mel_f = mel_to_hz(np.linspace(edges[0], edges[1], n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def gpt2_tokens(vocabulary: Path) -> list[bytes]:
    """vocabulary.txt holds GPT-2's byte-level tokens as printable text: map back to bytes."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    to_byte = {chr(c): b for b, c in zip(printable, chars, strict=True)}
    lines = vocabulary.read_text(encoding="utf-8").split("\n")[:GPT2_BASE_TOKENS]
    if len(lines) < GPT2_BASE_TOKENS:
        raise BackendError(f"{vocabulary} has {len(lines)} tokens, expected at least 50257")
    try:
        return [bytes(to_byte[ch] for ch in token) for token in lines]
    except KeyError as exc:
        raise BackendError(f"{vocabulary} is not a GPT-2 byte-level vocabulary") from exc


Q8_0 = np.dtype([("d", "<f2"), ("qs", "i1", (32,))])  # ggml's block_q8_0: a scale, 32 int8


def quantize_q8_0(x: np.ndarray) -> bytes:
    """ggml's Q8_0: blocks of 32 values along each row, scaled by max|x|/127 into int8."""
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    scale = np.abs(blocks).max(axis=1) / 127.0
    inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    out = np.empty(len(blocks), Q8_0)
    out["d"] = scale.astype(np.float16)
    out["qs"] = np.clip(np.rint(blocks * inverse[:, None]), -127, 127).astype(np.int8)
    return out.tobytes()


QUANTIZATIONS = ("f16", "q8_0")
_GGML_QNT_VERSION = 2  # whisper.cpp reads ftype % 1000, and ftype // 1000 as this version


def _write_file(
    out: BinaryIO, ct2: dict[str, np.ndarray], vocabulary: Path, quantize: str = "f16"
) -> None:
    n_mels = ct2["encoder/conv1/weight"].shape[1]
    layers = {
        side: 1 + max(int(m.group(2)) for n in ct2 if (m := LAYER.match(n)) and m.group(1) == side)
        for side in ("encoder", "decoder")
    }
    state = ct2["encoder/position_encodings/encodings"].shape[1]
    hparams = [
        ct2["decoder/embeddings/weight"].shape[0],  # n_vocab
        ct2["encoder/position_encodings/encodings"].shape[0],  # n_audio_ctx
        state,
        int(ct2["encoder/num_heads"]),
        layers["encoder"],
        ct2["decoder/position_encodings/encodings"].shape[0],  # n_text_ctx
        ct2["decoder/position_encodings/encodings"].shape[1],
        int(ct2["decoder/num_heads"]),
        layers["decoder"],
        n_mels,
        1 if quantize == "f16" else 7 + 1000 * _GGML_QNT_VERSION,  # GGML_FTYPE_MOSTLY_Q8_0
    ]
    out.write(struct.pack("<i", GGML_MAGIC))
    out.write(struct.pack(f"<{len(hparams)}i", *hparams))
    filters = mel_filters(n_mels)
    out.write(struct.pack("<ii", *filters.shape))
    out.write(filters.tobytes())
    tokens = gpt2_tokens(vocabulary)
    out.write(struct.pack("<i", len(tokens)))
    for token in tokens:
        out.write(struct.pack("<i", len(token)))
        out.write(token)
    for name, value in whisper_tensors(ct2):
        data = np.asarray(value)
        if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
            data = data.reshape(-1, 1)
        encoded = name.encode()
        if data.ndim < 2 or name in FLOAT32_NAMES:
            ttype, body = 0, np.ascontiguousarray(data, dtype=np.float32).tobytes()
        elif quantize == "q8_0" and data.ndim == 2:  # the convolutions stay float16
            ttype, body = 8, quantize_q8_0(data)
        else:
            ttype, body = 1, np.ascontiguousarray(data, dtype=np.float16).tobytes()
        out.write(struct.pack("<iii", data.ndim, len(encoded), ttype))
        out.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
        out.write(encoded)
        out.write(body)


def convert(model_dir: Path, target: Path, quantize: str = "f16") -> Path:
    """Write `target` (atomically) from a CTranslate2 Whisper model directory.

    "f16" keeps the weights as they are; "q8_0" stores the matrices as 8-bit blocks, 44 MB
    instead of 78 MB for tiny.en (its speed: bench/backends.py in CONTRIBUTING.md).
    """
    if quantize not in QUANTIZATIONS:
        raise BackendError(f"unknown quantization {quantize!r}", "use f16 or q8_0")
    model_bin, vocabulary = model_dir / "model.bin", model_dir / "vocabulary.txt"
    for needed in (model_bin, vocabulary):
        if not needed.is_file():
            raise BackendError(
                f"cannot convert {model_dir}: {needed.name} is missing",
                "point at a CTranslate2 Whisper model directory (model.bin, vocabulary.txt)",
            )
    ct2 = read_ct2(model_bin)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_file(out, ct2, vocabulary, quantize)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    target.with_name(target.name + ".json").write_text(json.dumps(fingerprint(model_dir)))
    return target


def ensure(model_dir: Path, target: Path) -> Path:
    """`target`, converted from `model_dir` unless an up-to-date conversion is already there."""
    if not target.is_file() or provenance(target) != fingerprint(model_dir):
        convert(model_dir, target)
    return target


def fingerprint(model_dir: Path) -> dict[str, object]:
    """What a conversion was made from: a changed source model is converted again."""
    stat = (model_dir / "model.bin").stat()
    return {"source": str(model_dir), "size": stat.st_size, "mtime": stat.st_mtime}


def provenance(target: Path) -> dict[str, object] | None:
    try:
        return json.loads(target.with_name(target.name + ".json").read_text())
    except (OSError, ValueError):
        return None


# bytes per block and values per block of each ggml tensor type whisper.cpp files use
_TYPE_SIZES = {
    0: (4, 1),
    1: (2, 1),
    2: (18, 32),
    3: (20, 32),
    6: (22, 32),
    7: (24, 32),
    8: (34, 32),
}


def validate(path: Path) -> None:
    """Walk a ggml Whisper file's structure without loading it.

    whisper.cpp "loads" a truncated or foreign file into a context that crashes the whole
    process on first use, so earwig checks the layout first: magic, vocabulary, and that every
    tensor's data is there, ending exactly at the end of the file.
    """

    def bad(why: str) -> BackendError:
        return BackendError(
            f"{path} is not a usable whisper.cpp model: {why}",
            "download or convert it again (`earwig models convert` makes one from the bundled "
            "model)",
        )

    size = path.stat().st_size
    with path.open("rb") as f:

        def ints(n: int) -> tuple[int, ...]:
            raw = f.read(4 * n)
            if len(raw) < 4 * n:
                raise bad("it ends too early")
            return struct.unpack(f"<{n}i", raw)

        (magic,) = ints(1)
        if magic != GGML_MAGIC:
            raise bad("it does not start like a ggml file")
        hparams = ints(11)
        if not 0 < hparams[0] < 1_000_000 or not 0 < hparams[9] <= 512:
            raise bad("its header is implausible")
        n_mel, n_fft = ints(2)
        f.seek(4 * n_mel * n_fft, os.SEEK_CUR)
        (n_vocab,) = ints(1)
        if not 0 < n_vocab <= hparams[0]:
            raise bad("its vocabulary size is implausible")
        for _ in range(n_vocab):
            (length,) = ints(1)
            if not 0 <= length < 1024:
                raise bad("its vocabulary is damaged")
            f.seek(length, os.SEEK_CUR)
        tensors = 0
        while f.tell() < size:
            n_dims, name_len, ttype = ints(3)
            if not 1 <= n_dims <= 4 or not 0 < name_len < 256 or ttype not in _TYPE_SIZES:
                raise bad(f"tensor {tensors + 1} has a damaged header")
            count = 1
            for dim in ints(n_dims):
                count *= dim
            f.seek(name_len, os.SEEK_CUR)
            block_bytes, block_size = _TYPE_SIZES[ttype]
            f.seek(count // block_size * block_bytes, os.SEEK_CUR)
            tensors += 1
        if f.tell() != size:
            raise bad(f"it is truncated ({size:,} bytes, tensor {tensors} needs more)")
        if tensors == 0:
            raise bad("it holds no tensors")
