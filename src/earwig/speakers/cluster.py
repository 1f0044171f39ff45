"""Who is who: voice embeddings grouped into speakers (spectral clustering, in numpy).

The method 3D-Speaker and SpeechBrain use for CAM++ embeddings: a cosine affinity graph that
keeps only each embedding's nearest neighbours, its Laplacian's eigenvectors, the number of
speakers from the largest gap between eigenvalues (or the number the user gave), k-means on
the spectral embedding; then tiny clusters join their nearest big one, and clusters whose
centroids are as alike as one voice's are merged. No scikit-learn: the matrices are small
(one row per 1.5 s of speech).
"""

from __future__ import annotations

import numpy as np

MAX_SPEAKERS = 10
NEIGHBOURS = 0.02  # share of each row's strongest affinities kept (at least MIN_NEIGHBOURS)
MIN_NEIGHBOURS = 6
FEW = 5  # fewer embeddings than this: too little speech to tell voices apart
# smaller clusters are folded into the nearest larger one: 2 embeddings in a short file (one
# per few seconds of speech: a speaker with two short lines), 4 from 80 embeddings on
MIN_CLUSTER = (2, 4)
SAME_VOICE = 0.8  # centroids at least this alike (cosine) are one speaker


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def cluster(embeddings: np.ndarray, speakers: int | None = None) -> np.ndarray:
    """A speaker index (0, 1, ...) for each embedding; `speakers` forces their number."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    if speakers == 1 or (speakers is None and n < FEW):
        return np.zeros(n, dtype=int)
    if speakers is not None and n < speakers:
        return np.arange(n) % speakers
    x = normalise(np.asarray(embeddings, dtype=np.float64))
    affinity = x @ x.T
    keep = max(MIN_NEIGHBOURS, int(np.ceil(NEIGHBOURS * n)))
    pruned = np.zeros_like(affinity)
    strongest = np.argsort(affinity, axis=1)[:, -keep:]
    rows = np.arange(n)[:, None]
    pruned[rows, strongest] = affinity[rows, strongest]
    pruned = 0.5 * (pruned + pruned.T)
    np.fill_diagonal(pruned, 0.0)
    laplacian = np.diag(np.abs(pruned).sum(axis=1)) - pruned
    values, vectors = np.linalg.eigh(laplacian)
    if speakers is None:
        top = min(MAX_SPEAKERS, n - 1)
        gaps = np.diff(values[: top + 1])
        k = int(np.argmax(gaps)) + 1
    else:
        k = speakers
    labels = _kmeans(vectors[:, :k], k)
    if speakers is None:
        labels = _fold_small(labels, x)
        labels = _merge_alike(labels, x)
    return _renumber(labels)


LINK = 0.6  # short recordings: pieces whose voices are this alike (average linkage) join


def agglomerate(embeddings: np.ndarray, link: float = LINK) -> np.ndarray:
    """A speaker index per embedding by average-linkage clustering: the two most alike
    groups join while their mean cosine similarity is at least `link`. For a few whole
    pieces of speech (a short recording), where the eigen-gap of spectral clustering has
    too few points to stand on. Whole pieces of one eSpeak NG voice score 0.83-0.95 against
    each other, different voices mostly below 0.7 (docs/speakers.md)."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    x = normalise(np.asarray(embeddings, dtype=np.float64))
    sim = x @ x.T
    groups: list[list[int]] = [[i] for i in range(n)]
    while len(groups) > 1:
        best, pair = -2.0, (0, 1)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                score = float(sim[np.ix_(groups[a], groups[b])].mean())
                if score > best:
                    best, pair = score, (a, b)
        if best < link:
            break
        a, b = pair
        groups[a] += groups.pop(b)
    labels = np.zeros(n, dtype=int)
    for j, members in enumerate(groups):
        labels[members] = j
    return _renumber(labels)


def _kmeans(points: np.ndarray, k: int, rounds: int = 10, iterations: int = 100) -> np.ndarray:
    """Lloyd's k-means with k-means++ starts, the best of `rounds` (seeded: reproducible)."""
    rng = np.random.default_rng(0)
    best, best_cost = np.zeros(len(points), dtype=int), np.inf
    for _ in range(rounds):
        centres = [points[rng.integers(len(points))]]
        for _ in range(1, k):
            d = np.min([((points - c) ** 2).sum(axis=1) for c in centres], axis=0)
            total = d.sum()
            pick = rng.choice(len(points), p=d / total) if total > 0 else rng.integers(len(points))
            centres.append(points[pick])
        c = np.array(centres)
        labels = np.zeros(len(points), dtype=int)
        for step in range(iterations):
            distances = ((points[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
            new = distances.argmin(axis=1)
            if step > 0 and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if (labels == j).any():
                    c[j] = points[labels == j].mean(axis=0)
        cost = float(((points - c[labels]) ** 2).sum())
        if cost < best_cost:
            best, best_cost = labels.copy(), cost
    return best


def _fold_small(labels: np.ndarray, x: np.ndarray) -> np.ndarray:
    least = min(MIN_CLUSTER[1], max(MIN_CLUSTER[0], len(labels) // 20))
    sizes = {int(j): int((labels == j).sum()) for j in np.unique(labels)}
    big = [j for j, size in sizes.items() if size >= least]
    if not big:
        return np.zeros_like(labels)
    centres = normalise(np.stack([x[labels == j].mean(axis=0) for j in big]))
    out = labels.copy()
    for i, label in enumerate(labels):
        if sizes[int(label)] < least:
            out[i] = big[int(np.argmax(centres @ x[i]))]
    return out


def _merge_alike(labels: np.ndarray, x: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    while True:
        ids = list(np.unique(labels))
        if len(ids) < 2:
            return labels
        centres = normalise(np.stack([x[labels == j].mean(axis=0) for j in ids]))
        sim = centres @ centres.T
        np.fill_diagonal(sim, -1.0)
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < SAME_VOICE:
            return labels
        labels[labels == ids[b]] = ids[a]


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Speakers numbered in order of first appearance."""
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=int)


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Each speaker's mean voice (normalised), by speaker index."""
    x = normalise(np.asarray(embeddings, dtype=np.float64))
    return [normalise(x[labels == j].mean(axis=0)) for j in range(int(labels.max()) + 1)]
