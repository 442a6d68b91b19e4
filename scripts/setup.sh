#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for what is asked of it: the Debian packages only when run as root and
# only those that are missing (nodejs and npm first, since npm ci needs them), then the npm packages (when node_modules
# is missing or stale). The argument says for what (default: build):
#   build  building nftlb and running it (make build, install, deb): nodejs and npm, and what the package Depends on
#          and Recommends (nftables, conntrack, procps, util-linux). No daemon, nothing only the tests use.
#   demo   also iproute2: make demo loads the example in network namespaces.
#   test   also what the tests and CI use: the package and docs tests' tools, and the daemons the kernel tests run in
#          their own namespaces (bird2, keepalived, conntrackd, ulogd2). Nothing is started, but Debian enables those
#          daemons at boot when it installs them: run the tests on a development or CI machine, not on a balancer.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-build}
case $purpose in
  build | demo | test) ;;
  *)
    echo "usage: scripts/setup.sh [build|demo|test]" >&2
    exit 2
    ;;
esac

need=()
# Debian's own nodejs (18.19 or 18.20 on Debian 12) is enough; a node that is already there (nvm, NodeSource) is kept.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# What the Debian package (scripts/deb.sh) Depends on and Recommends: nft, conntrack, flock, and procps: /bin/kill in
# nftlb-health.service, and sysctl, which the demo and the kernel tests run in their namespaces (minimal images lack it).
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
[ -x /bin/kill ] || need+=(procps)
[ "$purpose" = build ] || command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ "$purpose" = test ]; then
  command -v iptables >/dev/null 2>&1 || need+=(iptables)
  command -v iptables-legacy >/dev/null 2>&1 || need+=(iptables)
  # The package and docs tests (test/package/): a throwaway Debian root, lintian, unit checks, zsh -n, groff.
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v lintian >/dev/null 2>&1 || need+=(lintian)
  command -v zsh >/dev/null 2>&1 || need+=(zsh)
  command -v groff >/dev/null 2>&1 || need+=(groff-base)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
  # nftlb doctor probes a DSR VIP on the segment with arping (its kernel test too).
  command -v arping >/dev/null 2>&1 || need+=(iputils-arping)
  # ulogd2: the connection-log kernel test reads the NFLOG group with it, as an operator would.
  command -v ulogd >/dev/null 2>&1 || need+=(ulogd2)
  # The cluster engines nftlb renders configurations for and drives; the cluster kernel tests run them in namespaces
  # (each with its own config, socket and pid file).
  command -v bird >/dev/null 2>&1 || need+=(bird2)
  command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
  command -v conntrackd >/dev/null 2>&1 || need+=(conntrackd)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    mapfile -t pkgs < <(printf '%s\n' "${need[@]}" | sort -u)
    echo "setup: apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages with a daemon (ulogd2) must not start it on the host: where no policy-rc.d refuses service starts (as
    # container images have), one that refuses them is in place for this install only.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# scripts/setup.sh: no service starts while it installs packages\nexit 101\n' > "$policy"
      chmod 0755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    if grep -q 'scripts/setup.sh' "$policy" 2>/dev/null; then rm -f "$policy"; trap - EXIT; fi
  else
    echo "setup: missing ${need[*]} (run as root to install them; npm needs node, the rest is what '$purpose' uses)" >&2
  fi
fi

# promtool (the metrics test checks /metrics with `promtool check metrics`) comes from Debian 12's `prometheus` package.
# Only the one binary is taken out of it: installing the package would also enable and start a Prometheus server,
# and the tests start no daemon outside their own namespaces. The package is fetched with apt-get download and promtool
# goes to /usr/local/bin.
if [ "$purpose" = test ] && ! command -v promtool >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
  command -v apt-get >/dev/null 2>&1; then
  echo "setup: promtool from Debian's prometheus package (the binary only; no server is installed)"
  tmp=$(mktemp -d /tmp/nftlb-promtool.XXXXXX)
  (
    cd "$tmp"
    apt-get download -qq prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download -qq prometheus; }
    dpkg-deb --fsys-tarfile prometheus_*.deb | tar -xO ./usr/bin/promtool >promtool
    install -m 0755 promtool /usr/local/bin/promtool
  ) || echo "setup: could not get promtool (the metrics test needs it; it fails in CI without it)" >&2
  rm -rf "$tmp"
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm is not installed: run 'sudo scripts/setup.sh' (installs Debian's nodejs and npm) or install Node.js 18.19+" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
