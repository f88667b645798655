"""Whole-file writes that a crash can never leave half done.

A file is first written where no reader looks, then made visible under its final name with
one system call:

* On Linux, as an *anonymous* file (``O_TMPFILE``) in the final directory, linked to its
  final name when complete. A crash before the link leaves nothing at all. This is also the
  cheapest way (no temporary name to create and remove), which matters because the runtime
  stores ~10 files per step.
* Elsewhere (or on filesystems without ``O_TMPFILE``), as ``.tmp-<pid>-<n>`` in the final
  directory, then renamed or linked. Readers skip dot files, and
  :func:`remove_stale_temp_files` deletes those a killed writer left behind.

A process killed at any moment (SIGKILL, Ctrl+C, an exception) therefore leaves the old
file, the new file, or no file: never a partial one.

We deliberately do **not** fsync: it would cost milliseconds per file on most disks. So
the guarantee is *process-crash safety*, not power-loss durability: after a power cut or
kernel panic the newest files may be empty or missing. Readers treat such files as
corrupt and skip them with a warning, so a job stays readable up to its last intact
checkpoint.
"""

from __future__ import annotations

import errno
import itertools
import os
import time
from collections.abc import Iterable, Iterator

__all__ = [
    "STALE_TEMP_SECONDS",
    "TEMP_PREFIX",
    "StorageWriteError",
    "remove_stale_temp_files",
    "write_exclusive",
    "write_replace",
]

TEMP_PREFIX = ".tmp-"
# A temporary file this old belongs to a writer that died; younger ones may be in flight.
STALE_TEMP_SECONDS = 15 * 60

_counter = itertools.count()
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0)
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_UTIME_TAKES_FD = os.utime in os.supports_fd
# Errors meaning "this system cannot do that", not "the name is taken".
_UNSUPPORTED = {
    errno.EPERM,
    errno.EXDEV,
    errno.EMLINK,
    errno.EINVAL,
    errno.EISDIR,
    errno.ENOENT,  # no /proc to link an anonymous file from
    getattr(errno, "ENOTSUP", -1),
    getattr(errno, "EOPNOTSUPP", -1),
    getattr(errno, "ENOSYS", -1),
}


class StorageWriteError(OSError):
    """No free file name was found for an exclusive write."""


class _Support:
    """What this system turned out to support (probed by the first write)."""

    anonymous_files = bool(_O_TMPFILE)
    hard_links = True


def write_replace(directory: str, name: str, data: bytes, *, mtime_ns: int | None = None) -> None:
    """Atomically create or replace ``directory/name`` with ``data``.

    Args:
        directory: The final directory (created when missing).
        name: The final file name.
        data: The complete file contents.
        mtime_ns: When given, the file's modification time, set before it becomes visible
            (storage orders checkpoints by it, more finely than the filesystem clock).
    """
    final = f"{directory}{os.sep}{name}"
    fd = _open_anonymous(directory)
    if fd is not None:
        try:
            _write_all(fd, data, mtime_ns)
            if _link_anonymous(fd, final):
                return
            # The name exists: give the file a temporary name, then rename it over.
            temp = _temp_path(directory)
            if _link_anonymous(fd, temp):
                _rename_or_discard(temp, final)
                return
        finally:
            os.close(fd)
    temp = _write_temp(directory, data, mtime_ns)
    _rename_or_discard(temp, final)


def write_exclusive(directory: str, names: Iterable[str], data: bytes) -> str:
    """Atomically write ``data`` under the first of ``names`` that does not exist yet.

    Never overwrites: the file appears through a hard link, which fails when the name is
    taken, so two writers (even in two processes) cannot clobber each other. On a
    filesystem without hard links it falls back to check-then-rename, which is only safe
    within one process.

    Returns:
        The name the file was written under.

    Raises:
        StorageWriteError: when every candidate name is taken.
    """
    candidates: Iterator[str] = iter(names)
    fd = _open_anonymous(directory)
    if fd is not None:
        try:
            _write_all(fd, data, None)
            for name in candidates:
                if _link_anonymous(fd, f"{directory}{os.sep}{name}"):
                    return name
                if not _Support.anonymous_files:
                    # Linking turned out to be unsupported (the name may well be free):
                    # retry it with a named temporary file.
                    candidates = itertools.chain([name], candidates)
                    break
            else:
                raise StorageWriteError(f"no free file name in {directory}")
        finally:
            os.close(fd)
    temp = _write_temp(directory, data, None)
    try:
        name = _link_first_free(directory, temp, candidates)
    except BaseException:
        _unlink_quietly(temp)
        raise
    return name


