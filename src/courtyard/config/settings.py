"""The settings table: every setting Courtyard reads, its type, default and help.

Each field is ``setting(default, help)``; ``docs/settings.md`` is generated from and tested
against this table. Names are TOML keys; ``COURTYARD_<NAME>`` sets one from the environment
(``COURTYARD_CULLER_TIMEOUT`` for ``[culler] timeout``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from courtyard.config.limits import LimitSettings, offered_to, parse_size
from courtyard.config.tables import RoleConfig, ServiceConfig

AuthKind = Literal["system", "local"]
SpawnerKind = Literal["local", "slurm"]


def setting(default: Any, help: str, **meta: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(
            default_factory=lambda: type(default)(default), metadata={"help": help, **meta}
        )
    return field(default=default, metadata={"help": help, **meta})


def running_as_root() -> bool:
    return os.geteuid() == 0


def default_state_dir() -> str:
    if running_as_root():
        return "/var/lib/courtyard"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "courtyard")


@dataclass(frozen=True)
class CullerSettings:
    """``[culler]``: stop servers nobody uses (see docs/culling.md)."""

    enabled: bool = setting(True, "Stop idle servers (the built-in culler).")
    timeout: int = setting(
        3600, "Seconds without a person's activity before a server is stopped.", min=1
    )
    every: int = setting(
        0, "Seconds between culler checks. 0: timeout/10, between 5 and 300.", min=0
    )
    max_age: int = setting(
        0, "Stop servers this many seconds after they started, active or not. 0: never.", min=0
    )
    cull_admin_servers: bool = setting(False, "Whether admins' servers are culled too.")
    busy_kernels_are_active: bool = setting(
        True, "A kernel that is computing counts as activity, even with no browser open."
    )
    users: int = setting(
        0,
        "Also delete local accounts (auth = 'local') idle this many seconds, with no server. 0: never.",
        min=0,
    )
    warn_before: int = setting(
        600, "Seconds before a cull that the user is warned (hub pages).", min=0
    )


@dataclass(frozen=True)
class SlurmProfile:
    """One ``[[slurm.profiles]]`` table: a named set of job resources users may pick.

    Empty strings and 0 keep the ``[slurm]`` value; extra_directives are added to its list.
    """

    name: str
    description: str = ""
    partition: str = ""
    time: str = ""
    cpus: int = 0
    memory: str = ""
    gres: str = ""
    account: str = ""
    qos: str = ""
    extra_directives: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """One ``[[profiles]]`` table: an environment and a size people may start a server in
    (local spawner; see docs/admin.md, "Named servers and environments" and "Resource
    limits").

    ``python`` is an interpreter path (``~/`` is the person's home, so "the user's own env at
    ~/envs/x" is ``python = "~/envs/x/bin/python"``); ``conda_env`` names a conda environment
    looked up in ``conda_dirs`` (the person's ``~/.conda/envs`` included). Both empty: the
    hub's ``python``. ``memory``, ``cpus`` and ``gpus`` size the server within ``[limits]``:
    a profile is offered only to people whose rules allow that much; empty, 0 and -1 keep
    what the rules give them.
    """

    name: str
    description: str = ""
    python: str = ""
    conda_env: str = ""
    memory: str = ""
    cpus: float = 0.0
    gpus: int = -1


@dataclass(frozen=True)
class SlurmSettings:
    """``[slurm]``: user servers as Slurm batch jobs (spawner = "slurm"; see docs/slurm.md)."""

    partition: str = setting("", "Partition (sbatch --partition). Empty: the cluster's default.")
    time: str = setting("8:00:00", "Time limit of a server's job (sbatch --time).")
    cpus: int = setting(1, "CPUs of a server's job (sbatch --cpus-per-task).", min=1)
    memory: str = setting(
        "", "Memory of a server's job, e.g. '4G' (sbatch --mem). Empty: the default."
    )
    gres: str = setting("", "Generic resources, e.g. 'gpu:1' (sbatch --gres). Empty: none.")
    account: str = setting("", "Account to charge (sbatch --account). Empty: the user's default.")
    qos: str = setting("", "Quality of service (sbatch --qos). Empty: the default.")
    extra_directives: list[str] = setting(
        [], "More sbatch options, one per item, e.g. '--constraint=avx2'."
    )
    job_template: str = setting(
        "", "Job script template (Python string.Template). Empty: the built-in one."
    )
    bind_ip: str = setting(
        "127.0.0.1", "Address a server binds to on its node; the hub must reach it there."
    )
    start_timeout: float = setting(
        600.0, "Seconds a job may queue and start before the start fails.", min=1
    )
    poll_interval: float = setting(
        2.0, "Seconds between squeue checks while a job starts.", min=0.1
    )
    profiles: list[SlurmProfile] = setting(
        [],
        "Resource profiles users pick on the spawn form, as [[slurm.profiles]] tables (see docs/slurm.md). Empty: no form, the values above.",
    )


@dataclass(frozen=True)
class Settings:
    # network
    ip: str = setting("127.0.0.1", "Address the hub listens on. 0.0.0.0 exposes it to the network.")
    port: int = setting(
        8000, "TCP port of the hub (0 picks a free one and prints it).", min=0, max=65535
    )
    ssl_cert: str = setting(
        "",
        "PEM certificate (chain) for HTTPS on the hub's port. Empty: plain HTTP (or 'courtyard up --https' makes a self-signed one).",
    )
    ssl_key: str = setting("", "PEM private key for ssl_cert.")
    workers: int = setting(
        1,
        "Processes serving the hub's port (SO_REUSEPORT): the hub itself plus workers-1 proxy workers. 0: one per CPU core.",
        min=0,
        max=64,
    )
    hub_nice: int = setting(
        -5,
        "CPU priority (nice value) of the hub and its proxy workers when run as root: negative runs them ahead of users' servers, so that pages, logins and proxied requests stay quick while servers take every core. Users' servers run at 0. 0: leave it.",
        min=-20,
        max=19,
    )
    # storage
    state_dir: str = setting(
        "",
        "Where the database, secrets, logs and sockets live. Empty: /var/lib/courtyard as root, ~/.local/share/courtyard otherwise.",
    )
    database_url: str = setting(
        "",
        "SQLAlchemy URL of the store. Empty: SQLite in state_dir. PostgreSQL: postgresql+psycopg://user:pw@host/db.",
    )
    # authentication
    auth: str = setting(
        "",
        "Who may log in: 'system' (PAM, Unix accounts) or 'local' (Courtyard's own accounts). Empty: system as root, local otherwise.",
        choices=("", "system", "local"),
    )
    admin_users: list[str] = setting(
        [], 'Users who are admins (the JupyterHub seed uses ["root"]).'
    )
    allowed_users: list[str] = setting([], "If set, only these users (and admins) may log in.")
    allowed_groups: list[str] = setting(
        [], "If set, members of these Unix groups may log in (system auth)."
    )
    pam_service: str = setting("login", "PAM service used by system auth.")
    pam_threads: int = setting(
        4,
        "Threads running PAM conversations (system auth); more logins at once wait their turn. Each may hold a core and a password hash's memory (yescrypt: 16 MiB or more); more threads help only a PAM stack that waits on the network (LDAP, SSSD).",
        min=1,
        max=64,
    )
    min_uid: int = setting(
        1000, "With system auth and no allow lists, the lowest uid that may log in.", min=0
    )
    max_uid: int = setting(
        60000, "With system auth and no allow lists, the highest uid that may log in.", min=0
    )
    admin_access: bool = setting(
        False, "Whether admins may open other users' servers (each access is logged)."
    )
    create_system_users: bool = setting(
        False, "With system auth, create Unix accounts (useradd -m) for users added in the hub."
    )
    session_max_age: int = setting(14 * 24 * 3600, "Seconds a login stays valid.", min=60)
    # user servers
    spawner: str = setting(
        "local",
        "How user servers run: 'local' (a process as the user) or 'slurm' (a batch job).",
        choices=("local", "slurm"),
    )
    python: str = setting(
        "",
        "Python interpreter that runs users' servers (needs jupyter_server and courtyard). Empty: the hub's own.",
    )
    notebook_dir: str = setting("~", "Directory a user's server starts in; ~ is the user's home.")
    default_url: str = setting("/lab", "Page a user lands on in their server.")
    args: list[str] = setting([], "Extra command-line arguments for every user's server.")
    environment: dict[str, str] = setting(
        {}, "Extra environment variables for every user's server."
    )
    env_keep: list[str] = setting(
        ["PATH", "LANG", "LC_ALL", "TZ"],
        "Variables passed from the hub's environment to user servers.",
    )
    start_timeout: float = setting(
        60.0, "Seconds a server may take to answer before its start fails.", min=1
    )
    stop_grace: float = setting(
        10.0, "Seconds between SIGTERM and SIGKILL when stopping a server.", min=0
    )
    server_log_max: str = setting(
        "16M",
        "Largest a server's log (<state_dir>/logs/<user>.log, its stdout and stderr) may grow; past it the file is cut to a marker line and its last 64 KiB. A size such as '16M' (at least 1M) or 'unlimited' (local spawner).",
    )
    named_servers: int = setting(
        0,
        "Named servers each person may have besides their default one (/user/<name>/<server>/). 0: named servers are off.",
        min=0,
        max=1000,
    )
    profiles: list[Profile] = setting(
        [],
        "Environments and sizes people start servers in, as [[profiles]] tables (name, description, python or conda_env, memory, cpus, gpus; local spawner). Empty: the hub's python and the [limits] allowance, no choice.",
    )
    conda_dirs: list[str] = setting(
        [
            "~/.conda/envs",
            "~/miniconda3/envs",
            "~/anaconda3/envs",
            "~/miniforge3/envs",
            "/opt/conda/envs",
        ],
        "Directories searched for a profile's conda_env and for kernels_from_conda; ~ is the person's home.",
    )
    kernels_from_conda: bool = setting(
        False,
        "Offer each person's conda environments that have ipykernel as kernels in all their servers (no nb_conda_kernels needed).",
    )
    # pages
    language: str = setting(
        "en",
        "Default language of hub pages when the browser asks for none we have.",
        choices=("en", "zh_CN"),
    )
    log_level: str = setting(
        "info", "Log verbosity.", choices=("debug", "info", "warning", "error")
    )
    log_max_bytes: int = setting(
        10 * 1024 * 1024, "Size at which 'courtyard start' rotates its log file.", min=1024
    )
    log_backups: int = setting(5, "Rotated log files kept (courtyard.log.1, ...).", min=1)
    # REST API and services
    services: list[ServiceConfig] = setting(
        [],
        "Services ([[services]]: name, command, environment, url, api_token, cwd, display, info, oauth_client_id, oauth_redirect_uri, oauth_no_confirm, oauth_client_allowed_scopes, oauth_roles); with a command the hub runs and restarts it, with a url the proxy serves it at /services/<name>/ and the hub is its OAuth provider.",
    )
    load_roles: list[RoleConfig] = setting(
        [], "Roles ([[load_roles]]: name, scopes, users, groups, services) granting API scopes."
    )
    # sections
    culler: CullerSettings = field(
        default_factory=CullerSettings, metadata={"help": "Idle culler."}
    )
    slurm: SlurmSettings = field(default_factory=SlurmSettings, metadata={"help": "Slurm spawner."})
    limits: LimitSettings = field(
        default_factory=LimitSettings, metadata={"help": "Resource limits per server."}
    )

    def resolved_state_dir(self) -> Path:
        return Path(self.state_dir or default_state_dir()).expanduser()

    def resolved_auth(self) -> AuthKind:
        if self.auth in ("system", "local"):
            return self.auth  # type: ignore[return-value]
        return "system" if running_as_root() else "local"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_state_dir() / 'courtyard.sqlite'}"

    def offered_profiles(self, user: str | None = None) -> list[SlurmProfile] | list[Profile]:
        """The profiles people choose from: the Slurm spawner's resource profiles, or the
        local spawner's ``[[profiles]]`` (to ``user``: only those that fit what their
        ``[limits]`` rules allow)."""
        if self.spawner == "slurm":
            return list(self.slurm.profiles)
        return list(self.profiles) if user is None else offered_to(self.limits, self.profiles, user)

    def local_profile(self, name: str) -> Profile | None:
        """The ``[[profiles]]`` entry ``name`` ("" picks the first, if any)."""
        for profile in self.profiles:
            if profile.name == name or not name:
                return profile
        return None

    def resolved_workers(self) -> int:
        return self.workers or len(os.sched_getaffinity(0))

    def resolved_python(self) -> str:
        return self.python or sys.executable

    def resolved_server_log_max(self) -> int | None:
        """``server_log_max`` in bytes; None for 'unlimited'."""
        return parse_size(self.server_log_max, "server_log_max")


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
