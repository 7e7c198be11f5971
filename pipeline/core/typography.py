"""French typography for every text the documents print: spaces, guillemets, dates, durations.

The rules are conservative because they also run on transcript text: a URL (`https://…?t=5`),
a clock time (`10:30`) or a ratio is never touched; only punctuation that stands between words
gets its non-breaking space.
"""

from __future__ import annotations

import datetime as dt
import math
import re

NBSP = "\u00a0"  # espace insécable: before « : », inside guillemets, between a number and its unit
NNBSP = "\u202f"  # espace fine insécable: before ; ! ? and %

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")

# URLs are set aside before the punctuation rules run, then put back untouched.
_URL = re.compile(r"(?:https?://|www\.)[^\s<>«»\"]*[^\s<>«»\".,;:!?)\]]")
_SPACES = r"[ \t\u00a0\u202f\u2009]"
# A run of ; ! ? after a word (or a closing sign) and before a space, the end or a closing sign.
_HIGH_PUNCT = re.compile(rf"(?<=[^\s\u00a0\u202f]){_SPACES}*([;!?]+)(?=\s|$|[»)\]\"'’])")
# A colon between words: never in 10:30 or http:// since a space or the end must follow it.
_COLON = re.compile(rf"(?<=[^\s\u00a0\u202f:]){_SPACES}*:(?=\s|$)")
_OPEN_GUILLEMET = re.compile(rf"«{_SPACES}*")
_CLOSE_GUILLEMET = re.compile(rf"{_SPACES}*»")
# Straight or English quotes around a phrase: "…" or “…”.
_QUOTED = re.compile(r"(?:(?<=^)|(?<=[\s(\[]))[\"“]([^\"“”\n]+?)[\"”](?=$|[\s.,;:!?)\]])")
_MULTI_SPACE = re.compile(r"[ \t]{2,}")
# A full stop or a comma standing alone after a word, as typed in haste ("numérique ."): French
# puts no space before it. After a comma, a full stop takes its place (", ." reads "."). A number
# (".5") or an ellipsis ("...") is left alone: a space or the end must follow.
_LOOSE_STOP = re.compile(rf"(?<=[\w»)\]]){_SPACES}+([.,])(?=\s|$)")
_COMMA_STOP = re.compile(r",\s*\.(?=\s|$)")
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")  # l'eau -> l’eau; quotes and code-like text are left alone


def french_text(text: str) -> str:
    """Apply French spacing and guillemets to running text.

    >>> french_text('Il a dit "bonjour" : ça va ?')
    'Il a dit «\\xa0bonjour\\xa0»\\xa0: ça va\\u202f?'
    """
    if not text:
        return text
    urls: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        urls.append(match.group(0))
        return chr(0xE000 + len(urls) - 1)  # a private-use character holds the URL's place

    text = _URL.sub(set_aside, text)
    text = _MULTI_SPACE.sub(" ", text.strip())
    text = _LOOSE_STOP.sub(r"\1", text)
    text = _COMMA_STOP.sub(".", text)
    text = _QUOTED.sub(lambda m: f"«{m.group(1).strip()}»", text)
    text = _OPEN_GUILLEMET.sub("«" + NBSP, text)
    text = _CLOSE_GUILLEMET.sub(NBSP + "»", text)
    text = _HIGH_PUNCT.sub(lambda m: NNBSP + m.group(1), text)
    text = _COLON.sub(NBSP + ":", text)
    text = _APOSTROPHE.sub("’", text)
    for index, url in enumerate(urls):
        text = text.replace(chr(0xE000 + index), url)
    return text


def guillemets(text: str) -> str:
    """Quote a phrase the French way: « text » with non-breaking spaces inside."""
    return f"«{NBSP}{text.strip()}{NBSP}»"


def french_date(date: dt.date | None) -> str:
    """'17 février 2022'; the first of the month is '1er mars 2022'. Empty when unknown."""
    if date is None:
        return ""
    day = "1er" if date.day == 1 else str(date.day)
    return f"{day} {MONTHS[date.month - 1]} {date.year}"


def duration_text(seconds: float) -> str:
    """A duration for reading: '1 h 02 min 05 s', '3 min 40 s', '45 s' (non-breaking spaces)."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours} h {minutes:02d} min {secs:02d} s"
    elif minutes:
        text = f"{minutes} min {secs:02d} s"
    else:
        text = f"{secs} s"
    return text.replace(" ", NBSP)


def format_timestamp(seconds: float, separator: str = ".") -> str:
    """hh:mm:ss.mmm (SRT wants a comma before the milliseconds)."""
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def timestamp(seconds: float) -> str:
    """A position in the replay: '01:02:05' (rounded down, so a link starts before the words)."""
    total = max(0, int(math.floor(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def decimal(value: float, digits: int = 1) -> str:
    """A number with a decimal comma: 3.25 -> '3,3' (one digit by default)."""
    return f"{value:.{digits}f}".replace(".", ",")


def percent(fraction: float) -> str:
    """A share as a whole percentage with a narrow no-break space: 0.234 -> '23 %'."""
    return f"{round(fraction * 100):d}{NNBSP}%"


def join_list(items: list[str]) -> str:
    """'a', 'a et b', 'a, b et c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def counted(forms: dict[str, str], n: int) -> str:
    """A number with its word in agreement: {"one": "{n} passage", "many": "{n} passages"} gives
    '1 passage', '0 passage', '3 passages' (in French, 0 and 1 take the singular)."""
    return forms["one" if abs(n) < 2 else "many"].format(n=n)
