"""Length-prefixed JSON frames: how the grader talks to the processes in its sandbox.

JSON, not pickle, because the other end runs students' code: a frame from it is data to
check, never something to execute. Every frame is a 4-byte big-endian length followed by
that many bytes of UTF-8 JSON; a reader refuses frames above its limit, so a student who
writes garbage to the pipe cannot make the grader allocate without bound.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_HEADER = struct.Struct(">I")

#: The exit status of a grading child that ended itself because a cell left threads running.
EXIT_THREADS = 75


class ProtocolError(RuntimeError):
    """The other end sent something that is not a well-formed frame within the limit."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame holding ``message`` (a JSON-serialisable dict)."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one frame to a blocking file descriptor, all of it."""
    _write_all(fd, encode(message))


def read_frame(fd: int, limit: int) -> dict[str, Any]:
    """Read exactly one frame from a blocking file descriptor.

    Raises EOFError if the descriptor closes before a whole frame arrived, and
    ProtocolError if the frame is larger than ``limit`` bytes or not a JSON object.
    """
    return _decode(read_blob(fd, limit))


def write_blob(fd: int, data: bytes) -> None:
    """Write one length-prefixed run of bytes (a pickle the tests process sends to the
    student process, which may trust it: only the grader writes that pipe)."""
    _write_all(fd, _HEADER.pack(len(data)) + data)


def read_blob(fd: int, limit: int) -> bytes:
    """Read one length-prefixed run of bytes (a frame's body, or a :func:`write_blob`)."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    if size > limit:
        raise ProtocolError(f"a frame of {size} bytes is over the limit of {limit}")
    return _read_exactly(fd, size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"a frame is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a frame holds a {type(message).__name__}, expected an object")
    return message


class FrameReader:
    """Incremental reader for a non-blocking descriptor (the grader's side of a pipe).

    fd: the descriptor to read; limit: the largest frame accepted, in bytes.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self._buffer = bytearray()
        self.closed = False

    def feed(self) -> list[dict[str, Any]]:
        """Read what is available now; return the frames completed by it.

        Sets ``closed`` at end of file. Raises ProtocolError on an oversized or bad frame.
        """
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            chunk = None
        if chunk == b"":
            self.closed = True
        elif chunk:
            self._buffer += chunk
        return list(self._complete_frames())

    def _complete_frames(self):
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > self.limit:
                raise ProtocolError(f"a frame of {size} bytes is over the limit of {self.limit}")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                return
            body = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            yield _decode(body)
