"""The Host names earwig answers to without being told, and why DNS rebinding stays out.

A rebinding attack needs a name the attacker controls: their page is loaded from it, then
its DNS answer is switched to this machine, and the browser, still on their page, sends
that name as Host. So a name no outsider can own is safe to answer, and these are answered
out of the box (web/guard.py asks `private_name`):

- an address (a rebinding needs a name), `localhost` and `*.localhost` (RFC 6761);
- a single label, with no dot: `earwig`, `nas`, a compose service's or a container's name
  (no name on the public internet has no dot);
- a name under a suffix kept for private networks, never delegated in public DNS: `.local`
  (mDNS), `.internal` (`host.docker.internal`; ICANN reserved it for private use),
  `.home.arpa` (RFC 8375), `.lan`, `.localdomain`, `.home`, `.corp` (withheld by ICANN).

A name under a public suffix (`nas.example.com`, a DDNS name) is answered only when
`[http] hosts` lists it: those are the names an attacker can register.
"""

from __future__ import annotations

import re

PRIVATE_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".home.arpa",
    ".lan",
    ".localdomain",
    ".home",
    ".corp",
)
_LABELS = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")


def private_name(name: str) -> bool:
    """Whether `name` (lower case, no port) is one nobody outside this network can own."""
    name = name.removesuffix(".")
    if not _LABELS.fullmatch(name):
        return False
    return "." not in name or name == "localhost" or name.endswith(PRIVATE_SUFFIXES)
