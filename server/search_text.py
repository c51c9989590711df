"""Pure text helpers for Chinese search: the indexed ``search_text`` column, query clean-up, highlighting.

``search_text`` holds the text itself, its toneless pinyin run together and its pinyin initials, so
one trigram index answers 劳模, ``laomo`` and ``lmdjt`` alike (劳模大讲堂 → "劳模大讲堂 laomodajiangtang lmdjt").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape
from pypinyin import Style, lazy_pinyin

MAX_QUERY_CHARS = 40
MAX_SEARCH_TEXT = 20000
_HAN = re.compile(r"[\u3400-\u9fff]")
_SPACES = re.compile(r"\s+")
# Punctuation that would only add noise to trigrams and LIKE patterns.
_NOISE = re.compile(r"[%_\\\"'`<>{}\[\]()（）【】《》「」“”‘’,.，。、;；:：!！?？·|/]+")


def pinyin_forms(text: str) -> tuple[str, str]:
    """Toneless pinyin run together and pinyin initials of the Han characters in ``text`` (lower case)."""
    han = "".join(_HAN.findall(text))
    if not han:
        return "", ""
    full = "".join(lazy_pinyin(han, errors="ignore"))
    initials = "".join(p[:1] for p in lazy_pinyin(han, style=Style.FIRST_LETTER, errors="ignore"))
    return full.lower(), initials.lower()


def build_search_text(primary: Iterable[str], secondary: Iterable[str] = ()) -> str:
    """``primary`` texts (names, titles, tags) get pinyin forms; ``secondary`` (summaries, bios) only their text.

    Pinyin of long prose would make fuzzy matching find nearly anything, so it is kept to short fields.
    """
    words: list[str] = []
    for text in primary:
        text = _SPACES.sub(" ", text).strip()
        if not text:
            continue
        words.append(text.lower())
        full, initials = pinyin_forms(text)
        words.extend(w for w in (full, initials) if w)
    words.extend(_SPACES.sub(" ", t).strip().lower() for t in secondary if t.strip())
    return " ".join(words)[:MAX_SEARCH_TEXT]


def normalise_query(raw: str | None) -> str:
    """A safe, bounded query: no LIKE wildcards or punctuation, single spaces, lower case."""
    if not raw:
        return ""
    text = _NOISE.sub(" ", raw)
    return _SPACES.sub(" ", text).strip().lower()[:MAX_QUERY_CHARS].strip()


def highlight(text: str, query: str) -> Markup:
    """HTML-escape ``text`` and wrap case-insensitive matches of the query's words in <mark>."""
    words = sorted({w for w in query.split() if w}, key=len, reverse=True)
    if not words or not text:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 — every piece above was escaped


def excerpt(text: str, query: str, width: int = 80) -> str:
    """A window of ``text`` around the first match of the query, so a long summary shows why it matched."""
    if len(text) <= width:
        return text
    lowered = text.lower()
    hits = [i for i in (lowered.find(w) for w in query.split()) if i >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    snippet = text[start:start + width]
    return ("…" if start else "") + snippet + ("…" if start + width < len(text) else "")
