"""Keep compiled modules between launches, even where PYTHONDONTWRITEBYTECODE is set.

Without cached bytecode, every launch compiles Textual, pydantic, click and the runtime
from source: about 0.3 s more before the first screen or event. Some environments (many
container images, CI sandboxes) set ``PYTHONDONTWRITEBYTECODE`` so that nothing is
written next to the sources. There the ``perstack`` command keeps its bytecode in a
private tree inside the virtual environment instead (:data:`sys.pycache_prefix`), which
writes nothing next to any source file.

Asking uv to compile at install time (``compile-bytecode``) would not do: uv then walks
the whole environment again at every ``uv run``, which costs more than it saves.
"""

from __future__ import annotations

import os
import sys

__all__ = ["BYTECODE_ENV", "cache_bytecode", "private_pycache"]

#: Set to ``0`` to leave ``PYTHONDONTWRITEBYTECODE`` in full force.
BYTECODE_ENV = "PERSTACK_BYTECODE_CACHE"


def private_pycache() -> str:
    """Where the private bytecode tree goes: beside the environment's packages."""
    return os.path.join(sys.prefix, "perstack-pycache")


def cache_bytecode() -> bool:
    """Cache bytecode in :func:`private_pycache` when writing it is otherwise off.

    Call before the heavy imports. Returns whether the private cache is now in use.
    Nothing changes where bytecode is written already, where a prefix is set, or when
    ``PERSTACK_BYTECODE_CACHE=0``.
    """
    if not sys.dont_write_bytecode or sys.pycache_prefix is not None:
        return False
    if os.environ.get(BYTECODE_ENV, "1") == "0":
        return False
    sys.pycache_prefix = private_pycache()
    sys.dont_write_bytecode = False
    return True
