"""Kaldi-style log-mel filterbank features in numpy: what the CAM++ speaker model was trained on.

25 ms Povey windows every 10 ms, DC removed, pre-emphasis 0.97, a 512-point power spectrum,
80 triangular mel filters from 20 Hz to Nyquist (Kaldi's mel scale, 1127 ln(1 + f/700)),
natural log; the same frames torchaudio.compliance.kaldi.fbank gives with dither 0, so the
model sees what it saw in training without torch. Each stretch is mean-normalised by the
caller (CMN), which also removes any gain.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

RATE = 16_000
FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
FFT = 512
MELS = 80
LOW_HZ = 20.0
EPS = float(np.finfo(np.float32).eps)


def _mel(hz: Any) -> Any:
    return 1127.0 * np.log(1.0 + hz / 700.0)


@functools.cache
def _mel_banks() -> np.ndarray:
    """(FFT/2 + 1, MELS): the triangular filters, zero at the Nyquist bin as in Kaldi."""
    bins = FFT // 2
    mel_low, mel_high = _mel(np.float64(LOW_HZ)), _mel(np.float64(RATE / 2))
    delta = (mel_high - mel_low) / (MELS + 1)
    index = np.arange(MELS)[:, None]
    left, center, right = (mel_low + (index + k) * delta for k in (0, 1, 2))
    mel = _mel((RATE / FFT) * np.arange(bins))[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))  # (MELS, bins)
    return np.pad(banks, ((0, 0), (0, 1))).T.astype(np.float32)


@functools.cache
def _window() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) log-mel energies of 16 kHz mono float samples; no frames if too short."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < FRAME:
        return np.zeros((0, MELS), dtype=np.float32)
    count = 1 + (len(samples) - FRAME) // SHIFT
    strides = (samples.strides[0] * SHIFT, samples.strides[0])
    frames = np.lib.stride_tricks.as_strided(samples, (count, FRAME), strides).astype(np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.empty_like(frames)
    emphasised[:, 1:] = frames[:, 1:] - 0.97 * frames[:, :-1]
    emphasised[:, 0] = frames[:, 0] - 0.97 * frames[:, 0]
    spectrum = np.abs(np.fft.rfft(emphasised * _window(), n=FFT)) ** 2
    return np.log(np.maximum(spectrum.astype(np.float32) @ _mel_banks(), EPS))
