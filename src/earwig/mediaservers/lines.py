"""The media servers in words: `earwig status`, `earwig media-servers` and `... test`.

Light on purpose: `earwig status` imports this (no httpx, no daemon)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from earwig.protocol import MediaServerView

Line = tuple[str, str | None]  # text, colour (None: plain)


def _ago(ts: float | None) -> str:
    from earwig.formatting import age

    return f"{age(ts)} ago"


def server_lines(view: MediaServerView, indent: str = "") -> list[Line]:
    """A server: who answers, its last event and last refresh, and any problem."""
    name, kind = view.get("name", "?"), view.get("kind", "?")
    where = f" {view['url']}" if view.get("url") else ""
    head = f"{name} ({kind}{where})" if name != kind or where else name
    colour: str | None = None
    if "url" in view:  # a server earwig talks to
        if view.get("reachable") is None:
            state = "not asked yet"
        elif view.get("error"):
            state, colour = view["error"] or "", "red" if not view.get("reachable") else "yellow"
        else:
            state = f"{view.get('server') or 'answers'}, key accepted"
        head += f": {state}"
        if not view.get("refresh", True):
            head += " (refresh off)"
    out: list[Line] = [(indent + head, colour)]
    event = view.get("last_event")
    if event:
        out.append(
            (f"{indent}  last event {_ago(event['at'])}: {event['what']}: {event['outcome']}", None)
        )
    refresh = view.get("last_refresh")
    if refresh:
        ok = refresh["ok"]
        out.append(
            (
                f"{indent}  last refresh {_ago(refresh['at'])}: "
                f"{refresh['what'] if ok else 'failed: ' + refresh['what']}",
                None if ok else "yellow",
            )
        )
    if view.get("pending"):
        out.append((f"{indent}  {view['pending']} file(s) wait to be refreshed", None))
    return out


def status_lines(views: list[MediaServerView]) -> list[Line]:
    """The media servers' part of `earwig status`."""
    out: list[Line] = []
    for view in views:
        lines = server_lines(view)
        first, colour = lines[0]
        out.append((f"  media    {first}", colour))
        out += [(f"           {text.strip()}", c) for text, c in lines[1:]]
    return out


def test_lines(views: list[MediaServerView]) -> list[Line]:
    """`earwig media-servers test`: each table, then its folders and where they lie here."""
    if not views:
        return [
            (
                "no [[media_server]] tables in the config (docs/media-servers.md: how to add one)",
                None,
            )
        ]
    out: list[Line] = []
    for view in views:
        out += server_lines(view)
        for folder in view.get("folders") or []:
            label = f"{folder['library']}: " if folder.get("library") else "path_map: "
            if folder["ours"] is None:
                out.append(
                    (
                        f"  {label}{folder['theirs']} -> nothing here: add a path_map pair for it",
                        "yellow",
                    )
                )
            elif not folder["readable"] and folder["ours"] == folder["theirs"]:
                out.append(
                    (
                        f"  {label}{folder['theirs']} -> not here, and no path_map pair covers "
                        "it: add one, or mount it here at the same path",
                        "red",
                    )
                )
            elif folder["readable"]:
                out.append((f"  {label}{folder['theirs']} -> {folder['ours']} (readable)", None))
            else:
                out.append(
                    (
                        f"  {label}{folder['theirs']} -> {folder['ours']}, which earwig cannot "
                        "read: is it mounted here?",
                        "red",
                    )
                )
    return out


def failed(views: list[MediaServerView]) -> bool:
    """Whether `test` found something wrong (its exit status)."""
    return any(
        ("url" in v and (v.get("error") or not v.get("reachable")))
        or any(not f["readable"] for f in v.get("folders") or [])
        for v in views
    )
