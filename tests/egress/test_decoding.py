"""The bounded Content-Encoding decoders, alone."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from backports import zstd

from alt.platform.egress import FetchError
from alt.platform.egress.decoding import PIECE, Chain, DecodeError, codings

DATA = os.urandom(50_000) + b"feed " * 400_000  # 2 MB, compresses well


def run(chain: Chain, encoded: bytes, step: int) -> tuple[bytes, int]:
    out = bytearray()
    largest = 0
    for start in range(0, len(encoded), step):
        for piece in chain.decode(encoded[start : start + step]):
            largest = max(largest, len(piece))
            out += piece
    for piece in chain.flush():
        largest = max(largest, len(piece))
        out += piece
    return bytes(out), largest


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


@pytest.mark.parametrize("step", [1000, 65536, 10_000_000])
@pytest.mark.parametrize(
    "applied", [[], ["gzip"], ["deflate"], ["br"], ["zstd"], ["gzip", "br"], ["zstd", "gzip"]]
)
def test_round_trip_in_bounded_pieces(applied: list[str], step: int) -> None:
    encoded = DATA
    for coding in applied:
        encoded = ENCODERS[coding](encoded)
    decoded, largest = run(Chain(applied), encoded, step)
    assert decoded == DATA
    # zlib and zstd honour the piece size exactly; brotli's output buffer may overshoot it once.
    assert largest <= 2 * PIECE


def test_raw_deflate_and_concatenated_gzip_members() -> None:
    assert run(Chain(["deflate"]), raw_deflate(DATA), 4096)[0] == DATA
    members = gzip.compress(DATA[:1000], mtime=0) + gzip.compress(DATA[1000:], mtime=0)
    for step in (7, 1000, len(members)):
        assert run(Chain(["gzip"]), members, step)[0] == DATA


@pytest.mark.parametrize(
    ("applied", "encoded"),
    [
        (["gzip"], gzip.compress(DATA)[:-30]),
        (["gzip"], b"\x1f\x8b\x08 not really gzip"),
        (["br"], brotli.compress(DATA)[:-10]),
        (["zstd"], zstd.compress(DATA)[:-10]),
        (["deflate"], b"neither zlib nor raw deflate \xff\xff\xff\xff"),
    ],
)
def test_corrupt_or_truncated(applied: list[str], encoded: bytes) -> None:
    with pytest.raises(DecodeError):
        run(Chain(applied), encoded, 4096)


def test_empty_body_with_an_encoding() -> None:
    for coding in ("gzip", "deflate", "br", "zstd"):
        assert run(Chain([coding]), b"", 1) == (b"", 0)


# PAR-02: a bomb is inflated only as far as the reader asks.
def test_bomb_is_decoded_only_as_far_as_the_consumer_reads() -> None:
    bomb = (Path(__file__).parent / "corpus" / "gzip-bomb-2layer-1GiB.gz").read_bytes()
    produced = 0
    for piece in Chain(["gzip", "gzip"]).decode(bomb):
        produced += len(piece)
        if produced >= 3 * PIECE:
            break
    assert produced == 3 * PIECE


# PAR-02: at most 2 encodings, known ones only.
def test_codings_header() -> None:
    assert codings(["gzip"], 2) == ["gzip"]
    assert codings(["identity, GZip", " br "], 2) == ["gzip", "br"]
    assert codings([], 2) == []
    with pytest.raises(FetchError, match="3 times"):
        codings(["gzip, gzip", "gzip"], 2)
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'compress'"):
        codings(["compress"], 2)
