"""The prebuilt JupyterLab extension committed in the package is complete and loadable."""

from __future__ import annotations

import json
from pathlib import Path

from jupyterlab_server.config import get_federated_extensions, get_page_config

from courtyard.singleuser.launcher import LABEXTENSIONS, LaunchOptions, build_argv

SOURCE = Path(__file__).resolve().parents[2] / "labextension" / "package.json"
BUILT = LABEXTENSIONS / "courtyard-culling"


def test_the_committed_build_matches_its_source_package() -> None:
    source = json.loads(SOURCE.read_text())
    built = json.loads((BUILT / "package.json").read_text())
    assert built["name"] == source["name"] == BUILT.name
    assert built["version"] == source["version"]
    assert built["dependencies"] == source["dependencies"]
    load = built["jupyterlab"]["_build"]["load"]
    assert load.startswith("static/remoteEntry.")
    assert (BUILT / load).is_file()
    disabled = built["jupyterlab"]["disabledExtensions"]
    assert disabled == source["jupyterlab"]["disabledExtensions"]


def test_jupyterlab_pages_carry_no_news_prompt() -> None:
    """JupyterLab asks every new user whether to fetch news from the internet (and checks
    PyPI for updates); on a hub that is the admin's call, not each user's first dialog. Our
    extension disables that plugin through JupyterLab's own page config."""
    config = get_page_config([str(LABEXTENSIONS)], logger=None)
    assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"]


def test_jupyterlab_finds_the_extension_on_the_launchers_path() -> None:
    found = get_federated_extensions([str(LABEXTENSIONS)])
    assert list(found) == ["courtyard-culling"]
    assert found["courtyard-culling"]["ext_path"] == str(BUILT)


def test_the_launcher_adds_the_path_for_jupyterlab_only() -> None:
    options = LaunchOptions("alice", "/s.sock", "/home/alice")
    flag = f"--LabApp.extra_labextensions_path={LABEXTENSIONS}"
    assert flag in build_argv(options, as_root=False, lab=True)
    assert not any("LabApp" in a for a in build_argv(options, as_root=False))
