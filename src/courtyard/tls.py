"""HTTPS for the hub's port: the server SSLContext, and a self-signed certificate on demand.

The certificate is made with the ``openssl`` binary (present wherever Python's ssl module is
usable on Debian/Ubuntu), so Courtyard needs no extra Python package for it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from courtyard.errors import ConfigError

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 825


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for ``cert``/``key`` (PEM files); ConfigError when unusable."""
    if not key:
        raise ConfigError("setting 'ssl_cert' is set but 'ssl_key' is empty; set both or neither.")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as e:
        raise ConfigError(
            f"TLS file {e.filename!r} does not exist (settings 'ssl_cert', 'ssl_key')."
        ) from e
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(
            f"cannot use the certificate {cert!r} with the key {key!r}: {e}. "
            "Check settings 'ssl_cert' and 'ssl_key'."
        ) from e
    return context


def fingerprint(cert: str | Path) -> str:
    """SHA-256 fingerprint of a PEM certificate, as browsers show it (AB:CD:...)."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def self_signed(folder: Path, hostnames: list[str] | None = None) -> tuple[Path, Path]:
    """Cert and key in ``folder`` (made once, then reused): self-signed for localhost,
    127.0.0.1, ::1, this host's name and ``hostnames``."""
    cert, key = folder / CERT_NAME, folder / KEY_NAME
    if cert.is_file() and key.is_file():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError(
            "'--https' without 'ssl_cert' needs the openssl command to make a certificate; "
            "install it (apt-get install openssl) or set 'ssl_cert' and 'ssl_key'."
        )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    names = subject_alt_names(hostnames or [])
    cmd = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(VALID_DAYS),
        "-subj", "/CN=Courtyard self-signed", "-addext", "subjectAltName=" + ",".join(names),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"openssl could not make a certificate: {done.stderr.strip()[-300:]}")
    key.chmod(0o600)
    return cert, key


def subject_alt_names(extra: list[str]) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn(), *extra]
    out: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            out.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            out.append(f"DNS:{name}")
    return out
