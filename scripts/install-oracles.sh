#!/usr/bin/env bash
# Installs the independent implementations the tests compare against (tests/oracles/*): each folder holds a committed
# package.json + package-lock.json and, where the default install is wrong for this machine, an install.sh.
# An install is skipped when node_modules already matches the lock file (hash stamp), so repeated runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."

# The web UI test drives Debian's Chromium (browser downloads are blocked here, so playwright cannot fetch its own).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package) for the browser test"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# The router's failure test shares one PostgreSQL ledger between replicas; it starts its own server from Debian's binaries.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing postgresql (Debian package) for the router's shared-ledger test"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own; the tests do not use it.
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
# Scale-out training runs its tests as real multi-process jobs under Open MPI's mpirun.
if ! command -v mpirun >/dev/null || ! /sbin/ldconfig -p | grep -q "libmpi.so.40 "; then
  echo "== installing Open MPI (Debian packages) for the multi-process training tests"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
fi
for dir in tests/oracles/*/; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.sharpseek-lock-hash"
  inputs=("$dir/package-lock.json"); [ -f "$dir/install.sh" ] && inputs+=("$dir/install.sh")
  want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then continue; fi
  echo "== installing oracle $dir"
  if [ -f "$dir/install.sh" ]; then (cd "$dir" && bash install.sh); else (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); fi
  echo "$want" > "$stamp"
done
