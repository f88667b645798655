"""Network rules for skill endpoints and allowed domains (spec §2.5, decision D8).

Kept apart from the schema so the MCP skills can re-check an endpoint right before they
connect, with the same rules and the same words.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

__all__ = [
    "is_private_host",
    "endpoint_problem",
    "allowed_domain_problem",
]

# Spec §2.5's private and local ranges; 0.0.0.0/8 is "this network", as unroutable as 0.0.0.0.
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
    )
)
_PRIVATE_V6 = tuple(
    ipaddress.IPv6Network(net) for net in ("::/128", "::1/128", "fe80::/10", "fc00::/7")
)
# Digits, hex and dots only: candidates for the legacy IPv4 spellings (127.1, 0x7f000001,
# 2130706433) that HTTP clients still resolve to an address.
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")

_DOMAIN = re.compile(
    r"^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$"
)


def _is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _is_private_address(address.ipv4_mapped)
        return any(address in net for net in _PRIVATE_V6)
    return any(address in net for net in _PRIVATE_V4)


def is_private_host(host: str) -> bool:
    """Whether ``host`` names a loopback, link-local, private or unspecified address.

    Only the literal host is classified; nothing is resolved over the network.

    Args:
        host: A hostname or IP literal as it appears in a URL (IPv6 may keep its brackets).

    Returns:
        True for ``localhost`` (and ``*.localhost``), ``127.0.0.0/8``, ``10.0.0.0/8``,
        ``172.16.0.0/12``, ``192.168.0.0/16``, ``169.254.0.0/16``, ``0.0.0.0/8``, ``::``,
        ``::1``, ``fe80::/10``, ``fc00::/7`` and IPv4-mapped IPv6 forms of those.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if "%" in name:  # IPv6 zone id, e.g. fe80::1%eth0
        name = name.split("%", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return _is_private_address(ipaddress.ip_address(name))
    except ValueError:
        pass
    if _LEGACY_V4.match(name):
        try:
            packed = socket.inet_aton(name)  # pure parsing, no lookup
        except OSError:
            return False
        return _is_private_address(ipaddress.IPv4Address(packed))
    return False


def endpoint_problem(endpoint: str, allow_private_network: bool) -> str | None:
    """Why an SSE / streamable-HTTP ``endpoint`` is refused, or None if it is fine.

    Rules (spec §2.5 + D8): an http(s) URL with a host; a private or loopback host only
    with ``allowPrivateNetwork = true``; plain ``http`` only with ``allowPrivateNetwork``.
    """
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        return f'endpoint "{endpoint}" is not a valid http(s) URL'
    if allow_private_network:
        return None
    if is_private_host(host):
        return (
            f"endpoint {endpoint} is a private or loopback address; "
            "set allowPrivateNetwork = true to allow it"
        )
    if parts.scheme != "https":
        return (
            f"endpoint {endpoint} must use HTTPS; "
            "set allowPrivateNetwork = true to allow plain HTTP"
        )
    return None


def allowed_domain_problem(domain: str) -> str | None:
    """Why an ``allowedDomains`` entry is refused (spec §2.5), or None if it is fine."""
    if not _DOMAIN.match(domain):
        return (
            f'invalid domain pattern "{domain}": use a hostname, optionally starting with '
            '"*." (no scheme, port or other wildcard)'
        )
    if any(label.lower().startswith("xn--") for label in domain.split(".")):
        return (
            "Punycode domains (xn--) are not allowed to prevent homograph attacks. "
            "Use ASCII domains only."
        )
    return None
