"""Where the client connects: whether a gRPC target is this machine, and
the warning for a bearer token sent over plaintext to anything else.

This module owns ``InsecureTokenWarning`` and the reading of gRPC target
strings (``host:port``, ``[::1]:port``, ``dns:///host:port``,
``ipv4:a:p,b:p``, ``ipv6:[a]:p``, ``unix:path``) that decides it. No name
is resolved: only ``localhost`` and loopback addresses (127.0.0.0/8,
``::1``) and unix sockets are loopback.
"""

from __future__ import annotations

import ipaddress
import warnings

__all__ = ["InsecureTokenWarning", "is_loopback", "warn_plaintext_token"]


class InsecureTokenWarning(UserWarning):
    """A bearer token is sent without TLS to an address that is not
    loopback: anyone on the network path can read it and load as its
    owner. Give the Client ``tls=True`` or ``root_certificates``."""


def warn_plaintext_token(target: str, *, stacklevel: int) -> None:
    """Warn (InsecureTokenWarning) that a token goes over plaintext to
    target, unless target is loopback."""
    if is_loopback(target):
        return
    warnings.warn(
        InsecureTokenWarning(
            f"loadsvc.Client: the token goes over plaintext to {target!r}, which is not a loopback "
            "address: anyone on the path can read it; give tls=True or root_certificates= "
            "(and private_key=, certificate_chain= for mTLS)"
        ),
        stacklevel=stacklevel + 1,
    )


def is_loopback(target: str) -> bool:
    """Whether every address of the gRPC target is on this machine."""
    scheme, sep, rest = target.partition(":")
    scheme = scheme.lower() if sep else ""
    if scheme in ("unix", "unix-abstract"):
        return True
    if scheme in ("ipv4", "ipv6"):
        return all(_host_is_loopback(_host(a)) for a in rest.split(","))
    if scheme == "dns":
        # dns:[//authority/]host[:port]
        if rest.startswith("//"):
            rest = rest[2:].partition("/")[2]
        return _host_is_loopback(_host(rest))
    return _host_is_loopback(_host(target))


def _host(hostport: str) -> str:
    """The host of host[:port] or [v6][:port]."""
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0]
    if hostport.count(":") == 1:
        return hostport.partition(":")[0]
    return hostport  # a host without a port, or a bare IPv6 address


def _host_is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
