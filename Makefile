# A thin layer over npm scripts and node; every target sets itself up (npm ci, and as root the Debian packages it
# uses: scripts/setup.sh). build, install and deb install only what building and running nftlb need; demo adds
# iproute2; the test targets add the tests' tools and the daemons the kernel tests run (see scripts/setup.sh).
SHELL := /bin/bash
NODE ?= node
# ava runs without npx: npx puts node_modules/.bin on PATH, where `nft` is @vercel/nft (an ava dependency), not nftables.
AVA := $(NODE) node_modules/ava/entrypoints/cli.mjs

.PHONY: all setup setup-demo setup-test build test test-unit test-kernel golden lint format bench demo install deb man completion clean

all: build

setup:
	@scripts/setup.sh build

setup-demo:
	@scripts/setup.sh demo

setup-test:
	@scripts/setup.sh test

build: setup
	npx tsc -p tsconfig.json
	$(NODE) scripts/bundle.mjs

# Every test: unit, golden fixtures, CLI, and the real-kernel tests in network namespaces (root; with CI=true a kernel
# test that cannot run fails).
test: setup-test build
	$(AVA)

test-unit: setup-test build
	$(AVA) 'test/**/*.test.ts' '!test/kernel/**'

test-kernel: setup-test build
	$(AVA) 'test/kernel/**/*.test.ts'

# Rewrites the golden files under fixtures/; review the diff like code.
golden: setup-test build
	UPDATE_GOLDEN=1 $(AVA) test/fixtures.test.ts test/cluster/engines.test.ts

lint: setup
	npx tsc -p tsconfig.json --noEmit
	$(NODE) scripts/check-layers.mjs
	npx eslint .
	npx prettier --check .

format: setup
	npx prettier --write .

# Prints the figures and writes dist/bench-report.md; `node scripts/bench-readme.mjs` puts that into README.md.
bench: setup-test build
	$(NODE) dist/test/bench/main.js

# Renders the embedded example; as root also loads it in a private namespace and sends 30 connections through it.
demo: setup-demo build
	$(NODE) scripts/demo.mjs

# The file layout of the Debian package (scripts/deb.sh). The bundle (nftlb.mjs and the chunks nftlb-*.mjs it imports
# from its own directory) keeps its .mjs names, which is what makes Node 18 load it as ES modules; /usr/bin/nftlb is a
# symlink to it (Node resolves the link before it looks at the name).
install: build
	install -D -m 0755 dist/nftlb.mjs $(DESTDIR)/usr/lib/nftlb/nftlb.mjs
	install -m 0644 dist/nftlb-*.mjs $(DESTDIR)/usr/lib/nftlb/
	install -d $(DESTDIR)/usr/bin
	ln -sfn ../lib/nftlb/nftlb.mjs $(DESTDIR)/usr/bin/nftlb
	install -D -m 0644 dist/nftlb.schema.json $(DESTDIR)/usr/share/nftlb/nftlb.schema.json
	install -D -m 0644 templates/grafana-dashboard.json $(DESTDIR)/usr/share/nftlb/grafana-dashboard.json
	install -D -m 0644 man/nftlb.8 $(DESTDIR)/usr/share/man/man8/nftlb.8
	install -D -m 0644 man/nftlb.conf.5 $(DESTDIR)/usr/share/man/man5/nftlb.conf.5
	install -D -m 0644 templates/completion/nftlb.bash $(DESTDIR)/usr/share/bash-completion/completions/nftlb
	install -D -m 0644 templates/completion/_nftlb $(DESTDIR)/usr/share/zsh/vendor-completions/_nftlb
	install -d $(DESTDIR)/lib/systemd/system
	install -m 0644 templates/*.service templates/*.timer $(DESTDIR)/lib/systemd/system/
	install -D -m 0644 dist/copyright $(DESTDIR)/usr/share/doc/nftlb/copyright
	install -D -m 0644 templates/nftlb.cron $(DESTDIR)/usr/share/doc/nftlb/examples/nftlb.cron
	[ -e $(DESTDIR)/etc/nftlb/nftlb.yaml ] || install -D -m 0644 templates/nftlb.yaml $(DESTDIR)/etc/nftlb/nftlb.yaml
	[ -e $(DESTDIR)/etc/default/nftlb ] || install -D -m 0644 templates/nftlb.default $(DESTDIR)/etc/default/nftlb

# dist/nftlb_<version>_all.deb, checked with lintian when it is installed (errors fail).
deb: build
	scripts/deb.sh

# Regenerate man/nftlb.8, man/nftlb.conf.5 (from their .in templates, the program, the schema and README.md) and the
# shell completions; test/package/docs.test.ts fails while the committed ones differ.
man: build
	$(NODE) scripts/gen-docs.mjs --man

completion: build
	$(NODE) scripts/gen-docs.mjs --completion

clean:
	rm -rf dist
