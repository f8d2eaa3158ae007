"""Who runs a management command: the only actor a shell session has."""

from __future__ import annotations

import getpass
import os
import socket


def os_operator() -> str:
    """The operating-system account and host running this process, e.g. ``deploy@crm-1``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        login = f"uid {os.getuid()}"
    return f"{login}@{socket.gethostname()}"
