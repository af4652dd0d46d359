#!/usr/bin/env bash
# Runs docker-py's own integration tests against a private berthd (and, given REF_DOCKER_HOST, against a
# reference Docker Engine side by side) and prints a per-test comparison. See docs/docker-py-compat.md.
#
# Usage: scripts/docker-py-compat.sh DOCKER_PY_CHECKOUT [RESULTS_DIR]
# Env:   REF_DOCKER_HOST   reference engine (e.g. unix:///tmp/refdocker/docker.sock); optional
#        FILES             test files without .py (default: the container, exec, image, network, volume
#                          and models files)
#        DPY_TEST_TIMEOUT  seconds per test phase (default 120)
#        PYTEST_ARGS       extra pytest arguments (e.g. "-k test_run")
#        DPY_NETNS         1: berthd runs in a network namespace of its own (its swarm listens on
#                          0.0.0.0:<random> there, never on the host's ports); default 1 when FILES has a
#                          swarm file (api_swarm/api_service/models_swarm/models_services/models_nodes...)
# Needs: a built tree (npx tsc -p .), python3 with pytest and docker-py's dependencies (requests).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dpy="$(cd "${1:?usage: $0 DOCKER_PY_CHECKOUT [RESULTS_DIR]}" && pwd)"
out="$(mkdir -p "${2:-$PWD/docker-py-results}" && cd "${2:-$PWD/docker-py-results}" && pwd)"
FILES="${FILES:-api_container_test api_exec_test api_image_test api_network_test api_volume_test models_containers_test models_images_test models_networks_test models_volumes_test models_resources_test}"
export DPY_TEST_TIMEOUT="${DPY_TEST_TIMEOUT:-120}"
[ -f "$dpy/tests/integration/base.py" ] || { echo "$dpy is not a docker-py checkout" >&2; exit 2; }
[ -f "$repo/dist/src/tools/make-busybox-image.js" ] || { echo "build first: npx tsc -p ." >&2; exit 2; }
python3 -m pytest --version >/dev/null || { echo "python3 has no pytest" >&2; exit 2; }

# The image docker-py's tests run (TEST_IMG in tests/integration/base.py, alpine:3.10); the models tests
# run its repository's :latest ("alpine") without pulling it when it is there. busybox is tagged as both.
test_img="$(sed -n "s/^TEST_IMG = '\(.*\)'/\1/p" "$dpy/tests/integration/base.py")"
[ -n "$test_img" ] || { echo "no TEST_IMG in base.py" >&2; exit 2; }
test_imgs="$test_img ${test_img%%:*}:latest"

# Pulls (out of scope) must fail fast, never reach out: both engines get an unreachable proxy.
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= http_proxy= https_proxy= no_proxy=

root="$(mktemp -d /tmp/berth-dpy-XXXXXX)"
sock="$root/berth.sock"
berth_host="unix://$sock"
bridge="bt$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
subnet="$(cd "$repo" && node --input-type=module -e "import('./dist/test/integration/harness.js').then((m) => console.log(m.freeSubnet24()))")"
berthd_pid=

# Swarm tests init a swarm on 0.0.0.0:<10000-25000> (docker-py's helpers.swarm_listen_addr) or on the
# default 0.0.0.0:2377, and a manager's etcd takes the two ports after it: in the host's namespace they
# could meet a real dockerd. Such runs put berthd in a namespace of its own with lo and one "eth0"
# (the only address, so `swarm init` without an address finds one); nothing in it routes anywhere.
case " $FILES " in *swarm*|*service*|*node*|*secret*|*config*) netns_default=1 ;; *) netns_default=0 ;; esac
netns=
[ "${DPY_NETNS:-$netns_default}" = 1 ] && netns="bdpy-$(basename "$root" | tr -dc 'a-zA-Z0-9' | tail -c 8)"

