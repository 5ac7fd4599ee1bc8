#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need
# when it is missing (Debian's Chromium and ChromeDriver, for the browser
# tests, and openssl; needs apt-get, and sudo unless run as root), then runs
# every test.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -- --skip browser::`.
# CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ -n "${CORSGATE_CHROMIUM:-}" ] && [ -n "${CORSGATE_CHROMEDRIVER:-}" ]; then
        : # the browser tests use these instead
    elif command -v apt-get >/dev/null; then
        echo "== installing Chromium and ChromeDriver (Debian packages) for the browser tests"
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "scripts/test.sh: the browser tests need Chromium and ChromeDriver; no apt-get here:" >&2
        echo "  install them, or set CORSGATE_CHROMIUM and CORSGATE_CHROMEDRIVER to their paths" >&2
        exit 2
    fi
fi
# The README's certificate recipe is run by a test: it needs the openssl command.
if ! command -v openssl >/dev/null; then
    if command -v apt-get >/dev/null; then
        echo "== installing openssl (Debian package) for the README's certificate test"
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >/dev/null
    else
        echo "scripts/test.sh: the tests need the openssl command; install it" >&2
        exit 2
    fi
fi
# Without them the browser tests fail (they never skip): say which are used.
if [ -z "${CORSGATE_CHROMIUM:-}" ]; then chromium --version 2>/dev/null || true; fi
if [ -z "${CORSGATE_CHROMEDRIVER:-}" ]; then chromedriver --version || true; fi

echo "== cargo test --workspace --all-features $*"
exec cargo test --workspace --all-features "$@"
