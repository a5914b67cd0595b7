"""Every failure Courtyard expects, in one tree.

CourtyardError                  anything Courtyard reports to a person without a traceback
├── ConfigError                 a setting is unknown, mistyped or out of range (names the key)
├── StoreError                  the database cannot be opened or migrated
├── AuthError                   authentication could not be attempted (not a wrong password)
│   └── UserExistsError / UnknownUserError
├── SpawnError                  a user's server could not be started; carries a user message
│   ├── SpawnTimeoutError       it did not answer within start_timeout
│   └── InterpreterError        the user cannot run the configured Python / jupyter
├── ServerStateError            an action does not fit the server's state (start while stopping)
├── PortInUseError              the port to bind is taken (names the holder when known)
└── DaemonError                 start/stop/status of the background hub failed

The CLI turns a CourtyardError into one paragraph on stderr and exit status ``exit_code``;
the web layer turns it into a page or a JSON ``{"status": N, "message": "..."}``.
"""

from __future__ import annotations


class CourtyardError(Exception):
    """A failure with a message meant for a person."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # fuller text for the log (never shown to other users)

    def __str__(self) -> str:
        return self.message


class ConfigError(CourtyardError):
    exit_code = 2
    http_status = 400


class StoreError(CourtyardError):
    pass


class AuthError(CourtyardError):
    http_status = 400


class UserExistsError(AuthError):
    http_status = 409


class UnknownUserError(AuthError):
    http_status = 404


class SpawnError(CourtyardError):
    http_status = 500


class SpawnTimeoutError(SpawnError):
    pass


class InterpreterError(SpawnError):
    pass


class ServerStateError(CourtyardError):
    http_status = 409


class PortInUseError(CourtyardError):
    exit_code = 3


class DaemonError(CourtyardError):
    pass
