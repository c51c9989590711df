"""Pure S3 key builders. Keys never contain user input, only server-made identifiers."""

from __future__ import annotations

import re
import uuid

IMAGE_EXT = "jpg"
IMAGES_PREFIX = "images/"
# An image key names one stored size: images/{uuid}-{width}.jpg; the row keeps images/{uuid}.jpg.
_IMAGE_KEY = re.compile(r"(images/[0-9a-f]{32})(?:-[0-9]{2,4})?(\.(?:jpg|webp|png))")


def new_image_key(ext: str = IMAGE_EXT) -> str:
    return f"{IMAGES_PREFIX}{uuid.uuid4().hex}.{ext}"


def sized_image_key(key: str, width: int) -> str:
    """The key of one resized copy of the image stored under ``key``."""
    stem, _, ext = key.rpartition(".")
    return f"{stem}-{width}.{ext}"


def is_image_key(key: str) -> bool:
    """Only keys shaped like ours may be presigned, so the image route can't be aimed at other objects."""
    return bool(_IMAGE_KEY.fullmatch(key))


def image_base_key(key: str) -> str | None:
    """The key a row keeps for the image whose stored size ``key`` is (itself if unsized); None if not ours."""
    match = _IMAGE_KEY.fullmatch(key)
    return match.group(1) + match.group(2) if match else None


# --- uploads and media ----------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Names the engine writes inside an attempt: "master.m3u8", "360p/index.m3u8", "360p/seg_00001.m4s", …
_MEDIA_FILE = re.compile(r"^([a-z0-9]{1,16}/)?[a-z0-9_]{1,32}\.(m3u8|m4s|mp4|jpg|vtt)$")


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def upload_prefix(upload_id: str) -> str:
    """Everything an upload owns: its assembled source (ends with a slash)."""
    if not is_uuid(upload_id):
        raise ValueError("upload id must be a UUID")
    return f"uploads/{upload_id}/"


def upload_source_key(upload_id: str) -> str:
    return f"{upload_prefix(upload_id)}source"


def media_prefix(media_id: str) -> str:
    """Everything a media row owns, all attempts included (ends with a slash)."""
    if not is_uuid(media_id):
        raise ValueError("media id must be a UUID")
    return f"media/{media_id}/"


def media_owned_prefixes(media_id: str, upload_id: str | None) -> list[str]:
    """Every prefix whose objects belong to one media row alone: its source upload and all its attempts."""
    return [*([upload_prefix(upload_id)] if upload_id else []), media_prefix(media_id)]


def attempt_prefix(media_id: str, attempt: int) -> str:
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    return f"{media_prefix(media_id)}{attempt}/"


def media_key(prefix: str, relpath: str) -> str:
    """The key of one engine output file under an attempt prefix; rejects anything not shaped like one."""
    if not _MEDIA_FILE.match(relpath):
        raise ValueError(f"not a media output name: {relpath!r}")
    return prefix + relpath


# --- member import staging -------------------------------------------------------------------------

IMPORTS_PREFIX = "imports/"


def import_staging_key(user_id: int, token: str) -> str:
    """Where an import file waits between preview and commit; the admin's id keeps tokens per person."""
    return f"{IMPORTS_PREFIX}{user_id}/{token}"
