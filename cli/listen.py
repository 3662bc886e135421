"""Whether a port can be listened on, checked before a long-running command starts."""

from __future__ import annotations

import socket

from indexer.errors import DependencyError


def check_port(host: str, port: int) -> None:
    """Raise DependencyError (exit 3) unless ``host:port`` can be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DependencyError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
