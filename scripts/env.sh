# Sourced by scripts/serve and scripts/test: make .venv and install the project.
# It installs only when .venv is new or pyproject.toml changed since the last
# install with these extras (the project is installed editable: code edits
# need no reinstall; remove .venv/.installed-* to force one), and then says so
# and shows pip's output; otherwise it is quiet and quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "stormproof needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
fi
EXTRAS=${STORMPROOF_EXTRAS:-}
INSTALLED=$(.venv/bin/python -c 'import hashlib, sys
print(sys.version, hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
# Without extras, an install with any extras will do.
if [ -n "$EXTRAS" ]; then STAMPS=".venv/.installed-$EXTRAS"; else STAMPS=".venv/.installed-*"; fi
# shellcheck disable=SC2086  # STAMPS may be a glob
if ! cat $STAMPS 2>/dev/null | grep -qxF "$INSTALLED"; then
    echo "installing stormproof${EXTRAS:+[$EXTRAS]} and its dependencies into .venv" \
        "(first run: about a minute)…"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on \
        -e ".${EXTRAS:+[$EXTRAS]}"
    echo "$INSTALLED" > ".venv/.installed-${EXTRAS:-base}"
    echo "installed: .venv is ready"
fi
# The web app (web/, ADR 029): its npm packages when package-lock.json changed
# since they were installed, and a build when any of its sources changed since
# the last one; quiet otherwise. Without npm the regions serve a page that says
# the app is not built.
WEB_BUILT=src/stormproof/web/dist/.built
web_sources() {
    find web -path web/node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum | sha256sum
}
if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: the web app is not built (install Node.js 20 or newer and npm)" >&2
elif ! cmp -s web/package-lock.json web/node_modules/.stormproof-lock 2>/dev/null \
        || [ ! -f "$WEB_BUILT" ] || [ "$(web_sources)" != "$(cat "$WEB_BUILT")" ]; then
    if ! cmp -s web/package-lock.json web/node_modules/.stormproof-lock 2>/dev/null; then
        echo "installing the web app's packages (npm ci)…"
        (cd web && npm ci --no-audit --no-fund --loglevel=error)
        cp web/package-lock.json web/node_modules/.stormproof-lock
    fi
    echo "building the web app (vite build)…"
    (cd web && npm run --silent build -- --logLevel warn)
    web_sources > "$WEB_BUILT"
fi
