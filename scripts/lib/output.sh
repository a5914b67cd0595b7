# shellcheck shell=bash
# What the setup scripts print: one line per step, a clear message and exit on failure.

COURTYARD_SCRIPT="${COURTYARD_SCRIPT:-$(basename "$0")}"

say() {
  printf '==> %s\n' "$*"
}

warn() {
  printf '==> WARNING: %s\n' "$*" >&2
}

die() {
  printf '\n%s: error: %s\n' "$COURTYARD_SCRIPT" "$*" >&2
  exit 1
}

is_root() {
  [[ $(id -u) -eq 0 ]]
}

# Seconds since this script started, for the timings it prints.
elapsed() {
  echo "$SECONDS"
}
