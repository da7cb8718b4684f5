#!/usr/bin/env bash
# Build the web face's vendored front-end assets.
#
# Installs the pinned npm dependencies from web/ and copies MapLibre GL JS
# (script, stylesheet, licence) and Apache ECharts (minified script, licence,
# notice) into the Python package's static files, so the pages never need a
# CDN at run time (closed government network).
#
# Output (build artefact, git-ignored):
#   src/landcycle/faces/web/static/vendor/maplibre-gl/{maplibre-gl.js,maplibre-gl.css,LICENSE.txt,VERSION}
#   src/landcycle/faces/web/static/vendor/echarts/{echarts.min.js,LICENSE,NOTICE,VERSION}
#
# Idempotent: does nothing if the vendored files exist and are newer than
# web/package-lock.json. Use --force to rebuild anyway.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB_DIR="$ROOT/web"
LOCK="$WEB_DIR/package-lock.json"
DIST="$WEB_DIR/node_modules/maplibre-gl/dist"
VENDOR="$ROOT/src/landcycle/faces/web/static/vendor/maplibre-gl"
FILES=(maplibre-gl.js maplibre-gl.css LICENSE.txt)
# Apache ECharts (dashboard charts): the UMD bundle with zrender inside, its licence and notice.
ECHARTS_DIST="$WEB_DIR/node_modules/echarts"
ECHARTS_VENDOR="$ROOT/src/landcycle/faces/web/static/vendor/echarts"
ECHARTS_FILES=(dist/echarts.min.js LICENSE NOTICE)

force=0
for arg in "$@"; do
  case "$arg" in
    -f|--force) force=1 ;;
    -h|--help)
      echo "usage: $0 [--force]"
      exit 0 ;;
    *)
      echo "build_static: unknown argument: $arg" >&2
      exit 2 ;;
  esac
done

log() { printf 'build_static: %s\n' "$*" >&2; }

# Are all vendored files present and newer than the lock file (or package.json
# when there is no lock yet)?
up_to_date() {
  local ref="$LOCK" f
  [[ -f "$ref" ]] || ref="$WEB_DIR/package.json"
  for f in "${FILES[@]}"; do
    [[ -s "$VENDOR/$f" && "$VENDOR/$f" -nt "$ref" ]] || return 1
  done
  for f in "${ECHARTS_FILES[@]}"; do
    f="$(basename "$f")"
    [[ -s "$ECHARTS_VENDOR/$f" && "$ECHARTS_VENDOR/$f" -nt "$ref" ]] || return 1
  done
}

if [[ "$force" -eq 0 ]] && up_to_date; then
  log "vendor files up to date in ${VENDOR#"$ROOT"/} and ${ECHARTS_VENDOR#"$ROOT"/}; nothing to do (use --force to rebuild)"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { log "npm not found on PATH (need node >= 18)"; exit 1; }

cd "$ROOT"
if [[ -f "$LOCK" ]]; then
  log "npm ci --prefix web"
  npm ci --prefix web --no-audit --no-fund
else
  log "no web/package-lock.json; npm install --prefix web"
  npm install --prefix web --no-audit --no-fund
fi

for f in "${FILES[@]}"; do
  [[ -s "$DIST/$f" ]] || { log "missing $DIST/$f after npm install"; exit 1; }
done
for f in "${ECHARTS_FILES[@]}"; do
  [[ -s "$ECHARTS_DIST/$f" ]] || { log "missing $ECHARTS_DIST/$f after npm install"; exit 1; }
done

# Copy into a temporary directory first, then swap in, so a failed copy never
# leaves a half-written vendor folder behind.
mkdir -p "$(dirname "$VENDOR")"
tmp="$(mktemp -d "$(dirname "$VENDOR")/.maplibre-gl.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for f in "${FILES[@]}"; do
  cp "$DIST/$f" "$tmp/$f"
done
# Record which version was vendored (read from the installed package).
node -e 'process.stdout.write(require(process.argv[1]).version + "\n")' \
  "$WEB_DIR/node_modules/maplibre-gl/package.json" > "$tmp/VERSION"
# cp gives fresh mtimes, so the files are now newer than the lock file.
touch "$tmp"/*
rm -rf "$VENDOR"
mv "$tmp" "$VENDOR"
chmod 755 "$VENDOR"
trap - EXIT

log "vendored maplibre-gl $(cat "$VENDOR/VERSION") into ${VENDOR#"$ROOT"/}"

# ECharts: same swap-in of a complete folder.
etmp="$(mktemp -d "$(dirname "$ECHARTS_VENDOR")/.echarts.tmp.XXXXXX")"
trap 'rm -rf "$etmp"' EXIT
for f in "${ECHARTS_FILES[@]}"; do
  cp "$ECHARTS_DIST/$f" "$etmp/$(basename "$f")"
done
node -e 'process.stdout.write(require(process.argv[1]).version + "\n")' \
  "$ECHARTS_DIST/package.json" > "$etmp/VERSION"
touch "$etmp"/*
rm -rf "$ECHARTS_VENDOR"
mv "$etmp" "$ECHARTS_VENDOR"
chmod 755 "$ECHARTS_VENDOR"
trap - EXIT

log "vendored echarts $(cat "$ECHARTS_VENDOR/VERSION") into ${ECHARTS_VENDOR#"$ROOT"/}"
