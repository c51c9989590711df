"""Uploaded pictures (lecturer photos, covers): validated by content, resized, EXIF stripped, stored in S3.

Uploaded files are hostile: the format is decided by magic bytes (never the extension or the
browser's content type), SVG is refused (it can carry script), the pixel count is checked from the
header before any decoding (decompression bombs), and what is stored is always our own re-encode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from server.errors import Invalid
from server.keys import new_image_key, sized_image_key
from server.storage import Storage

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMMUTABLE = "public, max-age=31536000, immutable"

_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
}


class ImageKind(StrEnum):
    avatar = "avatar"  # square crop
    cover = "cover"    # 16:9 crop


WIDTHS = {ImageKind.avatar: (96, 320, 640), ImageKind.cover: (320, 640, 1280)}
ASPECT = {ImageKind.avatar: 1.0, ImageKind.cover: 16 / 9}


@dataclass(frozen=True)
class Processed:
    sizes: dict[int, bytes]  # width -> JPEG bytes


def sniff(data: bytes) -> str | None:
    """The image format named by the file's first bytes, or None."""
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def process(data: bytes, kind: ImageKind) -> Processed:
    """Validate and re-encode; raises Invalid with a message for the person who uploaded."""
    if not data:
        raise Invalid("请选择要上传的图片", fields={"photo": "请选择图片文件"})
    if len(data) > MAX_IMAGE_BYTES:
        raise Invalid("图片不能超过 10 MB", fields={"photo": "图片不能超过 10 MB"})
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise Invalid("不支持 SVG 图片，请上传 JPG、PNG、WebP 或 GIF", fields={"photo": "不支持 SVG 图片"})
    fmt = sniff(data)
    if fmt is None:
        raise Invalid("文件不是有效的图片（支持 JPG、PNG、WebP、GIF）", fields={"photo": "文件不是有效的图片"})
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            width, height = img.size
            # Checked from the header, before the pixels are decoded.
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise Invalid("图片尺寸过大（不超过 4000 万像素）", fields={"photo": "图片尺寸过大"})
            img.load()
            picture = ImageOps.exif_transpose(img).convert("RGB")
    except Image.DecompressionBombError:
        raise Invalid("图片尺寸过大（不超过 4000 万像素）", fields={"photo": "图片尺寸过大"}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Invalid("图片已损坏或无法识别", fields={"photo": "图片已损坏或无法识别"}) from None
    return Processed(sizes={w: _encode(picture, w, ASPECT[kind]) for w in WIDTHS[kind]})


def _encode(picture: Image.Image, width: int, aspect: float) -> bytes:
    height = round(width / aspect)
    fitted = ImageOps.fit(picture, (width, height), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # Saved without exif= so no camera metadata (GPS, device) survives.
    fitted.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue()


def _put_all(storage: Storage, processed: Processed) -> str:
    key = new_image_key()
    largest = max(processed.sizes)
    for width, body in processed.sizes.items():
        storage.put_bytes(sized_image_key(key, width), body, "image/jpeg", cache_control=IMMUTABLE)
    storage.put_bytes(key, processed.sizes[largest], "image/jpeg", cache_control=IMMUTABLE)
    return key


async def store_image(storage: Storage, data: bytes, kind: ImageKind) -> str:
    """Validate, resize and upload; returns the key to keep on the row (sized copies derive from it)."""
    processed = await anyio.to_thread.run_sync(process, data, kind)
    return await anyio.to_thread.run_sync(_put_all, storage, processed)


def image_url(key: str | None, width: int | None = None) -> str | None:
    """The browser URL of a stored image: a stable app URL that redirects to a presigned S3 URL."""
    if not key:
        return None
    return "/" + (sized_image_key(key, width) if width else key)
