"""Jobs, run settings, checkpoints and events: on disk in upstream's layout, in an
S3-compatible bucket in the same layout, or in memory.

:func:`open_storage` (with :func:`storage_location`) opens the store the environment names:
``FileStorage`` by default, ``ObjectStorage`` for ``PERSTACK_STORAGE_URL=s3://…`` (imported
only then, from :mod:`runtime.storage.objectstore`). ``MemoryStorage`` keeps a job in the
process for embedding and tests. All implement :class:`Storage`, workspace sync included
(:mod:`runtime.storage.workspace`). :func:`select_checkpoint` resolves ``--continue`` /
``--continue-job`` / ``--resume-from``.
"""

from __future__ import annotations

from runtime.storage.atomic import StorageWriteError
from runtime.storage.base import Storage
from runtime.storage.filestore import FileStorage, check_id
from runtime.storage.locate import (
    STORAGE_URL_ENV,
    StorageError,
    StorageLocation,
    describe_location,
    open_storage,
    storage_location,
)
from runtime.storage.memory import MemoryStorage
from runtime.storage.records import (
    CheckpointFileRef,
    EventFileRef,
    RawJson,
    WarningHandler,
    default_storage_root,
    event_type_rank,
    print_warning,
)
from runtime.storage.selection import select_checkpoint

__all__ = [
    "STORAGE_URL_ENV",
    "CheckpointFileRef",
    "EventFileRef",
    "FileStorage",
    "MemoryStorage",
    "RawJson",
    "Storage",
    "StorageError",
    "StorageLocation",
    "StorageWriteError",
    "WarningHandler",
    "check_id",
    "default_storage_root",
    "describe_location",
    "event_type_rank",
    "open_storage",
    "print_warning",
    "select_checkpoint",
    "storage_location",
]
