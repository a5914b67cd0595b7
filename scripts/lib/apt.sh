# shellcheck shell=bash
# Debian packages: the list lives in scripts/apt-packages.txt; install only what is missing.

# Print the package names listed in $1, one per line, without comments or blank lines.
apt_package_list() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

apt_is_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# Install every package in list file $1 that is not installed yet; apt is not run at all
# when nothing is missing. Without root, name the missing ones and go on.
ensure_apt_packages() {
  local list_file=$1 pkg
  local -a missing=()
  while read -r pkg; do
    apt_is_installed "$pkg" || missing+=("$pkg")
  done < <(apt_package_list "$list_file")
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "apt: all packages in ${list_file##*/} are installed"
    return 0
  fi
  if ! is_root; then
    warn "missing Debian packages: ${missing[*]}"
    warn "install them with: sudo apt-get install -y ${missing[*]}  (tests that need them will fail or skip)"
    return 0
  fi
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null \
    || die "apt-get install ${missing[*]} failed"
}
