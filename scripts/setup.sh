#!/usr/bin/env bash
# Installs what Berth needs and is missing, and nothing more; quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the engine and its tests use.
#   runc, conmon: run and watch containers; iptables, iproute2: networks; busybox-static: the base image;
#   attr: setfattr/getfattr for overlay opaque directories; tini: --init; procps: ps for `top`; docker-cli compatibility is tested with the
#   docker CLI already on the machine (/usr/local/bin/docker) when it is there.
#   docker-registry (Distribution 2.8), skopeo, apache2-utils (htpasswd): the registry peers Berth's pull,
#   push and registry server are tested against, and the binary the local `registry:2` image is made from.
#   docker-compose (1.29, Python, docker-py): the older compose clients berthd must serve (docs/compose.md).
#   gcc, libc6-dev: `make build` compiles native/netns-dns-bind.c, the embedded DNS's helper (docs/networking.md).
PACKAGES=(runc conmon iptables iproute2 busybox-static attr tini procps docker-registry skopeo apache2-utils docker-compose etcd-server gcc libc6-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing packages ${missing[*]}; run as root" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, from the lock file; reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # `npm ci` refuses this lock file because node-unix-socket names optional per-platform packages that
  # were never published (only the linux-x64 ones exist), so they cannot be in the lock. `npm install`
  # then installs the same locked versions and skips the missing optional ones.
  npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
fi
# better-sqlite3 is a native module; make sure it loads on this Node.
if ! node -e "require('better-sqlite3')" 2>/dev/null; then
  echo "setup: rebuilding better-sqlite3"
  npm rebuild better-sqlite3 --loglevel=error
fi

# Berth's compose as the docker CLI's `docker compose` (bin/docker-compose): a link in the first system
# directory the docker CLI looks for plugins in. A real Docker Compose installed there is left alone.
plugin_dir=/usr/local/lib/docker/cli-plugins
if [ "$(id -u)" = 0 ] && { [ -L "$plugin_dir/docker-compose" ] || [ ! -e "$plugin_dir/docker-compose" ]; }; then
  mkdir -p "$plugin_dir"
  if [ "$(readlink "$plugin_dir/docker-compose")" != "$PWD/bin/docker-compose" ]; then
    ln -sfn "$PWD/bin/docker-compose" "$plugin_dir/docker-compose"
    echo "setup: docker compose is Berth's ($plugin_dir/docker-compose)"
  fi
elif [ -e "$plugin_dir/docker-compose" ] && [ ! -L "$plugin_dir/docker-compose" ]; then
  echo "setup: $plugin_dir/docker-compose is another compose; Berth's plugin is not installed" >&2
fi
