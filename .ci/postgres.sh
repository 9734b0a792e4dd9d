#!/usr/bin/env bash
# Make PostgreSQL's server binaries available for the storage test
# (tests/deployments/test_postgres_storage.py starts its own private cluster from them, as the
# unprivileged `postgres` user when run as root). Installs Debian's `postgresql` package when no
# initdb is on PATH or in /usr/lib/postgresql/*/bin; the package's own cluster is not used.
set -euo pipefail

find_initdb() {
  command -v initdb 2>/dev/null && return 0
  ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | grep . && return 0
  return 1
}

if ! initdb_path="$(find_initdb)"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR: PostgreSQL is not installed and this is not root. Fix: apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "PostgreSQL not found: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  initdb_path="$(find_initdb)" || { echo "ERROR: postgresql installed, but no initdb found" >&2; exit 1; }
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "ERROR: running as root and there is no 'postgres' user to run PostgreSQL as." \
    "Fix: apt-get install -y postgresql (it creates the user)" >&2
  exit 1
fi
echo "PostgreSQL: $("$initdb_path" --version) ($initdb_path)"
