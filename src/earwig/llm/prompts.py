"""The prompts earwig sends by default, written for small local models (a 135M-parameter
model must be able to follow them, a big one gets no worse): one short task per call, plain
text out (no JSON to get wrong), an example of the exact line shape wanted, and the
transcript first, so that every call about one transcript starts with the same bytes and a
server that caches its prompt prefix (llama.cpp, Ollama, vLLM) reads the transcript once.

docs/llm.md quotes them; `VERSION` is part of the deduplication key, so changing a prompt
here makes new answers instead of serving old ones.
"""

from __future__ import annotations

VERSION = 1

SYSTEM = (
    "You read transcripts of recordings and answer briefly in plain text. Each line of a "
    "transcript starts with a time in square brackets, sometimes followed by who speaks."
)

# The user message: the material first (the shared prefix), then what to do with it
MATERIAL = "Transcript:\n{text}\n\n"
PARTS = "Summaries of the consecutive parts of one recording, each with its time span:\n{text}\n\n"

SUMMARY = (
    "Summarize the transcript above in three to five sentences: what it is about and what "
    "is said or decided. Write only the summary."
)
SUMMARY_OF_PARTS = (
    "Summarize the recording from the summaries above in three to five sentences: what it is "
    "about and what is said or decided. Write only the summary."
)
NOTES = (
    "Summarize the transcript above in two or three sentences. It is one part of a longer "
    "recording. Write only the summary."
)
TITLE = "Write a title for the text above, at most eight words. Write only the title."
# The example's titles are placeholders a small model may copy: such a chapter is dropped
EXAMPLE_TITLES = ("The first topic", "The next topic")
CHAPTERS = (
    "Split the transcript above into a few chapters where the topic changes. Write one "
    "chapter per line: its start time in square brackets, then a short title. Like this:\n"
    f"[00:00] {EXAMPLE_TITLES[0]}\n[12:34] {EXAMPLE_TITLES[1]}\nWrite only the chapter lines."
)

TRANSLATE_SYSTEM = "You translate subtitles from {source} into {target}."
TRANSLATE = (
    "Translate every line below into {target}. Each line starts with a number in square "
    "brackets. Keep the number exactly as it is, then write the translation. Write one line "
    "for each line, in the same order, and nothing else.\n\n{text}"
)

# Answer lengths in tokens: enough for what is asked, a bound on a model that rambles (or
# echoes the transcript back, as small ones do)
SUMMARY_TOKENS = 320
NOTES_TOKENS = 200
TITLE_TOKENS = 24
CHAPTERS_TOKENS = 320
