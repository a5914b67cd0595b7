"""Which Python a server runs in, checked before it starts; and conda environments as kernels.

A profile (``[[profiles]]``) may name an interpreter (``python``, ``~/`` meaning the person's
home) or a conda environment by name (``conda_env``, looked up in ``conda_dirs``). Such an
environment needs only jupyter_server (JupyterLab for the lab UI): Courtyard's own single-user
code is put on its path from a small shim directory, so researchers never install courtyard
into their environments. Before the process starts, the interpreter is run once as the person
(``import jupyter_server``) so a missing package is reported at once, saying what to install
where, instead of as a timeout.

``kernels_from_conda``: the person's conda environments that have ipykernel become kernelspecs
in a per-server directory put on ``JUPYTER_PATH`` (what nb_conda_kernels does, without it
being installed anywhere).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from courtyard.config.settings import Profile, Settings
from courtyard.errors import N_, InterpreterError, SpawnError
from courtyard.spawners.unixuser import TargetUser, require_interpreter

CHECK_TIMEOUT = 30.0  # seconds for the interpreter check (a cold conda env on NFS is slow)
SHIM_DIR = "shim"  # under the runtime dir: courtyard/__init__.py + courtyard/singleuser
KERNELS_DIR = "kernels"  # under the server dir: a JUPYTER_PATH entry
NO_JUPYTER_SERVER = N_(
    "The environment {env!r} ({python}) does not have jupyter_server. Install it there: "
    "{python} -m pip install jupyterlab (or, for a conda environment, conda install -n "
    "{env} jupyterlab), then start the server again."
)
NO_CONDA_ENV = N_(
    "There is no conda environment named {env!r} for {user} (looked in: {dirs}). Create it "
    "(conda create -n {env} jupyterlab) or ask the administrator to fix the profile."
)
CHECK_FAILED = N_("The environment {env!r} ({python}) could not be checked: {reason}.")


@dataclass(frozen=True)
class Environment:
    """The interpreter a server runs with; ``shim``: put Courtyard's single-user code on its
    path (an environment of the person's or the admin's, not the hub's own venv)."""

    name: str
    python: str
    shim: bool = False


def expand_home(path: str, target: TargetUser) -> str:
    if path == "~" or path.startswith("~/"):
        return target.home + path[1:]
    return path


def conda_dirs(settings: Settings, target: TargetUser) -> list[str]:
    return [expand_home(d, target) for d in settings.conda_dirs]


def find_conda_env(name: str, settings: Settings, target: TargetUser) -> str:
    """The interpreter of conda environment ``name`` (SpawnError naming the dirs searched)."""
    searched = conda_dirs(settings, target)
    for directory in searched:
        python = os.path.join(directory, name, "bin", "python")
        if os.path.exists(python):
            return python
    raise SpawnError(
        NO_CONDA_ENV, params={"env": name, "user": target.name, "dirs": ", ".join(searched)}
    )


def resolve(profile: Profile | None, settings: Settings, default_python: str,
            target: TargetUser) -> Environment:  # fmt: skip
    """The environment a server of ``profile`` (None: no profile) runs in."""
    if profile is None or not (profile.python or profile.conda_env):
        return Environment(profile.name if profile else "", default_python)
    if profile.conda_env:
        python = find_conda_env(profile.conda_env, settings, target)
    else:
        python = expand_home(profile.python, target)
    return Environment(profile.name, python, shim=True)


def check(env: Environment, target: TargetUser, switch: bool) -> None:
    """Raise InterpreterError unless ``target`` can run ``env.python`` and it imports
    jupyter_server. Blocking (a subprocess): call it in a thread."""
    require_interpreter(env.python, target)
    if not env.shim:
        return  # the hub's own interpreter: the launcher's exit status says what is missing
    try:
        done = subprocess.run(
            [env.python, "-c", "import jupyter_server"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CHECK_TIMEOUT,
            cwd="/",
            env={"PATH": os.path.dirname(env.python) + ":/usr/bin:/bin", "HOME": target.home},
            user=target.uid if switch else None,
            group=target.gid if switch else None,
            extra_groups=list(target.groups) if switch else None,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(
            CHECK_FAILED, params={"env": env.name, "python": env.python, "reason": str(exc)}
        ) from exc
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise InterpreterError(
            NO_JUPYTER_SERVER,
            params={"env": env.name, "python": env.python},
            detail=f"{env.python} -c 'import jupyter_server' exited {done.returncode}: {stderr}",
        )


def ensure_shim(runtime_dir: Path) -> Path:
    """A directory holding only ``courtyard/__init__.py`` and ``courtyard/singleuser`` (a
    link to this installation's), readable by everyone: prepended to an environment's path so
    it runs ``courtyard.singleuser`` without installing Courtyard there."""
    import courtyard
    import courtyard.singleuser

    source = Path(courtyard.singleuser.__file__).resolve().parent
    shim = runtime_dir / SHIM_DIR
    package = shim / "courtyard"
    package.mkdir(parents=True, exist_ok=True)
    for directory in (shim, package):
        os.chmod(directory, 0o755)  # noqa: S103 - everyone runs the shim's code
    init = package / "__init__.py"
    wanted = Path(courtyard.__file__).read_text()
    if not init.exists() or init.read_text() != wanted:
        temp = package / "__init__.py.new"
        temp.write_text(wanted)
        os.chmod(temp, 0o644)
        temp.replace(init)
    link = package / "singleuser"
    if not (link.is_symlink() and Path(os.readlink(link)) == source):
        temp_link = package / "singleuser.new"
        if temp_link.is_symlink() or temp_link.exists():
            temp_link.unlink()
        temp_link.symlink_to(source)
        temp_link.replace(link)
    return shim


def has_ipykernel(env_dir: str) -> bool:
    found = glob.glob(os.path.join(env_dir, "lib", "python3*", "site-packages", "ipykernel"))
    return bool(found) or bool(glob.glob(os.path.join(env_dir, "conda-meta", "ipykernel-*")))


def user_conda_envs(settings: Settings, target: TargetUser) -> dict[str, str]:
    """name -> env directory, for the person's conda environments (``conda_dirs`` and
    ``~/.conda/environments.txt``) that have a Python and ipykernel."""
    candidates: list[str] = []
    for directory in conda_dirs(settings, target):
        if os.path.isdir(directory):
            candidates += sorted(os.path.join(directory, e) for e in os.listdir(directory))
    listed = os.path.join(target.home, ".conda", "environments.txt")
    try:
        with open(listed, encoding="utf-8") as f:
            candidates += [line.strip() for line in f if line.strip()]
    except OSError:
        pass
    found: dict[str, str] = {}
    for env_dir in candidates:
        python = os.path.join(env_dir, "bin", "python")
        name = os.path.basename(env_dir.rstrip("/"))
        if name not in found and os.path.exists(python) and has_ipykernel(env_dir):
            found[name] = env_dir
    return found


def write_conda_kernels(server_dir: Path, envs: dict[str, str], target: TargetUser,
                        switch: bool) -> Path:  # fmt: skip
    """Kernelspecs ``conda-<name>`` for ``envs`` under ``<server_dir>/kernels``; returns the
    directory to put on JUPYTER_PATH. Earlier specs are replaced."""
    root = server_dir / KERNELS_DIR
    kernels = root / "kernels"
    if root.exists():
        shutil.rmtree(root)
    for name, env_dir in envs.items():
        spec_dir = kernels / f"conda-{name}"
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [os.path.join(env_dir, "bin", "python"), "-m", "ipykernel_launcher",
                     "-f", "{connection_file}"],
            "display_name": f"Python [conda env: {name}]",
            "language": "python",
            "metadata": {"courtyard": {"conda_env": env_dir}},
        }  # fmt: skip
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    root.mkdir(exist_ok=True)
    kernels.mkdir(exist_ok=True)
    if switch:
        for path in [root, *root.rglob("*")]:
            os.chown(path, target.uid, target.gid)
    return root
