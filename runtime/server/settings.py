"""What ``perstack serve`` serves: applications, their ``perstack.toml`` and API keys.

An application is a name, a ``perstack.toml`` and the hashes of its API keys. With no
serve config, the project ``serve`` was started in is application ``default``. Keys are
kept only as SHA-256 hashes and compared in constant time; a key given in plain text (the
``PERSTACK_API_KEY`` variable, or one generated at start) is hashed at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import PerstackError

__all__ = [
    "Application",
    "ServeSettings",
    "TemporalOptions",
    "hash_key",
    "load_applications",
    "load_serve_config",
    "new_key",
]

#: The prefix of a stored key hash.
HASH_PREFIX = "sha256:"
#: The largest request body the API accepts, in bytes.
DEFAULT_MAX_BODY = 1_000_000


def hash_key(key: str) -> str:
    """The stored form of an API key: ``sha256:<hex>``."""
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key (32 random bytes, URL-safe)."""
    return "psk_" + secrets.token_urlsafe(32)


@dataclass
class Application:
    """One application: its name, its ``perstack.toml`` and its keys' hashes."""

    name: str
    config_path: Path
    key_hashes: list[str] = field(default_factory=list)

    def accepts(self, key: str) -> bool:
        """Whether ``key`` is one of this application's keys (constant time per hash)."""
        given = hash_key(key)
        found = False
        for stored in self.key_hashes:
            found |= hmac.compare_digest(given, stored)
        return found

    def __repr__(self) -> str:  # never the hashes
        return f"Application({self.name!r}, {str(self.config_path)!r})"


@dataclass
class TemporalOptions:
    """Where ``perstack serve --engine temporal`` hands its jobs (docs/scale-out.md).

    Attributes:
        address: Temporal's frontend, ``host:port``.
        namespace: The Temporal namespace.
        task_queue: The task queue the workers poll.
        heartbeat_timeout: Seconds without a heartbeat before a job's part goes to
            another worker.
    """

    address: str
    namespace: str = "default"
    task_queue: str = "perstack"
    heartbeat_timeout: float = 5.0


@dataclass
class ServeSettings:
    """Everything the server needs to start.

    Attributes:
        applications: By name.
        storage_root: The local folder of the server's own records (and of jobs, unless
            ``storage`` names another store): the usual ``perstack`` folder.
        max_body: The largest request body accepted, in bytes.
        keep_alive: Seconds between keep-alive comments on a quiet stream.
        storage: Where jobs are stored when not under ``storage_root``: an
            ``s3://bucket/prefix`` URL (``PERSTACK_STORAGE_URL``).
        temporal: Hand jobs to Temporal's workers (``None``: run them in the server).
    """

    applications: dict[str, Application]
    storage_root: Path
    max_body: int = DEFAULT_MAX_BODY
    keep_alive: float = 15.0
    storage: str | Path | None = None

    def open_storage(self, on_warning: Callable[[str], None] | None = None) -> Any:
        """The job store (see :func:`runtime.storage.open_storage`)."""
        from runtime.storage import open_storage, print_warning

        location = self.storage if self.storage is not None else self.storage_root
        return open_storage(location, on_warning=on_warning or print_warning)
    temporal: TemporalOptions | None = None

    def application_for_key(self, key: str) -> Application | None:
        """The application ``key`` belongs to, or ``None``."""
        match = None
        for application in self.applications.values():
            if application.accepts(key):
                match = application
        return match


def load_applications(
    cwd: Path, config: str | None, serve_config: str | None, key_hashes: list[str]
) -> dict[str, Application]:
    """The applications of ``--serve-config``, or else the project's ``perstack.toml``
    (``--config``, or found from ``cwd`` up) as application ``default`` with
    ``key_hashes``.

    Raises:
        PerstackError: one line, when a file is missing or wrong.
    """
    if serve_config is not None:
        return load_serve_config(Path(serve_config).resolve())
    from runtime.config import find_config

    config_path = find_config(cwd, config)  # raises a one-line error when there is none
    return {"default": Application("default", Path(config_path), list(key_hashes))}


def load_serve_config(path: Path) -> dict[str, Application]:
    """The applications of a serve config file (see ``docs/serve.md``).

    Raises:
        PerstackError: one line naming the file and the field.
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise PerstackError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise PerstackError(f"{path}: {error}") from None
    tables = data.get("applications")
    if not isinstance(tables, dict) or not tables:
        raise PerstackError(f"{path}: [applications.<name>] tables are required")
    applications = {}
    for name, table in tables.items():
        where = f"{path}: applications.{name}"
        if not isinstance(table, dict):
            raise PerstackError(f"{where}: must be a table")
        config = table.get("config")
        if not isinstance(config, str):
            raise PerstackError(f"{where}.config: the path of its perstack.toml is required")
        hashes = table.get("apiKeyHashes", [])
        if not isinstance(hashes, list) or not all(
            isinstance(h, str) and h.startswith(HASH_PREFIX) for h in hashes
        ):
            raise PerstackError(f'{where}.apiKeyHashes: a list of "{HASH_PREFIX}<hex>" strings')
        config_path = (path.parent / config).resolve()
        if not config_path.is_file():
            raise PerstackError(f"{where}.config: {config_path} does not exist")
        applications[name] = Application(name, config_path, list(hashes))
    return applications
