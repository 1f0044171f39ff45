"""Whisper's languages: the codes it accepts and their English names, for validation and hints.

Kept here rather than imported from faster_whisper so that the config and the CLI can check a
language without loading the ML stack; a test holds the codes equal to faster-whisper's own.
"""

from __future__ import annotations

import difflib

LANGUAGES: dict[str, str] = {
    "af": "afrikaans", "am": "amharic", "ar": "arabic", "as": "assamese", "az": "azerbaijani",
    "ba": "bashkir", "be": "belarusian", "bg": "bulgarian", "bn": "bengali", "bo": "tibetan",
    "br": "breton", "bs": "bosnian", "ca": "catalan", "cs": "czech", "cy": "welsh",
    "da": "danish", "de": "german", "el": "greek", "en": "english", "es": "spanish",
    "et": "estonian", "eu": "basque", "fa": "persian", "fi": "finnish", "fo": "faroese",
    "fr": "french", "gl": "galician", "gu": "gujarati", "ha": "hausa", "haw": "hawaiian",
    "he": "hebrew", "hi": "hindi", "hr": "croatian", "ht": "haitian creole", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "is": "icelandic", "it": "italian", "ja": "japanese",
    "jw": "javanese", "ka": "georgian", "kk": "kazakh", "km": "khmer", "kn": "kannada",
    "ko": "korean", "la": "latin", "lb": "luxembourgish", "ln": "lingala", "lo": "lao",
    "lt": "lithuanian", "lv": "latvian", "mg": "malagasy", "mi": "maori", "mk": "macedonian",
    "ml": "malayalam", "mn": "mongolian", "mr": "marathi", "ms": "malay", "mt": "maltese",
    "my": "myanmar", "ne": "nepali", "nl": "dutch", "nn": "nynorsk", "no": "norwegian",
    "oc": "occitan", "pa": "punjabi", "pl": "polish", "ps": "pashto", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sa": "sanskrit", "sd": "sindhi", "si": "sinhala",
    "sk": "slovak", "sl": "slovenian", "sn": "shona", "so": "somali", "sq": "albanian",
    "sr": "serbian", "su": "sundanese", "sv": "swedish", "sw": "swahili", "ta": "tamil",
    "te": "telugu", "tg": "tajik", "th": "thai", "tk": "turkmen", "tl": "tagalog",
    "tr": "turkish", "tt": "tatar", "uk": "ukrainian", "ur": "urdu", "uz": "uzbek",
    "vi": "vietnamese", "yi": "yiddish", "yo": "yoruba", "zh": "chinese", "yue": "cantonese",
}  # fmt: skip

_ALIASES = {  # other names people type, as Whisper's own tokenizer accepts them
    "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb",
    "pushto": "ps", "panjabi": "pa", "moldavian": "ro", "moldovan": "ro", "sinhalese": "si",
    "castilian": "es", "mandarin": "zh", "farsi": "fa", "deutsch": "de", "français": "fr",
    "francais": "fr", "español": "es", "espanol": "es",
}  # fmt: skip


def name(code: str | None) -> str:
    """'de' -> 'German'; an unknown code is returned as it is."""
    if not code:
        return "unknown"
    return LANGUAGES.get(code, code).title()


def check_language(value: str) -> str | None:
    """A language setting -> a Whisper code (None for "auto"); ValueError with a hint if not.

    A name ("german") or an upper-case code ("DE") is not taken silently: the message names
    the code to write, so the CLI and the config read the same way.
    """
    text = value.strip()
    if text == "auto":
        return None
    if text in LANGUAGES:
        return text
    lowered = text.lower()
    code = lowered if lowered in LANGUAGES else _code_for_name(lowered)
    if code is not None:
        raise ValueError(f'a language code: for {LANGUAGES[code].title()} write "{code}"')
    close = difflib.get_close_matches(lowered, [*LANGUAGES, *LANGUAGES.values()], n=1)
    suggestion = ""
    if close:
        guess = close[0] if close[0] in LANGUAGES else _code_for_name(close[0])
        suggestion = f' (did you mean "{guess}", {name(guess)}?)'
    raise ValueError(
        f'"auto" or one of Whisper\'s language codes such as "en", "de", "fr"{suggestion}; '
        "`earwig models --languages` lists them all"
    )


def _code_for_name(text: str) -> str | None:
    if text in _ALIASES:
        return _ALIASES[text]
    return next((code for code, n in LANGUAGES.items() if n == text), None)
