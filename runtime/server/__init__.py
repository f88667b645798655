"""The Execution API: ``perstack serve`` (REST and Server-Sent Events).

:func:`create_app` builds the ASGI app for some :class:`ServeSettings`; ``perstack serve``
(:mod:`runtime.cli.serve`) runs it with uvicorn. Jobs run on the embedded executor
(:mod:`.executor`), in the server process. See ``docs/serve.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.server.app import create_app
    from runtime.server.settings import Application, ServeSettings

__all__ = ["Application", "ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: the ASGI stack loads only when a server is made.
    if name == "create_app":
        from runtime.server.app import create_app

        return create_app
    if name in ("Application", "ServeSettings"):
        from runtime.server import settings

        return getattr(settings, name)
    raise AttributeError(name)
