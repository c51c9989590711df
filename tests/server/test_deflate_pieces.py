"""Gzip bodies assembled from pre-compressed literals and stored fills decompress to the interleaved text."""

from __future__ import annotations

import gzip
import struct
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from server.deflate_pieces import (
    MAX_STORED,
    SHIFT_TABLE_MIN,
    GzipPieces,
    deflate_literal,
    shift,
    shift_table,
    stored_blocks,
)


def interleave(literals: list[bytes], fills: list[bytes]) -> bytes:
    out = [literals[0]]
    for fill, literal in zip(fills, literals[1:], strict=True):
        out += [fill, literal]
    return b"".join(out)


# Literals both sides of the table threshold, compressible and not; fills empty, short, and over one block.
texts = st.one_of(st.binary(max_size=300),
                  st.binary(min_size=1, max_size=40).map(lambda b: b * (SHIFT_TABLE_MIN // len(b) + 3)),
                  st.integers(SHIFT_TABLE_MIN - 2, SHIFT_TABLE_MIN + 2).map(bytes))
fill_texts = st.one_of(st.binary(max_size=200), st.integers(MAX_STORED - 1, MAX_STORED + 3).map(lambda n: b"f" * n))


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6), st.data())
def test_assembled_body_is_the_interleaved_text(literals: list[bytes], data: st.DataObject) -> None:
    fills = data.draw(st.lists(fill_texts, min_size=len(literals) - 1, max_size=len(literals) - 1))
    pieces = GzipPieces(literals)
    assert gzip.decompress(pieces.assemble(fills)) == interleave(literals, fills)


@given(st.binary(max_size=5000), st.binary(max_size=5000))
def test_crc_shift_combines_like_zlib(a: bytes, b: bytes) -> None:
    # crc(A‖B) = shift(crc(A), |B|) ^ crc(B): what GzipPieces.assemble uses to jump over a long literal
    assert shift(zlib.crc32(a), shift_table(len(b))) ^ zlib.crc32(b) == zlib.crc32(a + b)


def test_literals_end_byte_aligned_and_only_the_last_is_final() -> None:
    middle = deflate_literal(b"<p>hello</p>" * 50, last=False)
    assert middle.endswith(b"\x00\x00\x00\xff\xff")  # the empty stored block a sync flush ends with
    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
    assert decoder.decompress(middle) == b"<p>hello</p>" * 50 and not decoder.eof
    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
    decoder.decompress(deflate_literal(b"end", last=True))
    assert decoder.eof


def test_stored_blocks_split_at_65535_bytes() -> None:
    assert stored_blocks(b"") == b""
    assert stored_blocks(b"abc") == b"\x00" + struct.pack("<HH", 3, 3 ^ 0xFFFF) + b"abc"
    big = bytes(range(256)) * 300  # 76,800 bytes: two blocks
    blocks = stored_blocks(big)
    assert blocks[:5] == b"\x00" + struct.pack("<HH", MAX_STORED, 0)
    assert blocks[5 + MAX_STORED:10 + MAX_STORED] == b"\x00" + struct.pack("<HH", len(big) - MAX_STORED,
                                                                            (len(big) - MAX_STORED) ^ 0xFFFF)
    assert zlib.decompress(blocks + b"\x03\x00", -zlib.MAX_WBITS) == big


def test_trailer_carries_crc_and_size() -> None:
    literals = [b"a" * 3000, b"b" * 10, b"c" * 4000]
    body = GzipPieces(literals).assemble([b"X", b"YY"])
    crc, size = struct.unpack("<II", body[-8:])
    text = interleave(literals, [b"X", b"YY"])
    assert (crc, size) == (zlib.crc32(text), len(text))
