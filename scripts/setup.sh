#!/usr/bin/env bash
# Installs what holdfast and its tests need on Debian 12 (as root, or with sudo), then builds.
# Used by the README quickstart, by `scripts/test.sh` and by CI, so all three stay the same.
set -euo pipefail
cd "$(dirname "$0")/.."

need_node="20.19.0"
if ! command -v node >/dev/null 2>&1; then
  echo "holdfast needs Node.js >= $need_node (Debian 12's own nodejs is too old; use NodeSource or nvm)" >&2
  exit 1
fi
if ! node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"; then
  echo "holdfast needs Node.js >= $need_node, found $(node --version)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# python3, make and g++ build better-sqlite3 and native/ (no prebuilt binaries are fetched).
packages=(python3 make g++ restic rsync rclone openssh-server openssh-client git prometheus util-linux procps openssl ca-certificates systemd gzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run build
