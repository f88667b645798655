"""Which job store a command uses: the one place storage is chosen from the environment.

* ``PERSTACK_STORAGE_URL=s3://bucket/prefix``: an S3-compatible bucket
  (:class:`~runtime.storage.objectstore.ObjectStorage`), with the endpoint and credentials
  from the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` /
  ``AWS_DEFAULT_REGION``). Nothing of S3 is imported unless the URL says ``s3``.
* ``PERSTACK_STORAGE_URL=file:///abs/path``, or no URL: files
  (:class:`~runtime.storage.filestore.FileStorage`) under that path, else under
  ``PERSTACK_STORAGE_PATH`` (relative to the working directory), else ``<cwd>/perstack``.

``perstack run``, ``log``, ``serve`` and the embedding API all open their store through
:func:`open_storage`, so every command reads and writes jobs in the same place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.storage.records import (
    STORAGE_URL_ENV,
    StorageError,
    WarningHandler,
    default_storage_root,
    parse_s3_url,
    print_warning,
)

if TYPE_CHECKING:
    from runtime.storage.base import Storage

__all__ = [
    "STORAGE_URL_ENV",
    "StorageError",
    "StorageLocation",
    "describe_location",
    "open_storage",
    "parse_s3_url",
    "storage_location",
]

#: A storage root folder, or an ``s3://bucket/prefix`` URL.
StorageLocation = Path | str


def storage_location(cwd: Path, env: Mapping[str, str]) -> StorageLocation:
    """Where jobs live for a command run in ``cwd``: a folder or an ``s3://`` URL.

    Raises:
        StorageError: a ``PERSTACK_STORAGE_URL`` of another scheme.
    """
    url = env.get(STORAGE_URL_ENV, "").strip()
    if not url:
        return default_storage_root(cwd, env)
    scheme, separator, rest = url.partition("://")
    if not separator:
        return cwd / Path(url).expanduser()  # a plain path, as PERSTACK_STORAGE_PATH
    if scheme == "file":
        return Path(rest)
    if scheme == "s3":
        bucket, prefix = parse_s3_url(url)
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    raise StorageError(
        f"{STORAGE_URL_ENV}={url!r}: unsupported scheme {scheme!r} (use s3:// or file://)"
    )


def open_storage(
    location: StorageLocation,
    *,
    env: Mapping[str, str] | None = None,
    on_warning: WarningHandler = print_warning,
) -> Storage:
    """The store at ``location`` (see :func:`storage_location`).

    Args:
        location: A storage root folder, or ``s3://bucket/prefix``.
        env: Where an S3 store reads the AWS variables; ``os.environ`` when ``None``.
        on_warning: Receives one line per skipped corrupt document (and, for S3, a store
            that is slow to answer).

    Raises:
        StorageError: a bad URL or ``PERSTACK_STORAGE_TIMEOUT``.
    """
    if isinstance(location, str) and location.startswith("s3://"):
        from runtime.storage.objectstore import ObjectStorage

        return ObjectStorage(location, env=os.environ if env is None else env,
                             on_warning=on_warning)  # fmt: skip
    from runtime.storage.filestore import FileStorage

    return FileStorage(Path(location), on_warning=on_warning)


def describe_location(location: StorageLocation) -> str:
    """How a location is shown to people (``perstack log``'s ``storagePath``)."""
    return str(location)
