"""Secrets in connection URLs, kept out of every message: :func:`mask_url` is the URL as a
message may show it, :func:`scrub` removes a URL's secrets from any text (a driver's error
may quote part of the URL).

A secret is the password of ``user:password@host`` and the value of every query parameter
whose name holds ``pass``, ``secret`` or ``token`` (``?password=``, ``sslpassword=``,
``passfile=``...), both as written and percent-decoded.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["mask_url", "scrub", "url_secrets"]

MASK = "***"
# userinfo's password: scheme://user:PASSWORD@host (up to the last '@' before the path).
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:)(?P<pw>[^/?#]*)(?=@)")
_QUERY = re.compile(r"(?P<head>[?&;][^=&;#]*(?:pass|secret|token)[^=&;#]*=)(?P<pw>[^&;#]*)", re.I)


def url_secrets(url: str) -> list[str]:
    """The secrets ``url`` holds, each as written and percent-decoded (non-empty only)."""
    found = []
    if m := _USERINFO.match(url):
        found.append(m["pw"])
    found += [m["pw"] for m in _QUERY.finditer(url)]
    out = {v for s in found for v in (s, unquote(s)) if v}
    return sorted(out, key=len, reverse=True)  # a longer secret first: its parts after it


def mask_url(url: str) -> str:
    """``url`` with each secret replaced by ``***`` (the rest as given)."""
    masked = _USERINFO.sub(lambda m: m["head"] + MASK, url, count=1)
    return _QUERY.sub(lambda m: m["head"] + MASK, masked)


def scrub(text: str, url: str) -> str:
    """``text`` with every secret of ``url`` replaced by ``***``."""
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text