cleanup() {
  set +e
  if [ -n "$berthd_pid" ] && kill -0 "$berthd_pid" 2>/dev/null; then
    kill -TERM "$berthd_pid"
    for _ in $(seq 1 300); do kill -0 "$berthd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$berthd_pid" 2>/dev/null && kill -KILL "$berthd_pid"
  fi
  if [ -d "$root/exec/runc" ]; then
    for id in $(ls "$root/exec/runc"); do runc --root "$root/exec/runc" delete -f "$id" >/dev/null 2>&1; done
  fi
  # Whatever berthd left running (an etcd member, a container's conmon) names the root on its command line.
  for p in $(grep -lsF "$root/" /proc/[0-9]*/cmdline | cut -d/ -f3); do [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null; done
  awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  if [ -n "$netns" ]; then
    ip netns del "$netns" 2>/dev/null # its links, routes and iptables rules go with it
  else
    (cd "$repo" && node --input-type=module -e "import('./dist/src/networks/cleanup.js').then((m) => m.removeNetworkLeftovers('$bridge'))")
  fi
  rm -rf "$root"
}
trap cleanup EXIT

echo "starting berthd on $sock (bridge $bridge, ${subnet%.0/24}.1/24)" >&2
echo '{}' >"$root/daemon.json"
in_netns=()
if [ -n "$netns" ]; then
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  ip -n "$netns" link add eth0 type veth peer name eth0peer # both ends in the namespace (no dummy module here)
  ip -n "$netns" addr add 198.18.0.2/32 dev eth0 # benchmarking range: in no swarm pool, no route
  ip -n "$netns" link set eth0peer up # else eth0 has no carrier and counts as down
  ip -n "$netns" link set eth0 up
  # nsenter joins only the network namespace (ip netns exec would remount /sys and hide runc's cgroups);
  # unshare --uts gives it a hostname of its own; each execs in place, so $! is berthd's pid.
  in_netns=(nsenter "--net=/run/netns/$netns" -- unshare --uts -- sh -c 'hostname berth-dpy && exec "$@"' sh)
  echo "berthd runs in network namespace $netns" >&2
fi
"${in_netns[@]}" "$repo/bin/berthd" --data-root "$root/data" --exec-root "$root/exec" -H "$berth_host" --pidfile "$root/berthd.pid" \
  --config-file "$root/daemon.json" --bridge "$bridge" --bip "${subnet%.0/24}.1/24" 2>"$out/berthd.log" &
berthd_pid=$!
for _ in $(seq 1 150); do DOCKER_HOST="$berth_host" docker version >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_HOST="$berth_host" docker version >/dev/null || { echo "berthd did not start; see $out/berthd.log" >&2; exit 1; }

node "$repo/dist/src/tools/make-busybox-image.js" "$berth_host" >/dev/null
for t in $test_imgs; do DOCKER_HOST="$berth_host" docker tag busybox:latest "$t"; done

engines="berthd=$berth_host"
if [ -n "${REF_DOCKER_HOST:-}" ]; then
  if ! DOCKER_HOST="$REF_DOCKER_HOST" docker image inspect busybox:latest >/dev/null 2>&1; then
    DOCKER_HOST="$berth_host" docker save busybox:latest | DOCKER_HOST="$REF_DOCKER_HOST" docker load >/dev/null
  fi
  for t in $test_imgs; do DOCKER_HOST="$REF_DOCKER_HOST" docker tag busybox:latest "$t"; done
  engines="$engines dockerd=$REF_DOCKER_HOST"
fi

# docker-py's tests/helpers.py imports paramiko (only for ssh); stand in for it when it is missing.
pythonpath="$repo/scripts/docker-py-compat"
python3 -c 'import paramiko' 2>/dev/null || pythonpath="$pythonpath:$repo/scripts/docker-py-compat/no-ssh"

run_engine() { # name host
  mkdir -p "$out/$1"
  for f in $FILES; do
    echo "$1: $f" >&2
    (cd "$dpy" && DOCKER_HOST="$2" PYTHONPATH="$pythonpath" \
      python3 -m pytest -v -p timeout_plugin -p no:cacheprovider ${PYTEST_ARGS:-} \
      --junitxml="$out/$1/$f.xml" "tests/integration/$f.py" >"$out/$1/$f.log" 2>&1) || true
  done
}

# Both engines side by side (each file runs its tests one at a time).
pids=()
for e in $engines; do run_engine "${e%%=*}" "${e#*=}" & pids+=($!); done
wait "${pids[@]}"

python3 "$repo/scripts/docker-py-compat/compare.py" "$out" $FILES | tee "$out/comparison.md"
