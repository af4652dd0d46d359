# Two entry points, as the README says: `make up` and `make test`.
SHELL := /bin/bash
.PHONY: up test setup build clean unit bench

setup:
	@bash scripts/setup.sh

build:
	@npx tsc -p .

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

clean:
	rm -rf dist
