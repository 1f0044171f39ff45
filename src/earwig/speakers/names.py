"""What a speaker is called: a name someone gave that voice before, else "SPEAKER n".

A name is given to a voice in one transcript (`earwig speakers name JOB SPEAKER NAME`); its
embedding is kept with the job's source as its scope (the subscription, or the folder of a
file), so that later transcripts from the same source (or from anywhere, with
`[transcribe] voices = "everywhere"`) call a matching voice by that name. Matching is by
cosine similarity of each turn's voice against the remembered one, never a whole file's merged
voice (a file whose voices were not told apart merges them, and then matches everyone). The
figures behind SAME_VOICE and MARGIN (docs/speakers.md): whole utterances of one eSpeak NG voice
score 0.83-0.95 against each other; different voices a median of 0.54, but eSpeak's language
voices (en-us, de, fr, ...) share one timbre and score 0.77-0.96, as alike as one voice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from earwig.model import Job

SAME_VOICE = 0.65  # a turn's voice against a remembered one (cosine)
MARGIN = 0.1  # over the next-best name, and over the next-best speaker of the file
CLEAR_SHARE = 2 / 3  # of a speaker's turns that must match on their own


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
    voices: Sequence[np.ndarray],
    known: Sequence[tuple[str, Sequence[float]]],
    turns: Sequence[tuple[int, np.ndarray]] = (),
) -> list[str]:
    """A name per speaker, else its label. `turns` are (speaker, that turn's own voice); a
    speaker is given a known voice's name only when it matches clearly, turn by turn: the
    median similarity of its turns to that voice is at least SAME_VOICE, CLEAR_SHARE of its
    turns reach SAME_VOICE on their own, and it beats both the next-best known name for this
    speaker and the next-best speaker for this name by MARGIN. Each name goes to one speaker
    at most, so two different voices in one file never share a remembered name."""
    names = [label(i) for i in range(len(voices))]
    if not known or not voices:
        return names
    by_name: dict[str, list[np.ndarray]] = {}
    for name, vector in known:
        v = np.asarray(vector, float)
        by_name.setdefault(name, []).append(v / max(np.linalg.norm(v), 1e-9))
    people = list(by_name)
    spoken = {i: [t for s, t in turns if s == i] for i in range(len(voices))}
    score = np.full((len(voices), len(people)), -1.0)
    share = np.zeros_like(score)
    for i, v in enumerate(voices):
        own = spoken[i] or [v]
        x = np.array([t / max(np.linalg.norm(t), 1e-9) for t in own])
        for j, person in enumerate(people):
            sims = (x @ np.array(by_name[person]).T).max(axis=1)  # the closest of its samples
            score[i, j] = float(np.median(sims))
            share[i, j] = float((sims >= SAME_VOICE).mean())
    pairs = sorted(
        ((score[i, j], i, j) for i in range(len(voices)) for j in range(len(people))),
        reverse=True,
    )
    used_speakers: set[int] = set()
    used_names: set[int] = set()
    for best, i, j in pairs:
        if best < SAME_VOICE:
            break
        if i in used_speakers or j in used_names or share[i, j] < CLEAR_SHARE:
            continue
        other_names = np.delete(score[i], j)
        other_speakers = np.delete(score[:, j], i)
        if other_names.size and best - other_names.max() < MARGIN:
            continue
        if other_speakers.size and best - other_speakers.max() < MARGIN:
            continue
        names[i] = people[j]
        used_speakers.add(i)
        used_names.add(j)
    return names
