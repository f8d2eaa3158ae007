"""Client address behind a known number of trusted reverse proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the N-th trusted proxy saw; never the spoofable left end of XFF."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "NINJA_NUM_PROXIES", 0) or 0)
    xff = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not xff:
        return remote
    addrs = [a.strip() for a in str(xff).split(",") if a.strip()]
    if not addrs:
        return remote
    return addrs[-min(proxies, len(addrs))]
