"""Every failure Courtyard expects, in one tree.

CourtyardError                  anything Courtyard reports to a person without a traceback
├── ConfigError                 a setting is unknown, mistyped or out of range (names the key)
├── StoreError                  the database cannot be opened or migrated
│   └── StoreUnavailableError   it cannot be reached or written now (disk full, restarting)
├── AuthError                   authentication could not be attempted (not a wrong password)
│   └── UserExistsError / UnknownUserError / ProtectedAccountError (root, system uids)
├── SpawnError                  a user's server could not be started; carries a user message
│   ├── SpawnTimeoutError       it did not answer within start_timeout
│   └── InterpreterError        the user cannot run the configured Python / jupyter
├── ServerStateError            an action does not fit the server's state (start while stopping)
├── ServerNameError             a named server's name is refused (or named servers are off)
├── PortInUseError              the port to bind is taken (names the holder when known)
├── ProxyWorkerError            a proxy worker (workers = N) could not start
└── DaemonError                 start/stop/status of the background hub failed

The CLI turns a CourtyardError into one paragraph on stderr and exit status ``exit_code``;
the web layer turns it into a page or a JSON ``{"status": N, "message": "..."}``.

Messages a person may see on a page are translatable: the message is a template marked with
:func:`N_` and its values are passed as ``params``, never formatted into it::

    raise UserExistsError(N_("user {name!r} already exists"), params={"name": name})

``message`` is the English text (``template.format(**params)``); the web layer shows
``translator(lang).error(exc)``, the translated template formatted with the same params.
tests/web/test_i18n.py checks every ``N_`` template in src/courtyard has a translation.
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(template: str) -> str:  # the conventional name of gettext_noop
    """Mark *template* for translation without translating it now."""
    return template


class CourtyardError(Exception):
    """A failure with a message meant for a person."""

    exit_code = 1
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.template = message  # the message id looked up in a translation catalog
        self.params: dict[str, object] = dict(params or {})
        self.message = message.format(**self.params) if params else message
        super().__init__(self.message)
        self.detail = detail  # fuller text for the log (never shown to other users)

    def __str__(self) -> str:
        return self.message


class ConfigError(CourtyardError):
    exit_code = 2
    http_status = 400


class StoreError(CourtyardError):
    pass


class StoreUnavailableError(StoreError):
    http_status = 503


class AuthError(CourtyardError):
    http_status = 400


class UserExistsError(AuthError):
    http_status = 409


class UnknownUserError(AuthError):
    http_status = 404


class ProtectedAccountError(AuthError):
    """A Unix account Courtyard must not touch: root, or a uid outside min_uid..max_uid."""

    http_status = 403


class SpawnError(CourtyardError):
    http_status = 500


class SpawnTimeoutError(SpawnError):
    pass


class InterpreterError(SpawnError):
    pass


class ServerStateError(CourtyardError):
    http_status = 409


class ServerNameError(CourtyardError):
    """A server name that cannot be used (or named servers are off, or too many)."""

    http_status = 400


class PortInUseError(CourtyardError):
    exit_code = 3


class ProxyWorkerError(CourtyardError):
    pass


class DaemonError(CourtyardError):
    pass
