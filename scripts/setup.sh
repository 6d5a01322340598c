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
# faketime: the reliability suite steps the wall clock of a running daemon with libfaketime (R11).
# postgresql, mariadb-server: the dump steps' tests and the fleet store start private servers of their
# own (in a temp dir, on a unix socket / 127.0.0.1) from these binaries; the system clusters stay off.
# chromium: the dashboard's end-to-end tests drive Debian's Chromium through playwright-core (no
# browser download); fonts-dejavu-core gives its screenshots readable text.
# nginx-light: the dashboard's reverse-proxy recipe (docs/recipes.md) is tested with a real nginx.
packages=(python3 make g++ restic rsync rclone openssh-server openssh-client git prometheus util-linux procps openssl ca-certificates systemd gzip time faketime
  postgresql mariadb-server mariadb-client chromium fonts-dejavu-core nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# restic 0.18 for the tests' second pass (test/helpers/restic-version.ts): Debian trixie's package, fetched
# with apt's own tools into a private directory — its own sources list, lists, cache and archives — so
# nothing system-wide changes and Debian 12's restic 0.14 stays /usr/bin/restic. The trixie binary is
# static Go and runs on Debian 12. Skipped when it is already there.
restic18_root=${HOLDFAST_RESTIC18_ROOT:-/opt/holdfast-tools/restic-0.18}
restic18="$restic18_root/usr/bin/restic"
if "$restic18" version 2>/dev/null | grep -q '^restic 0\.18\.'; then
  echo "restic 0.18: $("$restic18" version)"
else
  apt_dir="$(dirname "$restic18_root")/apt-trixie"
  mirror=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(https?|ftp):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "fetching restic 0.18 from Debian trixie ($mirror) into $restic18_root"
  $SUDO mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" | $SUDO tee "$apt_dir/sources.list" >/dev/null
  # apt downloads as the unprivileged _apt user: it must be able to write there, or apt warns and
  # falls back to root.
  if id _apt >/dev/null 2>&1; then $SUDO chown -R _apt:root "$apt_dir"; fi
  apt_private=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::Archives=$apt_dir/archives")
  $SUDO apt-get -qq "${apt_private[@]}" update
  $SUDO rm -f "$apt_dir"/restic_*.deb
  (cd "$apt_dir" && $SUDO apt-get -qq "${apt_private[@]}" download restic)
  deb=$(ls "$apt_dir"/restic_0.18*.deb 2>/dev/null | head -1)
  if [ -z "$deb" ]; then
    echo "Debian trixie's restic is not 0.18 any more: $(ls "$apt_dir"/restic_*.deb 2>/dev/null)" >&2
    exit 1
  fi
  $SUDO rm -rf "$restic18_root" && $SUDO mkdir -p "$restic18_root"
  $SUDO dpkg-deb -x "$deb" "$restic18_root"
  echo "restic 0.18: $("$restic18" version)"
fi

npm ci --no-audit --no-fund
npm run build
