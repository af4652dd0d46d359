# Two entry points, as the README says: `make up` and `make test`.
SHELL := /bin/bash
.PHONY: up test setup build clean unit bench bench-registry bench-build bench-compose bench-swarm conformance

setup:
	@bash scripts/setup.sh

build:
	@npx tsc -p .
	@mkdir -p dist/native && cc -O2 -Wall -Wextra -o dist/native/netns-dns-bind native/netns-dns-bind.c
	@node scripts/build-compose-validator.mjs

up: setup build
	@bash scripts/up.sh

test: setup build
	@bash scripts/test.sh

unit: build
	@node --test $$(find dist/test/unit -name '*.test.js' | sort)

# Speed and memory (containers; registry pull/push) against a reference engine: REF_DOCKER_HOST=unix:///path/docker.sock make bench
bench: setup build
	@node dist/bench/containers.js
	@node dist/bench/registry.js
	@node dist/bench/build.js
	@node dist/bench/compose.js
	@node dist/bench/swarm.js

# Registry push/pull speed through the Engine API, Berth beside REF_DOCKER_HOST (docs/registry-conformance.md)
bench-registry: setup build
	@node dist/bench/registry.js

# Build speed (cold, cached, one file changed) beside a dockerd (REF_DOCKER_HOST, or one the bench starts)
bench-build: setup build
	@node dist/bench/build.js

# Compose speed: up -d and down of a 10-service project, Berth's compose and docker-compose 1.29 on berthd
# beside docker-compose 1.29 on a dockerd (REF_DOCKER_HOST, or one the bench starts); docs/compose.md
bench-compose: setup build
	@node dist/bench/compose.js

# Swarm speed: service create/update/rm of 50 replicas on one node beside a swarm-mode dockerd, each in a
# network namespace; then 1,000 tasks on a 5-node devcluster with the managers' memory (docs/swarm.md)
bench-swarm: setup build
	@node dist/bench/swarm.js

# The OCI distribution-spec suite against docker-registry and Berth's registry server, side by side
conformance: setup build
	@node --test --test-concurrency=1 dist/test/integration/registry-conformance.test.js

clean:
	rm -rf dist
