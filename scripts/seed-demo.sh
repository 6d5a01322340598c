#!/usr/bin/env bash
# Runs the seed's pipeline (examples/seed.yaml) on planted sample data:
#
#   scripts/seed-demo.sh [DIR]            plant (once), start a REST server, run backup-job, status, stop
#   scripts/seed-demo.sh --plant-only DIR plant the sample data and secrets only (the e2e test uses this)
#
# DIR defaults to /tmp/holdfast-seed-demo. Running it again reuses the planted data and both
# repositories (change something under DIR/home/sig and watch the manifest diff). Needs restic,
# rclone, rsync, git and a built holdfast (npm run build); HOLDFAST overrides the command.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
plant_only=0
if [ "${1:-}" = "--plant-only" ]; then
  plant_only=1
  shift
fi
demo="${1:-/tmp/holdfast-seed-demo}"
mkdir -p "$demo"
demo="$(cd "$demo" && pwd)"
export HOLDFAST_DEMO="$demo"
config="$here/examples/seed.yaml"
read -r -a holdfast <<<"${HOLDFAST:-node $here/dist/cli/main.js}"

say() { printf '\n== %s\n' "$*"; }

for tool in git restic rclone rsync node; do
  command -v "$tool" >/dev/null || {
    echo "seed-demo: $tool is not installed (Debian/Ubuntu: apt install restic rclone rsync git)" >&2
    exit 2
  }
done
if [ -z "${HOLDFAST:-}" ] && [ ! -f "$here/dist/cli/main.js" ]; then
  echo "seed-demo: holdfast is not built: run \`npm run build\` in $here (or set HOLDFAST=holdfast)" >&2
  exit 2
fi

git_in() {
  local dir="$1"
  shift
  git -C "$dir" -c user.name="Sig Demo" -c user.email="sig@example.invalid" -c init.defaultBranch=main \
    -c commit.gpgsign=false "$@"
}

plant() {
  local home="$demo/home/sig"
  say "planting sample data in $demo"
  mkdir -p "$home/Documents/taxes" "$home/Pictures/2025" "$home/.cache/thumbs" "$home/Sync/Logseq/pages" \
    "$home/Sync/Logseq/journals" "$home/src" "$demo/remotes" "$demo/backups"
  touch "$home/.holdfast-sentinel"
  echo "dotfiles matter too" >"$home/.bashrc"
  for i in $(seq 1 12); do
    printf 'note %s\n%s\n' "$i" "$(date -u +%F)" >"$home/Documents/note-$i.txt"
  done
  for y in 2023 2024 2025; do printf 'income %s: 42\n' "$y" >"$home/Documents/taxes/$y.txt"; done
  for i in $(seq 1 6); do head -c $((20000 + i * 3000)) /dev/urandom >"$home/Pictures/2025/img-$i.jpg"; done
  head -c 50000 /dev/urandom >"$home/.cache/thumbs/big.cache" # excluded from the backups
  printf -- '- [[holdfast]] runs the whole pipeline\n' >"$home/Sync/Logseq/pages/holdfast.md"
  printf -- '- backup drill passed\n' >"$home/Sync/Logseq/journals/2025_07_20.md"
  printf -- '- moved the NAS\n' >"$home/Sync/Logseq/journals/2025_07_21.md"

  # Three git repositories: clean and pushed, one unpushed commit, no remote at all.
  for name in dotfiles notes; do git init -q --bare --initial-branch=main "$demo/remotes/$name.git"; done
  local clean="$home/src/dotfiles" unpushed="$home/src/notes" local_only="$home/src/scratch"
  git_in "$home/src" clone -q "$demo/remotes/dotfiles.git" dotfiles 2>/dev/null
  echo "set -o vi" >"$clean/inputrc"
  git_in "$clean" add -A && git_in "$clean" commit -q -m "inputrc"
  git_in "$clean" push -q -u origin HEAD 2>/dev/null
  git_in "$home/src" clone -q "$demo/remotes/notes.git" notes 2>/dev/null
  echo "# notes" >"$unpushed/README.md"
  git_in "$unpushed" add -A && git_in "$unpushed" commit -q -m "start notes"
  git_in "$unpushed" push -q -u origin HEAD 2>/dev/null
  echo "an idea that exists nowhere else" >"$unpushed/idea.md"
  git_in "$unpushed" add -A && git_in "$unpushed" commit -q -m "unpushed idea"
  mkdir -p "$local_only"
  git_in "$local_only" init -q
  echo "print('hi')" >"$local_only/hello.py"
  git_in "$local_only" add -A && git_in "$local_only" commit -q -m "scratch"

  # Secrets: 0600 files, outside the config.
  mkdir -p "$demo/secrets" "$demo/repos"
  chmod 700 "$demo/secrets"
  (
    umask 077
    head -c 24 /dev/urandom | base64 >"$demo/secrets/local.pass"
    head -c 24 /dev/urandom | base64 >"$demo/secrets/backblaze.pass"
    echo "$demo/repos/local" >"$demo/secrets/local.url"
  )
  touch "$demo/.planted"
}

[ -e "$demo/.planted" ] || plant
[ "$plant_only" = 1 ] && exit 0

# A REST server on 127.0.0.1 stands in for Backblaze (restic's REST protocol, served by rclone).
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
mkdir -p "$demo/rest-data"
rclone serve restic "$demo/rest-data" --addr "127.0.0.1:$port" >"$demo/rclone.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
(
  umask 077
  echo "rest:http://127.0.0.1:$port/backblaze" >"$demo/secrets/backblaze.url"
)

say "restic repositories"
export RESTIC_CACHE_DIR="$demo/restic-cache"
for repo in local backblaze; do
  if RESTIC_REPOSITORY_FILE="$demo/secrets/$repo.url" RESTIC_PASSWORD_FILE="$demo/secrets/$repo.pass" \
    restic cat config >/dev/null 2>&1; then
    echo "$repo: exists"
  else
    RESTIC_REPOSITORY_FILE="$demo/secrets/$repo.url" RESTIC_PASSWORD_FILE="$demo/secrets/$repo.pass" \
      restic init -q && echo "$repo: created"
  fi
done

say "holdfast run backup-job"
rc=0
"${holdfast[@]}" --config "$config" run backup-job || rc=$?
say "holdfast status"
"${holdfast[@]}" --config "$config" status || true
echo
echo "demo data, repositories and state: $demo (run again to see a second run; rm -rf it to start over)"
exit "$rc"