def remove_stale_temp_files(directory: str, names: Iterable[str]) -> None:
    """Delete temporary files left in ``directory`` by writers that died long ago.

    Args:
        directory: The directory that was listed.
        names: The temporary names seen in the listing (those starting with ``.tmp-``).
    """
    cutoff = time.time() - STALE_TEMP_SECONDS
    for name in names:
        path = f"{directory}{os.sep}{name}"
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            pass  # Gone already, or not ours to delete: harmless either way.


# --- anonymous files (Linux O_TMPFILE) ------------------------------------------------


def _open_anonymous(directory: str) -> int | None:
    """An unnamed writable file in ``directory``, or ``None`` when unsupported."""
    if not _Support.anonymous_files:
        return None
    flags = _O_TMPFILE | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(directory, flags, 0o644)
    except FileNotFoundError:
        # First file of a new job or run: create the directory only now, so the common
        # path costs no extra system call.
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise
        _Support.anonymous_files = False
        return None
    try:
        return os.open(directory, flags, 0o644)
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise
        _Support.anonymous_files = False
        return None


def _link_anonymous(fd: int, final: str) -> bool:
    """Give the anonymous file ``fd`` the name ``final``; ``False`` if the name is taken."""
    try:
        # `src_dir_fd` makes Python use linkat(..., AT_SYMLINK_FOLLOW), which links the
        # file the /proc entry points at (see open(2), O_TMPFILE).
        os.link(f"/proc/self/fd/{fd}", final, src_dir_fd=fd)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise
        _Support.anonymous_files = False
        return False
    return True


# --- named temporary files (portable fallback) --------------------------------------


def _temp_path(directory: str) -> str:
    return f"{directory}{os.sep}{TEMP_PREFIX}{os.getpid()}-{next(_counter)}"


def _write_temp(directory: str, data: bytes, mtime_ns: int | None) -> str:
    """Write ``data`` to a fresh temporary file in ``directory`` and return its path."""
    temp = _temp_path(directory)
    try:
        fd = os.open(temp, _OPEN_FLAGS, 0o644)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(temp, _OPEN_FLAGS, 0o644)
    try:
        _write_all(fd, data, mtime_ns)
    except BaseException:
        os.close(fd)
        _unlink_quietly(temp)
        raise
    os.close(fd)
    if mtime_ns is not None and not _UTIME_TAKES_FD:
        os.utime(temp, ns=(mtime_ns, mtime_ns))
    return temp


def _link_first_free(directory: str, temp: str, names: Iterator[str]) -> str:
    for name in names:
        final = f"{directory}{os.sep}{name}"
        if _Support.hard_links:
            try:
                os.link(temp, final)
            except FileExistsError:
                continue
            except OSError as error:
                if error.errno not in _UNSUPPORTED:
                    raise
                _Support.hard_links = False
            else:
                _unlink_quietly(temp)
                return name
        if os.path.lexists(final):
            continue
        os.replace(temp, final)
        return name
    _unlink_quietly(temp)
    raise StorageWriteError(f"no free file name in {directory}")


def _rename_or_discard(temp: str, final: str) -> None:
    try:
        os.replace(temp, final)
    except BaseException:
        _unlink_quietly(temp)
        raise


def _write_all(fd: int, data: bytes, mtime_ns: int | None) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if mtime_ns is not None and _UTIME_TAKES_FD:
        os.utime(fd, ns=(mtime_ns, mtime_ns))


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
