"""What a network client may make earwig fetch (earwig/reach.py), against real HTTP servers
on loopback: an internal service holding a secret, and a "public" server that leads to it by
redirect, by a page's embedded media and by a name that resolves (through a resolver hook
this test controls) first to a public address and then to loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from earwig import reach
from earwig.errors import EarwigError
from earwig.reach import Reach, Refused
from earwig.sources import feeds, http, ytdlp
from httpserver import LocalServer, rss

SECRET = b'{"admin_password": "hunter2-internal-only"}'
PUBLIC = "127.0.0.2"  # stands for a public server: the reach below lets this one address in
LETS_PUBLIC_IN = Reach(networks=(f"{PUBLIC}/32",))


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    """An internal service on 127.0.0.1 with a secret: nothing may reach it."""
    with LocalServer() as server:
        server.add("/admin.json", body=SECRET, content_type="application/json")
        server.add("/secret.mp3", body=SECRET, content_type="audio/mpeg")
        yield server


@pytest.fixture
def public() -> Iterator[LocalServer]:
    with LocalServer(PUBLIC) as server:
        yield server


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver hook: each name maps to the addresses it gives, one per lookup (the last
    repeats), as a rebinding DNS server would answer."""
    table: dict[str, list[str]] = {}
    real = reach._resolve

    def resolve(host: Any, port: Any, family: int = 0, type: int = 0, *rest: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            return real(host, port, family, type, *rest)
        answers = table[name]
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        port = int(port or 0)
        if ipaddress.ip_address(address).version == 6:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(reach, "_resolve", resolve)
    return table


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),  # AWS, GCP, Azure metadata
        ("fe80::1%eth0", "link-local"),
        ("10.1.2.3", "private"),
        ("172.17.0.1", "private"),  # Docker's bridge
        ("192.168.1.1", "private"),
        ("fd00:ec2::254", "private"),  # AWS metadata over IPv6
        ("100.100.100.200", "reserved or shared"),  # Alibaba metadata (CGNAT space)
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_internal_addresses_are_refused(address: str, kind: str) -> None:
    problem = Reach().address_problem(address)
    assert problem is not None and kind in problem
    plain = address.split("%")[0]
    net = ipaddress.ip_network(plain)  # the one address, as a network: then it is let in
    assert Reach(networks=(str(net),)).address_problem(address) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert Reach().address_problem(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://example.org/x.mp3",
        "data:audio/mpeg;base64,AAAA",
        "gopher://example.org/",
        "http:///nohost",
        "http://127.0.0.1/admin",
        "http://127.1/admin",
        "http://2130706433/admin",
        "http://0x7f.1/admin",
        "http://[::1]/admin",
        "http://[::ffff:127.0.0.1]/admin",
        "http://0.0.0.0:8327/api/status",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "http://localhost/admin",  # resolves (through /etc/hosts) to 127.0.0.1
        "http://LocalHost/admin",
        "http://127.0.0.1:99999/",
    ],
)
def test_urls_to_internal_places_or_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(Refused) as refused:
        Reach().check_url(url)
    internal = url.lower().startswith("http://") and "99999" not in url and "///" not in url
    assert ("[http] private_networks" in refused.value.hint) == internal, refused.value.hint


def test_a_name_that_resolves_to_loopback_is_refused(names: dict[str, list[str]]) -> None:
    names["intranet.example"] = ["127.0.0.1"]
    names["shop.example"] = ["93.184.216.34"]
    with pytest.raises(Refused, match=r"intranet\.example resolves to 127\.0\.0\.1"):
        Reach().check_url("https://intranet.example/admin.json")
    Reach().check_url("https://shop.example/talk.mp3")


def test_paths_only_under_open_folders_after_symlinks(tmp_path: Path) -> None:
    open_ = tmp_path / "media"
    open_.mkdir()
    (open_ / "talk.mp3").write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (open_ / "link.mp3").symlink_to(secret)
    client = Reach(folders=(open_,))
    assert client.check_path(str(open_ / "talk.mp3")) == (open_ / "talk.mp3").resolve()
    for path in (secret, open_ / "link.mp3", open_ / ".." / "secret.txt", tmp_path / "nothing"):
        with pytest.raises(Refused, match="a path on the daemon's machine") as refused:
            client.check_path(str(path))
        assert "[http] folders" in refused.value.hint
    with pytest.raises(Refused):
        Reach().check_path(str(open_ / "talk.mp3"))  # no folder is open by default


def download(url: str, dest: Path, client: Reach | None) -> ytdlp.Downloaded:
    return ytdlp.download(
        url, dest, lambda p: None, lambda: False, timeout=5, retries=0, reach=client
    )


