# shellcheck shell=bash
# The project's virtualenv: where it lives, which Python makes it, how the project goes in.
#
# As root the venv lives in /opt/courtyard/venv and is world-readable, because user servers
# are started as other Unix users and import courtyard.singleuser from it. It is made from
# /usr/bin/python3: a pyenv Python under /root cannot be executed by other users.

# Print where the venv lives. $1 is "test" (repo-local .venv for non-root) or "run".
venv_dir() {
  if [[ -n "${COURTYARD_VENV:-}" ]]; then
    echo "$COURTYARD_VENV"
  elif is_root; then
    echo /opt/courtyard/venv
  elif [[ $1 == test ]]; then
    echo "$REPO/.venv"
  else
    echo "${XDG_DATA_HOME:-$HOME/.local/share}/courtyard/venv"
  fi
}

python_is_new_enough() {
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

# Print the Python to build the venv from: $COURTYARD_PYTHON, else /usr/bin/python3, else
# (not root) the first python3 on PATH.
pick_python() {
  local py
  for py in "${COURTYARD_PYTHON:-}" /usr/bin/python3; do
    if [[ -n $py && -x $py ]] && python_is_new_enough "$py"; then
      echo "$py"
      return 0
    fi
  done
  if ! is_root && py=$(command -v python3) && python_is_new_enough "$py"; then
    echo "$py"
    return 0
  fi
  die "Courtyard needs Python >= 3.10 at /usr/bin/python3 (found: $(/usr/bin/python3 --version 2>&1 || echo none)).
Install it with your package manager (Debian/Ubuntu: apt-get install python3 python3-venv),
or point COURTYARD_PYTHON at one."
}

# Make sure $1 can create venvs (Debian splits ensurepip into python3-venv).
ensure_venv_module() {
  local py=$1
  "$py" -c 'import ensurepip, venv' 2>/dev/null && return 0
  if is_root && command -v apt-get >/dev/null; then
    say "python3-venv is missing: installing it with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv </dev/null; then
      die "could not install python3-venv with apt-get"
    fi
    "$py" -c 'import ensurepip, venv' 2>/dev/null && return 0
  fi
  die "$py cannot create virtual environments: the venv module (ensurepip) is missing.
On Debian/Ubuntu install it with: sudo apt-get install python3-venv"
}

# Make every directory from / down to $1 traversable by other users (root only).
open_path_for_others() {
  local dir=$1
  while [[ $dir != / && -n $dir ]]; do
    chmod o+rx "$dir"
    dir=$(dirname "$dir")
  done
}

# True when other Unix users can read the source tree $1 (every parent has o+x, files o+r;
# bytecode caches aside: Python falls back to the source when it cannot read them). Only then
# may the venv point into it with an editable install.
tree_is_readable_by_others() {
  local dir=$1
  while [[ $dir != / ]]; do
    [[ $(( 0$(stat -c '%a' "$dir") & 1 )) -eq 1 ]] || return 1
    dir=$(dirname "$dir")
  done
  [[ -z $(find "$1/src" -name __pycache__ -prune -o ! -perm -o=r -print -quit) ]]
}

# Create venv $2 from Python $1 unless a working one is there.
ensure_venv() {
  local py=$1 venv=$2
  if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    return 0
  fi
  ensure_venv_module "$py"
  say "venv: creating $venv from $py ($("$py" --version 2>&1))"
  mkdir -p "$venv"
  is_root && open_path_for_others "$venv"
  "$py" -m venv --clear "$venv" || die "could not create the venv at $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip 'setuptools>=68' wheel \
    || die "could not upgrade pip and setuptools in $venv"
}

# Print "editable" when the venv may point into $REPO (we can write there, and as root other
# users can read it), else "copy".
install_mode() {
  if [[ -w $REPO/src ]] && { ! is_root || tree_is_readable_by_others "$REPO"; }; then
    echo editable
  else
    echo copy
  fi
}

# Copy the source tree to a temp dir and print its path: a regular install builds there, so
# the repo itself may be read-only and gets no build/ or egg-info litter.
snapshot_repo() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/courtyard-src.XXXXXX")
  tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache \
    -cf - . | tar -C "$dir" -xf - || die "could not copy the source tree to $dir"
  echo "$dir"
}

# Install the project from $REPO with extra $2 into venv $1. Dependencies are installed only
# when pyproject.toml changed since the last time (a hash stamp in the venv); the package
# itself is always reinstalled so the venv runs the current source.
install_project() {
  local venv=$1 extra=$2 mode src stamp want have
  local -a pip=("$venv/bin/python" -m pip install -q --no-build-isolation)
  mode=$(install_mode)
  src=$REPO
  if [[ $mode == copy ]]; then
    src=$(snapshot_repo) || exit 1
  fi
  stamp="$venv/.courtyard-deps-$extra"
  want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1) $mode"
  have=$(cat "$stamp" 2>/dev/null || true)
  if [[ $want != "$have" ]]; then
    say "venv: installing dependencies for .[$extra] ($mode install; a few minutes the first time)"
    if [[ $mode == editable ]]; then
      "${pip[@]}" -e "${src}[$extra]" || die "pip install -e '.[$extra]' failed"
    else
      "${pip[@]}" "${src}[$extra]" || die "pip install '.[$extra]' failed"
    fi
    echo "$want" >"$stamp"
  fi
  if [[ $mode == editable ]]; then
    "${pip[@]}" --no-deps -e "$src" || die "pip install -e . failed"
  else
    "${pip[@]}" --no-deps --force-reinstall "$src" || die "pip install . failed"
    rm -rf "$src"
  fi
  say "venv: courtyard installed into $venv ($mode)"
}

# Make venv $2 from Python $1 if needed and install the project with extra $3 into it, one
# setup at a time per venv (concurrent pip runs in one venv break it).
setup_venv() {
  local py=$1 venv=$2 extra=$3 parent lock
  parent=$(dirname "$venv")
  if ! mkdir -p "$parent" 2>/dev/null || ! touch "$parent/.courtyard-setup.lock" 2>/dev/null; then
    die "cannot write to $parent: choose another venv location with COURTYARD_VENV=/path"
  fi
  exec {lock}>"$parent/.courtyard-setup.lock"
  flock "$lock"
  ensure_venv "$py" "$venv"
  install_project "$venv" "$extra"
  exec {lock}>&-
}
