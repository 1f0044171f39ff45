"""The language-model stage: summaries, titles, chapters and translated subtitles from a
finished transcript, through any OpenAI-compatible chat endpoint the user runs.

Pure parts only (no daemon, no store): `client.py` (one chat call over httpx), `lines.py`
(the transcript as timestamped lines, cut into windows), `prompts.py` (the default prompts,
written for small local models), `summarize.py` (map-reduce, chapters clamped and deduplicated)
and `translate.py` (cues in id-tagged batches, re-aligned by id). The daemon's worker that runs
them as a stage after transcription is `daemon/followups.py`.
"""
