#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for nftlb's build, demo and tests: npm packages always (when
# node_modules is missing or stale), the Debian packages only when run as root and only those that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

need=()
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v iptables-legacy >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
# nftlb doctor probes a DSR VIP on the segment with arping (its kernel test too).
command -v arping >/dev/null 2>&1 || need+=(iputils-arping)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    mapfile -t pkgs < <(printf '%s\n' "${need[@]}" | sort -u)
    echo "setup: apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]} (run as root to install them; kernel tests need them)" >&2
  fi
fi
