"""Jobs, run settings, checkpoints and events: on disk in upstream's layout, or in memory.

``FileStorage`` is what the CLI uses (root from :func:`default_storage_root`);
``MemoryStorage`` keeps a job in the process for embedding and tests. Both implement
:class:`Storage`. :func:`select_checkpoint` resolves ``--continue`` / ``--continue-job`` /
``--resume-from``.
"""

from __future__ import annotations

from runtime.storage.atomic import StorageWriteError
from runtime.storage.base import Storage
from runtime.storage.filestore import FileStorage, check_id
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
    "CheckpointFileRef",
    "EventFileRef",
    "FileStorage",
    "MemoryStorage",
    "RawJson",
    "Storage",
    "StorageWriteError",
    "WarningHandler",
    "check_id",
    "default_storage_root",
    "event_type_rank",
    "print_warning",
    "select_checkpoint",
]
