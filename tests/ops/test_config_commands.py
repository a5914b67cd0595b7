"""courtyard config show / set on a real file."""

from __future__ import annotations

from pathlib import Path

from tests.ops.conftest import courtyard


def test_config_set_edits_in_place_and_show_names_sources(tmp_path: Path) -> None:
    config = tmp_path / "courtyard.toml"
    config.write_text("# our hub\nport = 8000\n\n[culler]\ntimeout = 5\n")
    assert courtyard("config", "set", "port", "8010", "--config", str(config)).returncode == 0
    assert courtyard("config", "set", "culler.every", "30", "--config", str(config)).returncode == 0
    assert (
        courtyard("config", "set", "admin_users", "ann,bo", "--config", str(config)).returncode == 0
    )
    text = config.read_text()
    assert text.startswith("# our hub\nport = 8010\n")
    assert "[culler]\ntimeout = 5\nevery = 30\n" in text
    bad = courtyard("config", "set", "prot", "1", "--config", str(config))
    assert bad.returncode == 2
    assert "did you mean 'port'" in bad.stderr
    assert courtyard("config", "set", "port", "-1", "--config", str(config)).returncode == 2
    assert "port = 8010" in config.read_text()  # a refused value changes nothing
    show = courtyard("config", "show", "--config", str(config), "--port", "9000")
    assert f'admin_users = ["ann", "bo"]  # {config}' in show.stdout
    assert "port = 9000  # command line" in show.stdout
    assert 'pam_service = "login"  # default' in show.stdout
