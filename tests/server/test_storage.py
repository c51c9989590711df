from __future__ import annotations

import uuid

import httpx

from server.storage import Storage


def test_put_get_presign_delete(storage: Storage) -> None:
    prefix = f"t/{uuid.uuid4()}/"
    storage.put_bytes(prefix + "a.txt", "讲堂".encode(), "text/plain; charset=utf-8")
    assert storage.get_bytes(prefix + "a.txt") == "讲堂".encode()
    assert storage.size_of(prefix + "a.txt") == len("讲堂".encode())
    url = storage.presign_get(prefix + "a.txt", 60)
    response = httpx.get(url, headers={"Range": "bytes=0-2"})
    assert response.status_code == 206 and response.content == "讲".encode()
    assert storage.delete_prefix(prefix) == 1
    assert storage.size_of(prefix + "a.txt") is None


def test_presigned_get_is_refused_when_tampered(storage: Storage) -> None:
    key = f"t/{uuid.uuid4()}/secret.txt"
    storage.put_bytes(key, b"x")
    url = storage.presign_get(key, 60)
    assert httpx.get(url.replace("secret.txt", "secret2.txt")).status_code in (403, 404)
    assert httpx.get(url.split("?")[0]).status_code == 403


def test_multipart_with_presigned_parts_and_resume(storage: Storage) -> None:
    key = f"uploads/{uuid.uuid4()}/source"
    upload_id = storage.create_multipart(key)
    part1 = b"a" * (5 * 1024 * 1024)
    part2 = b"b" * 1000
    url1 = storage.presign_part(key, upload_id, 1, 60)
    assert httpx.put(url1, content=part1, timeout=30).status_code == 200
    # A resumed client learns what is stored from ListParts, then sends the rest.
    stored = storage.list_parts(key, upload_id)
    assert [(p.number, p.size) for p in stored] == [(1, len(part1))]
    assert httpx.put(storage.presign_part(key, upload_id, 2, 60), content=part2).status_code == 200
    storage.complete_multipart(key, upload_id, storage.list_parts(key, upload_id))
    assert storage.size_of(key) == len(part1) + len(part2)
    assert storage.get_bytes(key)[-3:] == b"bbb"


def test_abort_multipart_is_idempotent(storage: Storage) -> None:
    key = f"uploads/{uuid.uuid4()}/source"
    upload_id = storage.create_multipart(key)
    assert any(u["UploadId"] == upload_id for u in storage.list_multipart_uploads("uploads/"))
    storage.abort_multipart(key, upload_id)
    storage.abort_multipart(key, upload_id)
    assert not any(u["UploadId"] == upload_id for u in storage.list_multipart_uploads("uploads/"))
