#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need
# when it is missing (Debian's Chromium, Firefox ESR and WebKitGTK, for the
# browser tests, nginx, HAProxy and Caddy for the export tests, and openssl; needs apt-get, and sudo unless run as root), then runs
# every test.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -- --skip browser::`.
# CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser suite runs in Chromium (ChromeDriver), Firefox ESR (WebDriver
# BiDi) and WebKitGTK (WebKitWebDriver and MiniBrowser, on Xvfb): the Debian
# packages each needs, unless an environment variable names the program.
missing=()
need() { # need ENV_VAR PATH PACKAGE
    if [ -z "${!1:-}" ] && ! [ -x "$2" ]; then missing+=("$3"); fi
}
need CORSGATE_CHROMIUM /usr/bin/chromium chromium
need CORSGATE_CHROMEDRIVER /usr/bin/chromedriver chromium-driver
need CORSGATE_FIREFOX /usr/bin/firefox-esr firefox-esr
need CORSGATE_WEBKITWEBDRIVER /usr/bin/WebKitWebDriver webkit2gtk-driver
need CORSGATE_XVFB /usr/bin/Xvfb xvfb
# `corsgate export`'s tests run the edge servers it writes for.
need CORSGATE_NGINX /usr/sbin/nginx nginx
need CORSGATE_HAPROXY /usr/sbin/haproxy haproxy
need CORSGATE_CADDY /usr/bin/caddy caddy
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        echo "== installing ${missing[*]} (Debian packages) for the browser and export tests"
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        # Packaged servers (nginx, HAProxy, Caddy) must not start as system services here:
        # the tests start their own, on free loopback ports.
        no_start=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            no_start=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' | $sudo tee "$no_start" >/dev/null
            $sudo chmod +x "$no_start"
        fi
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
        if [ -n "$no_start" ]; then $sudo rm -f "$no_start"; fi
    else
        echo "scripts/test.sh: the tests need ${missing[*]}; no apt-get here:" >&2
        echo "  install them, or set CORSGATE_CHROMIUM, CORSGATE_CHROMEDRIVER, CORSGATE_FIREFOX," >&2
        echo "  CORSGATE_WEBKITWEBDRIVER, CORSGATE_MINIBROWSER, CORSGATE_XVFB, CORSGATE_NGINX and" >&2
        echo "  CORSGATE_HAPROXY, CORSGATE_CADDY to their paths" >&2
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
"${CORSGATE_CHROMIUM:-chromium}" --version 2>/dev/null || true
"${CORSGATE_CHROMEDRIVER:-chromedriver}" --version || true
"${CORSGATE_FIREFOX:-firefox-esr}" --version 2>/dev/null || true
dpkg-query -W -f='WebKitGTK ${Version}\n' webkit2gtk-driver 2>/dev/null || true

echo "== cargo test --workspace --all-features $*"
exec cargo test --workspace --all-features "$@"
