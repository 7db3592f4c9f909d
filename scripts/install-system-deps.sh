#!/usr/bin/env bash
# Debian packages the tests, the demo and the agent need. Idempotent: installs only what is missing.
set -euo pipefail
packages=(
  iproute2 iputils-ping fping iperf3 snmpd snmp procps psmisc sqlite3 curl
  influxdb victoria-metrics prometheus prometheus-alertmanager
  postgresql
  openssh-server openssh-client
  arp-scan iputils-tracepath
  dnsmasq-base
  chromium fonts-dejavu-core
  python3-venv systemd util-linux tar
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-system-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps snmpd/influxdb from pulling in services we start ourselves;
# policy-rc.d stops packages from starting daemons on install (we start them per test).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
