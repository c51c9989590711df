"""Pure HLS playlist rewriting: every URI a playlist names is passed through a function.

Used to serve private playlists whose segment URIs become presigned S3 URLs. Line-based on purpose: the
playlist is passed through verbatim apart from its URIs, so tags the rewriter does not know survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_URI_ATTR = re.compile(r'URI="([^"]*)"')


def rewrite_uris(text: str, rewrite: Callable[[str], str]) -> str:
    """Replace each URI line and each URI="…" attribute (e.g. #EXT-X-MAP, the fMP4 init segment)."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append(line)
        elif stripped.startswith("#"):
            lines.append(_URI_ATTR.sub(lambda m: f'URI="{rewrite(m.group(1))}"', line))
        else:
            lines.append(rewrite(stripped))
    return "\n".join(lines) + "\n"


def is_finished(text: str) -> bool:
    """A media playlist that will not change any more (master playlists never change once written)."""
    return "#EXT-X-ENDLIST" in text or "#EXT-X-STREAM-INF" in text


def vtt_rewrite(text: str, rewrite: Callable[[str], str]) -> str:
    """Rewrite the image URIs of a thumbnail WebVTT (cue payloads like `sprite.jpg#xywh=0,0,160,90`)."""
    out = []
    for line in text.splitlines():
        name, hash_, fragment = line.partition("#xywh=")
        if hash_ and "-->" not in line and " " not in name:
            out.append(f"{rewrite(name)}{hash_}{fragment}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"