def test_a_fenced_download_never_reaches_the_internal_service(
    internal: LocalServer, public: LocalServer, names: dict[str, list[str]], tmp_path: Path
) -> None:
    """Every way a download could be led to the internal service is refused at the
    connection, with one clear error; the internal service sees no request at all."""
    target = internal.url("/admin.json")
    public.add("/to-loopback.mp3", status=302, headers={"Location": target})
    public.add(
        "/to-localhost",
        status=302,
        headers={"Location": f"http://localhost:{internal.port}/secret.mp3"},
    )
    public.add("/to-file.mp3", status=302, headers={"Location": "file:///etc/passwd"})
    page = f'<html><body><video src="{internal.url("/secret.mp3")}"></video></body></html>'
    public.add("/page.html", body=page.encode(), content_type="text/html")
    names["rebinding.example"] = ["93.184.216.34", "127.0.0.1"]
    rebinding = f"http://rebinding.example:{internal.port}/secret.mp3"
    LETS_PUBLIC_IN.check_url(rebinding)  # at submission it resolved to a public address
    tries = {
        "direct": internal.url("/admin.json"),
        "direct media": internal.url("/secret.mp3"),
        "redirect to loopback": public.url("/to-loopback.mp3"),
        "redirect through localhost": public.url("/to-localhost"),
        "page with embedded media": public.url("/page.html"),
        "DNS rebinding": rebinding,
    }
    for i, (how, url) in enumerate(tries.items()):
        with pytest.raises(Refused, match=r"127\.0\.0\.1") as refused:
            download(url, tmp_path / f"d{i}", LETS_PUBLIC_IN)
        assert "[http] private_networks" in refused.value.hint, how
    with pytest.raises(EarwigError) as failed:  # file: is not followed, fenced or not
        download(public.url("/to-file.mp3"), tmp_path / "file", LETS_PUBLIC_IN)
    assert "root:" not in str(failed.value)
    assert internal.count() == 0, [r.path for r in internal.requests]
    assert not any(SECRET in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_the_same_download_unfenced_reaches_it_and_fenced_allowed_networks_work(
    internal: LocalServer, public: LocalServer, tmp_path: Path, second_wav: Path
) -> None:
    """The control: without the fence the redirect does reach the secret (so the test above
    tests the fence), and a fenced download from an allowed network is a plain download."""
    public.add("/to-loopback.mp3", status=302, headers={"Location": internal.url("/admin.json")})
    got = download(public.url("/to-loopback.mp3"), tmp_path / "open", None)
    assert got.path.read_bytes() == SECRET
    wav = public.add("/talk.wav", body=second_wav.read_bytes(), content_type="audio/wav")
    got = download(wav, tmp_path / "fenced", LETS_PUBLIC_IN)
    assert got.path.read_bytes() == second_wav.read_bytes()
    assert Reach(networks=("127.0.0.1/32",)).address_problem("127.0.0.1") is None


def test_fenced_feeds_and_documents(
    internal: LocalServer, public: LocalServer, tmp_path: Path
) -> None:
    """A feed (and a publisher's transcript) fetched for a network client: a redirect to the
    internal service is refused; ftp: and file: are never followed, fenced or not."""
    public.add("/feed.xml", status=302, headers={"Location": internal.url("/admin.json")})
    with pytest.raises(Refused, match=r"127\.0\.0\.1"):
        reach.within(LETS_PUBLIC_IN, feeds.fetch, public.url("/feed.xml"), None, None, 5)
    public.add("/ftp.xml", status=302, headers={"Location": "ftp://127.0.0.1/feed.xml"})
    public.add("/file.xml", status=302, headers={"Location": "file:///etc/passwd"})
    for path in ("/ftp.xml", "/file.xml"):
        with pytest.raises(EarwigError, match="away from http"):
            http.get(public.url(path), what="feed", timeout=5, limit=10**6)
    with pytest.raises(EarwigError, match="not an http or https URL"):
        http.get("file:///etc/passwd", what="feed", timeout=5, limit=10**6)
    episode = {"title": "e", "url": internal.url("/secret.mp3"), "date": 1_700_000_000}
    public.add("/ok.xml", body=rss([episode]), content_type="application/rss+xml")
    listed = reach.within(LETS_PUBLIC_IN, feeds.fetch, public.url("/ok.xml"), None, None, 5)
    assert listed.items  # a feed may list anything; each item's download is fenced on its own
    assert internal.count() == 0


def test_the_fence_is_per_thread_and_undone_after(internal: LocalServer) -> None:
    """Local work beside a network client's is not fenced: the fence belongs to one thread,
    and is gone once its block ends."""
    import threading
    import urllib.request

    inside, outside = threading.Event(), threading.Event()
    got: list[bytes] = []

    def local_work() -> None:
        inside.wait(10)
        got.append(urllib.request.urlopen(internal.url("/admin.json"), timeout=5).read())
        outside.set()

    worker = threading.Thread(target=local_work)
    worker.start()
    with reach.fenced(Reach()) as fence:
        inside.set()
        assert outside.wait(10)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", internal.port), timeout=5)
        assert fence.refused and "127.0.0.1" in fence.refused
    worker.join(10)
    assert got == [SECRET]
    with socket.create_connection(("127.0.0.1", internal.port), timeout=5):
        pass
