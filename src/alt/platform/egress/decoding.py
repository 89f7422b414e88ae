"""Content-Encoding decoders whose output is produced in bounded pieces.

Each decoder turns input into output pieces of at most `PIECE` bytes, asking the compression
library for no more than that at a time, so a gzip bomb costs the caller only what it keeps
(the body cap) and never what the bomb would inflate to. Layers are chained lazily: the inner
layer sees one bounded piece of the outer layer's output at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]
from backports import zstd

from alt.platform.egress.errors import FetchError

PIECE = 64 * 1024


class DecodeError(Exception):
    """The body does not decode with its declared Content-Encoding."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE):
            yield data[start : start + PIECE]

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (members may be concatenated) and deflate (zlib-wrapped, or raw as some servers
    send it)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while pending:
            if self._d.eof:
                if not (self._gzip and pending.startswith(b"\x1f\x8b")):
                    return  # bytes after the last member are ignored, as browsers do
                self._d = zlib.decompressobj(self._wbits)
            try:
                out = self._d.decompress(pending, PIECE)
            except zlib.error:
                if self._gzip or self._started:
                    raise DecodeError("corrupt compressed data") from None
                # "deflate" without the zlib header: read the same bytes as raw deflate.
                self._wbits = -zlib.MAX_WBITS
                self._d = zlib.decompressobj(self._wbits)
                try:
                    out = self._d.decompress(pending, PIECE)
                except zlib.error:
                    raise DecodeError("corrupt compressed data") from None
            self._started = True
            if out:
                yield out
            pending = self._d.unconsumed_tail
            while len(out) == PIECE and not pending and not self._d.eof:
                try:
                    out = self._d.decompress(b"", PIECE)
                except zlib.error:
                    raise DecodeError("corrupt compressed data") from None
                if out:
                    yield out
            if self._d.eof:
                pending = self._d.unused_data

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._d.eof:
            raise DecodeError("the compressed body is truncated")
        return iter(())


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._started = False

    def _drain(self, data: bytes) -> Iterator[bytes]:
        try:
            out: bytes = self._d.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            # The decoder may hold more output than one piece: ask until it has none left.
            while not self._d.is_finished() and (out or not self._d.can_accept_more_data()):
                out = self._d.process(b"", output_buffer_limit=PIECE)
                if out:
                    yield out
        except brotli.error:
            raise DecodeError("corrupt brotli data") from None

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._d.is_finished() or not data:
            return
        self._started = True
        yield from self._drain(data)

    def flush(self) -> Iterator[bytes]:
        if not self._started:
            return
        if not self._d.is_finished():
            yield from self._drain(b"")
        if not self._d.is_finished():
            raise DecodeError("the brotli body is truncated")


class _Zstd:
    def __init__(self) -> None:
        self._d = zstd.ZstdDecompressor()
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        pending = data
        try:
            while not self._d.eof:
                out = self._d.decompress(pending, max_length=PIECE)
                pending = b""
                if out:
                    yield out
                if self._d.needs_input:
                    return
        except zstd.ZstdError:
            raise DecodeError("corrupt zstd data") from None

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._d.eof:
            raise DecodeError("the zstd body is truncated")
        return iter(())


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: _Zlib(gzip=True),
    "x-gzip": lambda: _Zlib(gzip=True),
    "deflate": lambda: _Zlib(gzip=False),
    "br": _Brotli,
    "zstd": _Zstd,
}

ACCEPT_ENCODING = "gzip, deflate, br, zstd"


def codings(values: list[str], max_encodings: int) -> list[str]:
    """The codings of the Content-Encoding header(s), in the order they were applied.

    Raises FetchError("bad_encoding") for an unknown coding or a chain longer than allowed.
    """
    found = [
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    ]
    found = [coding for coding in found if coding != "identity"]
    if len(found) > max_encodings:
        raise FetchError(
            "bad_encoding",
            f"the response is encoded {len(found)} times; at most {max_encodings} are accepted",
        )
    for coding in found:
        if coding not in _FACTORIES:
            shown = coding[:40].encode("ascii", "replace").decode()
            raise FetchError("bad_encoding", f"unsupported Content-Encoding {shown!r}")
    return found


class Chain:
    """Decodes a body encoded with `codings` (applied in that order), piece by piece."""

    def __init__(self, applied: list[str]) -> None:
        # Undo the codings in reverse order: the last applied is the outermost layer.
        layers: list[Decoder] = [_FACTORIES[c]() for c in reversed(applied)]
        self._layers = layers or [_Identity()]

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, self._layers[0].decode(data))

    def flush(self) -> Iterator[bytes]:
        for index, layer in enumerate(self._layers):
            yield from self._through(index, layer.flush())
            # What the outer layer releases on flush still has to pass the inner layers.

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if index + 1 == len(self._layers):
            yield from pieces
            return
        inner = self._layers[index + 1]
        for piece in pieces:
            yield from self._through(index + 1, inner.decode(piece))
