"""What a speaker is called: a name someone gave that voice before, else "SPEAKER n".

A name is given to a voice in one transcript (`earwig speakers name JOB SPEAKER NAME`); its
embedding is kept with the job's source as its scope (the subscription, or the folder of a
file), so that later transcripts from the same source (or from anywhere, with
`[transcribe] voices = "everywhere"`) call a matching voice by that name. Matching is by
cosine similarity: on CAM++ embeddings the same voice in two recordings scores 0.7-0.95 and
different voices below 0.55 (tests/unit/test_speakers.py measures it), so SAME_VOICE sits
between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from earwig.model import Job

SAME_VOICE = 0.62


def label(index: int) -> str:
    return f"SPEAKER {index + 1}"


def scope_of(job: Job) -> str:
    """Where a voice belongs: its subscription, else its file's folder, else its URL's host."""
    if job.subscription:
        return f"subscription:{job.subscription}"
    if job.path and not job.url:
        return f"folder:{Path(job.path).parent}"
    if job.url:
        from earwig.urls import host

        return f"host:{host(job.url)}"
    return "*"


def names_for(
    voices: Sequence[np.ndarray], known: Sequence[tuple[str, Sequence[float]]]
) -> list[str]:
    """A name per speaker: the best-matching known voice (each name used once, the most
    alike pairs first), else its label."""
    names = [label(i) for i in range(len(voices))]
    if not known or not voices:
        return names
    a = np.array([v / max(np.linalg.norm(v), 1e-9) for v in voices])
    b = np.array([np.asarray(e, float) / max(np.linalg.norm(e), 1e-9) for _, e in known])
    sim = a @ b.T
    pairs = sorted(
        ((sim[i, j], i, j) for i in range(len(voices)) for j in range(len(known))),
        reverse=True,
    )
    used_speakers: set[int] = set()
    used_names: set[str] = set()
    for score, i, j in pairs:
        name = known[j][0]
        if score < SAME_VOICE:
            break
        if i in used_speakers or name in used_names:
            continue
        names[i] = name
        used_speakers.add(i)
        used_names.add(name)
    return names
