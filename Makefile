# A thin layer over npm scripts and node; every target sets itself up (npm ci, Debian packages when root).
SHELL := /bin/bash
NODE ?= node
# ava runs without npx: npx puts node_modules/.bin on PATH, where `nft` is @vercel/nft (an ava dependency), not nftables.
AVA := $(NODE) node_modules/ava/entrypoints/cli.mjs

.PHONY: all setup build test test-unit test-kernel golden lint format bench demo install deb clean

all: build

setup:
	@scripts/setup.sh

build: setup
	npx tsc -p tsconfig.json
	$(NODE) scripts/bundle.mjs

# Every test: unit, golden fixtures, CLI, and the real-kernel tests in network namespaces (root; with CI=true a kernel
# test that cannot run fails).
test: build
	$(AVA)

test-unit: build
	$(AVA) 'test/**/*.test.ts' '!test/kernel/**'

test-kernel: build
	$(AVA) 'test/kernel/**/*.test.ts'

# Rewrites the golden files under fixtures/; review the diff like code.
golden: build
	UPDATE_GOLDEN=1 $(AVA) test/fixtures.test.ts

lint: setup
	npx tsc -p tsconfig.json --noEmit
	$(NODE) scripts/check-layers.mjs
	npx eslint .
	npx prettier --check .

format: setup
	npx prettier --write .

bench: build
	$(NODE) dist/test/bench/main.js

# Renders the embedded example; as root also loads it in a private namespace and sends 30 connections through it.
demo: build
	$(NODE) scripts/demo.mjs

install: build
	install -D -m 0755 dist/nftlb.mjs $(DESTDIR)/usr/bin/nftlb
	install -D -m 0644 dist/nftlb.schema.json $(DESTDIR)/usr/share/nftlb/nftlb.schema.json
	install -D -m 0644 man/nftlb.8 $(DESTDIR)/usr/share/man/man8/nftlb.8
	for f in templates/*.service templates/*.timer; do [ -e "$$f" ] && install -D -m 0644 "$$f" $(DESTDIR)/lib/systemd/system/$$(basename "$$f"); done; true
	[ -e $(DESTDIR)/etc/nftlb/nftlb.yaml ] || install -D -m 0644 templates/nftlb.yaml $(DESTDIR)/etc/nftlb/nftlb.yaml

deb: build
	scripts/deb.sh

clean:
	rm -rf dist
