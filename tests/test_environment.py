"""The environment the tests rely on is really there (scripts/test sets it up).

Outside CI a missing piece skips its check; with CI=true it fails, so CI cannot pass on a
machine where the other tests would have skipped silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APT_LIST = REPO / "scripts" / "apt-packages.txt"
IN_CI = os.environ.get("CI") == "true"


def missing(message: str) -> None:
    """Fail under CI=true, skip elsewhere: the piece is absent from this machine."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def apt_packages() -> list[str]:
    names = (line.split("#", 1)[0].strip() for line in APT_LIST.read_text().splitlines())
    return [name for name in names if name]


def chromium_path() -> str:
    return os.environ.get("COURTYARD_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.parametrize("package", apt_packages())
def test_listed_debian_package_is_installed(package: str) -> None:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    ).stdout
    if status != "install ok installed":
        missing(f"Debian package {package!r} is not installed (run scripts/test as root)")


@pytest.mark.root
def test_venv_python_serves_another_unix_user() -> None:
    # User servers run as their own Unix user and import courtyard.singleuser from this venv.
    result = subprocess.run(
        [
            "runuser",
            "-u",
            "nobody",
            "--",
            sys.executable,
            "-c",
            "import courtyard.singleuser, jupyter_server",
        ],
        cwd="/",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"{sys.executable} cannot import courtyard.singleuser as user 'nobody':\n{result.stderr}"
    )


def test_chromium_runs() -> None:
    path = chromium_path()
    if not os.access(path, os.X_OK):
        missing(f"no Chromium at {path!r} (COURTYARD_TEST_CHROMIUM)")
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Chromium" in result.stdout


@pytest.mark.browser
def test_playwright_drives_debian_chromium() -> None:
    path = chromium_path()
    if not os.access(path, os.X_OK):
        missing(f"no Chromium at {path!r} (COURTYARD_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=args)
        try:
            page = browser.new_page()
            page.set_content("<p id='greeting'>hello from chromium</p>")
            assert page.inner_text("#greeting") == "hello from chromium"
        finally:
            browser.close()


@pytest.mark.postgres
def test_postgres_from_the_test_setup_accepts_connections() -> None:
    url = os.environ.get("COURTYARD_TEST_POSTGRES_URL")
    if not url:
        missing("COURTYARD_TEST_POSTGRES_URL is not set (scripts/test starts PostgreSQL)")
        return
    import psycopg

    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://", 1), connect_timeout=10
    ) as conn:
        assert conn.info.server_version >= 150000
        query = "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        row = conn.execute(query).fetchone()
        assert row is not None
        assert row[0], "the test role must be able to create databases"


def test_pam_unix_module_is_installed() -> None:
    found = list(Path("/usr/lib").glob("*/security/pam_unix.so")) + list(
        Path("/lib").glob("*/security/pam_unix.so")
    )
    if not found:
        missing("pam_unix.so not found (Debian package libpam-modules)")


@pytest.mark.parametrize("script", ["scripts/run", "scripts/test", ".ci/run"])
def test_entry_script_is_executable(script: str) -> None:
    # README opens with `scripts/run` and `scripts/test`: a commit that drops the exec bit
    # breaks both for every newcomer.
    assert os.access(REPO / script, os.X_OK), f"{script} lost its exec bit: git add --chmod=+x"
