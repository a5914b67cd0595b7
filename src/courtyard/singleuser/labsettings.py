"""JupyterLab in the hub's language: preset the user's translation setting at spawn.

Runs inside the launcher, as the user. When the hub's language is one a JupyterLab language
pack is installed for, the user's ``@jupyterlab/translation-extension:plugin`` settings file
is created with that locale - only if it does not exist yet, so a language the user picked in
JupyterLab (Settings -> Language) is never overwritten.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

LANGUAGE_ENV = "COURTYARD_LANGUAGE"
# hub language -> (JupyterLab locale, module of its language pack)
LANGUAGE_PACKS = {"zh_CN": ("zh_CN", "jupyterlab_language_pack_zh_CN")}
SETTINGS_FILE = Path("@jupyterlab") / "translation-extension" / "plugin.jupyterlab-settings"


def lab_settings_dir() -> Path:
    """Where JupyterLab keeps this user's settings (JUPYTERLAB_SETTINGS_DIR or the default)."""
    explicit = os.environ.get("JUPYTERLAB_SETTINGS_DIR")
    if explicit:
        return Path(explicit)
    from jupyter_core.paths import jupyter_config_dir

    return Path(jupyter_config_dir()) / "lab" / "user-settings"


def pack_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def preset_lab_language(language: str, settings_dir: Path | None = None) -> Path | None:
    """Write the translation setting for ``language`` unless the user has one; returns the
    file written, or None (English, no language pack, or the user's own choice exists)."""
    if language not in LANGUAGE_PACKS:
        return None
    locale, module = LANGUAGE_PACKS[language]
    if not pack_installed(module):
        return None
    path = (settings_dir or lab_settings_dir()) / SETTINGS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never replace a choice
            json.dump({"locale": locale}, handle)
    except FileExistsError:
        return None
    except OSError:  # a read-only home must not keep the server from starting
        return None
    return path
