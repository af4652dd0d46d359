# Two entry points, as the README says: `make up` and `make test`.
SHELL := /bin/bash
.PHONY: up test setup build deps images clean unit integration

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

clean:
	rm -rf dist
