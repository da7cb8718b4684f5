"""Files the API hands out: workbooks, documents and GIS exports, named in Chinese.

One place for the Content-Disposition header (RFC 6266 with an RFC 5987 ``filename*`` for the
Chinese name and an ASCII fallback for old clients) and for sending a file that lives in a
scratch folder which must be removed after the request.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import StreamingResponse

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CHUNK = 1 << 20


def attachment(name: str, ascii_name: str = "download") -> str:
    """The Content-Disposition of a download named ``name``."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def download(content: bytes, media_type: str, name: str, ascii_name: str = "download",
             headers: dict[str, str] | None = None) -> Response:
    """``content`` as a download named ``name``."""
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": attachment(name, ascii_name), **(headers or {})})


def scratch_file_download(path: Path, scratch: Path, media_type: str, ascii_name: str = "download",
                          headers: dict[str, str] | None = None) -> StreamingResponse:
    """The file ``path`` as a download named after it, and its ``scratch`` folder removed now.

    The file is opened before the folder is removed (an open file outlives its name), then
    streamed from that handle. Not a FileResponse with the removal as a background task: a
    server offering ASGI "pathsend" (Granian does) opens the file by its path only after the
    application has returned — by when the background removal may have run, and the client got
    the server's own 404 instead of the file."""
    handle = path.open("rb")
    try:
        size = path.stat().st_size
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return StreamingResponse(_chunks(handle), media_type=media_type, headers={
        "Content-Disposition": attachment(path.name, ascii_name), "Content-Length": str(size), **(headers or {})})


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk
