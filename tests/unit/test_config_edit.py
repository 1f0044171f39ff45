"""Config edits keep comments and layout, and never write a config the daemon would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from earwig import config, config_edit
from earwig.errors import ConfigError

ORIGINAL = """# top comment
[transcribe]
beam_size = 2   # keep me

# watch my podcasts
[[watch]]
path = "/pods"
"""


def test_add_and_remove_keep_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ORIGINAL)
    config_edit.add_subscription(
        path,
        {"name": "pod", "url": "https://e.org/f.xml", "every": "6h", "cron": None, "backfill": 2},
    )
    text = path.read_text()
    assert text.startswith(ORIGINAL)  # untouched, byte for byte
    cfg = config.load(path)
    assert cfg.subscriptions[0].name == "pod" and cfg.subscriptions[0].backfill == 2
    assert "cron" not in text  # None values are left out
    config_edit.remove_subscription(path, "pod")
    assert path.read_text().strip() == ORIGINAL.strip()


def test_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    config_edit.add_subscription(path, {"name": "a", "url": "https://e.org/a"})
    assert config.load(path).subscriptions[0].url == "https://e.org/a"


def test_an_edit_the_daemon_would_refuse_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ORIGINAL)
    with pytest.raises(ConfigError, match="cron"):
        config_edit.add_subscription(
            path, {"name": "a", "url": "https://e.org/a", "cron": "whenever"}
        )
    with pytest.raises(ConfigError, match="already subscribed"):
        config_edit.add_subscription(path, {"name": "a", "url": "https://e.org/a"})
        config_edit.add_subscription(path, {"name": "b", "url": "https://e.org/a"})
    with pytest.raises(ConfigError, match="no subscription named"):
        config_edit.remove_subscription(path, "zzz")


def test_concurrent_edits_are_all_kept(tmp_path: Path) -> None:
    """Ten processes subscribing at once: the lock makes each read-modify-write whole."""
    import subprocess
    import sys

    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    code = (
        "import sys; from pathlib import Path; from earwig import config_edit;"
        "config_edit.add_subscription(Path(sys.argv[1]), "
        "{'name': 'feed' + sys.argv[2], 'url': 'https://example.org/' + sys.argv[2]})"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(i)]) for i in range(10)]
    assert all(p.wait(60) == 0 for p in procs)
    from earwig import config

    names = {s.name for s in config.load(path).subscriptions}
    assert names == {f"feed{i}" for i in range(10)}
    assert path.read_text().startswith("# mine")
