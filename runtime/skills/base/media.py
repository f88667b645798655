"""readImageFile and readPdfFile: files the model looks at rather than reads as text.

Upstream's tool returns ``{path, mimeType, size}`` and the runtime then swaps that text
for the file's bytes (spec §8.6). In process we do both at once: the result is an
``imageInlinePart`` / ``fileInlinePart`` with the base64 content, or the text
``Failed to read file "<path>": <message>`` when the bytes cannot be read.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.base.files import read_bytes
from runtime.skills.base.paths import Workspace
from runtime.skills.base.results import ToolError, error_result

__all__ = ["read_image_file", "read_pdf_file", "IMAGE_TYPES", "MAX_IMAGE_BYTES", "MAX_PDF_BYTES"]

#: Supported image extensions (lower-cased) and their MIME types; fixed rather than
#: taken from ``mimetypes`` so the answer does not depend on the host's mime.types.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MAX_PDF_BYTES = 30 * 1024 * 1024

MediaContent = ImageInlinePart | FileInlinePart | TextPart


def _check_size(path: str, limit: int, kind: str, noun: str) -> None:
    size = os.stat(path).st_size
    if size > limit:
        raise ToolError(
            f"{kind} file too large ({size / 1024 / 1024:.1f}MB). Maximum supported size is "
            f"{limit // (1024 * 1024)}MB. Please use a smaller {noun} file."
        )


def _encoded(path: str) -> str:
    return base64.b64encode(read_bytes(path)).decode("ascii")


def read_image_file(ws: Workspace, args: dict[str, Any]) -> MediaContent:
    """A PNG, JPEG, GIF or WebP file (at most 15 MiB) as an inline image part."""
    given = args["path"]
    try:
        path = ws.resolve(given)
        if not os.path.exists(path):
            raise ToolError(f"File {given} does not exist.")
        mime_type = IMAGE_TYPES.get(os.path.splitext(path)[1].lower())
        if mime_type is None:
            raise ToolError(f"File {given} is not supported.")
        _check_size(path, MAX_IMAGE_BYTES, "Image", "image")
    except (ToolError, OSError) as error:
        return error_result(error)
    try:
        return ImageInlinePart(encoded_data=_encoded(path), mime_type=mime_type)
    except (ToolError, OSError) as error:
        return TextPart(text=f'Failed to read file "{path}": {error}')


def read_pdf_file(ws: Workspace, args: dict[str, Any]) -> MediaContent:
    """A PDF file (at most 30 MiB) as an inline file part."""
    given = args["path"]
    try:
        path = ws.resolve(given)
        if not os.path.exists(path):
            raise ToolError(f"File {given} does not exist.")
        if os.path.splitext(path)[1].lower() != ".pdf":
            raise ToolError(f"File {given} is not a PDF file.")
        _check_size(path, MAX_PDF_BYTES, "PDF", "PDF")
    except (ToolError, OSError) as error:
        return error_result(error)
    try:
        return FileInlinePart(encoded_data=_encoded(path), mime_type="application/pdf")
    except (ToolError, OSError) as error:
        return TextPart(text=f'Failed to read file "{path}": {error}')
