"""Which environment variables a child process may see (spec §2.8).

Skills run other people's code: the base skill's ``exec`` tool and every MCP stdio
server. Neither gets the runtime's whole environment, which holds provider API keys.
A child sees only the *safe* variables taken from the process environment, plus the
variables its caller names explicitly (``exec``'s ``env`` argument, a stdio skill's
``requiredEnv`` values), minus the *protected* names a caller may never set, because
they change which code runs (``PATH``, ``LD_PRELOAD``, ``PYTHONPATH``...).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SAFE_ENV_VARS", "PROTECTED_ENV_VARS", "is_protected", "safe_env"]

#: Passed through from the process environment when set and non-empty.
SAFE_ENV_VARS: tuple[str, ...] = (
    "PATH",
    "HOME",
    "SHELL",
    "TERM",
    "NODE_PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "PERSTACK_PROXY_URL",
    "NPM_CONFIG_PROXY",
    "NPM_CONFIG_HTTPS_PROXY",
)

#: Names (compared upper-cased) that explicit variables may not set or override.
PROTECTED_ENV_VARS: frozenset[str] = frozenset(
    {
        "PATH",
        "HOME",
        "SHELL",
        "NODE_PATH",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "DYLD_INSERT_LIBRARIES",
        "DYLD_LIBRARY_PATH",
        "NODE_OPTIONS",
        "PYTHONPATH",
        "PERL5LIB",
        "RUBYLIB",
    }
)


def is_protected(name: str) -> bool:
    """Whether ``name`` is a protected variable, whatever its case."""
    return name.upper() in PROTECTED_ENV_VARS


def safe_env(
    process_env: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a child process.

    Args:
        process_env: The runtime's own environment (usually ``os.environ``); only its
            safe variables are kept, and only when non-empty.
        extra: Variables the caller asks for explicitly; protected names are dropped.

    Returns:
        A new dict: the safe variables, then ``extra`` (which wins on a clash with a
        safe variable that is not protected, e.g. ``TERM``).
    """
    env = {name: process_env[name] for name in SAFE_ENV_VARS if process_env.get(name)}
    for name, value in (extra or {}).items():
        if not is_protected(name):
            env[name] = value
    return env
