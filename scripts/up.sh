#!/usr/bin/env bash
# Starts berthd on the default socket (if it is not already running), makes the local base images,
# and checks that it all works.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
sock=/run/berth/berth.sock
export BERTH_HOST="unix://$sock"

ln -sf "$repo/bin/berthd" /usr/local/bin/berthd
ln -sf "$repo/bin/berth" /usr/local/bin/berth

if berth version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "berthd is already running on $sock"
else
  mkdir -p /var/log
  nohup berthd >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 1 100); do
    berth version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 0.1
  done
  berth version --format '{{.Server.Version}}' >/dev/null || { echo "berthd did not start; see /var/log/berthd.log" >&2; exit 1; }
  echo "berthd started on $sock (log: /var/log/berthd.log)"
fi

if ! berth image inspect busybox:latest >/dev/null 2>&1; then
  node "$repo/dist/src/tools/make-busybox-image.js" "$BERTH_HOST"
fi
if [ -x /usr/bin/docker-registry ] && ! berth image inspect registry:2 >/dev/null 2>&1; then
  node "$repo/dist/src/tools/make-registry-image.js" "$BERTH_HOST"
fi

# Smoke check: the image is there, and a container runs on it.
echo "smoke: busybox is $(berth image inspect -f '{{.Os}}/{{.Architecture}} {{json .Config.Cmd}}' busybox)"
echo "smoke: $(berth run --rm busybox echo hello from a berth container)"

cat <<MSG

Berth is up. Try:
  berth run --rm busybox echo hi
  berth run -d --name web busybox httpd -f && berth ps
  berth images
  DOCKER_HOST=$BERTH_HOST docker image ls
  berth save busybox | berth load
  berth run -d -p 5000:5000 --name registry registry:2   # a local registry (tag/push/pull localhost:5000/...)
MSG
