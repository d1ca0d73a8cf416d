"""Photos uploaded to a work order: what is accepted and how a stored photo is named.

A photo is accepted by what its bytes are, not by what the uploader says: JPEG, PNG or WebP
recognised by their signatures, at most ``max_bytes``. It is kept inside the work-order store
(SQLite, so ``sanjie backup`` copies it with the orders) under a random name
``photo-<16 hex>.<ext>`` that is the only thing a URL can name: no path from the uploader ever
reaches the disk, and the name pattern is checked before any lookup.
"""

from __future__ import annotations

import re
import secrets

from .model import WorkOrderError

__all__ = [
    "MAX_PHOTO_BYTES",
    "PHOTO_NAME",
    "PHOTO_PREFIX",
    "PhotoRefused",
    "checked_name",
    "new_name",
    "sniff",
]

MAX_PHOTO_BYTES = 5 * 1024 * 1024
"""A phone photo (3–4 MB at 12 MP) fits; anything larger is refused, not resized."""

PHOTO_PREFIX = "upload:"
"""How an uploaded photo is listed among an order's photos (the rest are URLs or names)."""

PHOTO_NAME = r"^photo-[0-9a-f]{16}\.(jpg|png|webp)$"

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class PhotoRefused(WorkOrderError):
    """The upload is not a photo sanjie keeps: too large (``status`` 413) or not an image (415)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its signature, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def new_name(mime: str) -> str:
    return f"photo-{secrets.token_hex(8)}.{_EXTENSIONS[mime]}"


def checked_name(name: str) -> str:
    """``name`` if it is a stored photo's name (else a "not found" error)."""
    if re.fullmatch(PHOTO_NAME, name) is None:
        raise WorkOrderError(f"photo {name!r}: not found")
    return name
