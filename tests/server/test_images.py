"""Hostile pictures are refused by content; good ones are resized, stripped of EXIF and served via S3."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import pytest
from PIL import Image

from server.errors import Invalid
from server.keys import image_base_key, is_image_key, sized_image_key
from server.models.catalogue import Lecturer
from server.models.people import Role
from server.runtime import Runtime
from server.services.images import WIDTHS, ImageKind, process
from tests.factories import make_user, sign_in, with_csrf
from tests.server.catalogue_fixtures import make_lecturer


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims 900 megapixels (the IDAT would inflate to gigabytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (800, 600), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("data, message", [
    (png_bomb(), "尺寸过大"),
    (png_bomb(8000, 8000), "尺寸过大"),  # below Pillow's own bomb limit, above ours
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    (b"<!doctype html><html><script>alert(1)</script></html>", "不是有效的图片"),
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "损坏"),
    (b"", "请选择"),
])
def test_hostile_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        process(data, ImageKind.avatar)
    assert message in caught.value.message


def test_resized_and_exif_stripped() -> None:
    processed = process(jpeg_with_exif(), ImageKind.cover)
    assert sorted(processed.sizes) == list(WIDTHS[ImageKind.cover])
    for width, body in processed.sizes.items():
        with Image.open(io.BytesIO(body)) as img:
            assert img.size == (width, round(width * 9 / 16))
            assert not img.getexif() and b"SecretCamera" not in body


def test_image_keys_are_shape_checked() -> None:
    assert is_image_key(sized_image_key("images/" + "a" * 32 + ".jpg", 320))
    assert not is_image_key("media/x/master.m3u8")
    assert not is_image_key("images/../uploads/x.jpg")
    assert not is_image_key("images/" + "a" * 32 + ".jpg\n")


def test_every_stored_size_names_its_row_key() -> None:
    key = "images/" + "c" * 32 + ".jpg"
    assert image_base_key(key) == key
    assert {image_base_key(sized_image_key(key, w)) for w in WIDTHS[ImageKind.cover]} == {key}
    for foreign in ("images/readme.txt", "images/sub/" + "c" * 32 + ".jpg", "images/" + "C" * 32 + ".jpg",
                    "images/" + "c" * 32 + "-1.jpg", "media/" + "c" * 32 + ".jpg"):
        assert image_base_key(foreign) is None, foreign


async def test_photo_upload_through_the_app(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_user(runtime, Role.admin)
    lecturer = await make_lecturer(runtime, admin, "孙师傅")
    await sign_in(client, runtime, admin)
    url = f"/admin/lecturers/{lecturer.id}/photo"
    fake = await client.post(url, data=with_csrf(client), files={"photo": ("photo.jpg", b"<html>hi</html>",
                                                                           "image/jpeg")})
    assert fake.status_code == 422 and "不是有效的图片" in fake.text
    good = await client.post(url, data=with_csrf(client), files={"photo": ("p.jpg", jpeg_with_exif(), "image/jpeg")})
    assert good.status_code == 303
    async with runtime.sessions() as db:
        saved = await db.get(Lecturer, lecturer.id)
    assert saved is not None and saved.photo_key and is_image_key(saved.photo_key)
    redirect = await client.get("/" + sized_image_key(saved.photo_key, 96))
    assert redirect.status_code == 302 and "max-age" in redirect.headers["cache-control"]
    async with httpx.AsyncClient() as s3:
        fetched = await s3.get(redirect.headers["location"])
    assert fetched.status_code == 200 and Image.open(io.BytesIO(fetched.content)).size == (96, 96)
    assert (await client.get("/images/" + "b" * 32 + "-96.jpg")).status_code == 302
    assert (await client.get("/images/..%2Fsecret")).status_code == 404
