#!/usr/bin/env bash
# Build or install the binaries of the local telemetry stack (no Docker needed):
#   ddex-otelcol  OpenTelemetry Collector from collector/otelcol (Go module, go.sum pinned)
#   jaeger        Jaeger v2 from collector/jaeger (wrapper module around jaeger v1.76.0 = 2.13)
#   prometheus    + promtool from Debian's `prometheus` package (apt-get if missing)
#   alertmanager  + amtool from Debian's `prometheus-alertmanager` package (0.25; apt-get if missing)
#   jaeger-ui     the official Jaeger UI build (static files) for the local Jaeger, unpacked from
#                 $DDEX_OTEL_JAEGER_UI (a .tgz; a directory is used in place) or ../shared/jaeger-ui/;
#                 optional: without it the local Jaeger serves a placeholder page (its API works)
#   chromium      Debian's `chromium` for the browser tests (apt-get if /usr/bin/chromium is missing)
#   redis-server  from Debian's `redis-server` package (apt-get if missing): the Celery broker
# Binaries land in ${DDEX_OTEL_CACHE:-$HOME/.cache/ddex-otel}/bin, keyed by a hash of the module
# files and the Go version: a second run finds them and returns at once. Idempotent; fails loudly.
# Usage: scripts/build-stack.sh [--print-bin-dir]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DDEX_OTEL_CACHE:-$HOME/.cache/ddex-otel}"
BIN="$CACHE/bin"

say() { printf '[build-stack] %s\n' "$*" >&2; }
die() { printf '[build-stack] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN"
# One build at a time per cache (parallel test sessions share it).
exec 9>"$CACHE/build.lock"
flock 9

go_version() {
    command -v go >/dev/null 2>&1 || die "go not found on PATH: install Go >= 1.26 (the collector modules need it)"
    GOTOOLCHAIN=local go env GOVERSION
}

# build_go NAME MODULE_DIR PACKAGE: build MODULE_DIR's PACKAGE into $BIN/NAME-<key>, link $BIN/NAME to it.
build_go() {
    local name="$1" dir="$ROOT/$2" pkg="$3" gover key target tmp start
    [[ -f "$dir/go.mod" && -f "$dir/go.sum" ]] || die "$dir/go.mod or go.sum missing"
    gover="$(go_version)"
    key="$( { printf '%s\n' "$gover" "$pkg"; cat "$dir"/go.mod "$dir"/go.sum; cat "$dir"/*.go 2>/dev/null || true; } \
            | sha256sum | cut -c1-16)"
    target="$BIN/$name-$key"
    if [[ -x "$target" ]]; then
        say "$name: cached ($target)"
    else
        say "$name: building from $2 with $gover (several minutes on 2 cores the first time) ..."
        start=$(date +%s)
        tmp="$target.tmp.$$"
        (
            cd "$dir"
            export GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
            go build -ldflags='-s -w' -o "$tmp" "$pkg"
        ) || { rm -f "$tmp"; die "$name: go build failed in $dir (see the output above)"; }
        mv -f "$tmp" "$target"
        say "$name: built in $(( $(date +%s) - start ))s -> $target"
        # Drop binaries of older keys: each is ~100 MB.
        find "$BIN" -maxdepth 1 -name "$name-*" ! -name "$name-$key" -type f -delete
    fi
    ln -sfn "$(basename "$target")" "$BIN/$name"
}

# apt_install PACKAGE [SERVICE]: install one Debian package (apt-get update once per run); stop the
# system SERVICE the package starts, since the stack runs its own instances.
APT_UPDATED=""
apt_install() {
    local package="$1" service="${2:-}" sudo=""
    command -v apt-get >/dev/null 2>&1 || die "$package missing and apt-get unavailable: install it by hand"
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    if [[ -z "$APT_UPDATED" ]]; then
        $sudo apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" \
        || die "apt-get install $package failed"
    if [[ -n "$service" ]]; then
        $sudo service "$service" stop >/dev/null 2>&1 || true
    fi
}

install_prometheus() {
    if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
        say "prometheus: not installed, installing Debian package 'prometheus' ..."
        apt_install prometheus prometheus
    fi
    ln -sfn "$(command -v prometheus)" "$BIN/prometheus"
    ln -sfn "$(command -v promtool)" "$BIN/promtool"
    say "prometheus: $("$BIN/prometheus" --version 2>&1 | head -n1)"
}

# Redis: the Celery broker of the distributed batch (ddex_otel.distributed, docs/scale-out.md). Tests and
# `ddex-otel fleet up` start their own redis-server on a free port; the package's system service is
# stopped so nothing listens on 6379 unasked.
install_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        say "redis: not installed, installing Debian package 'redis-server' ..."
        apt_install redis-server redis-server
    fi
    ln -sfn "$(command -v redis-server)" "$BIN/redis-server"
    say "redis: $("$BIN/redis-server" --version 2>&1 | head -n1)"
}

install_alertmanager() {
    # Debian names the server prometheus-alertmanager; an upstream install names it alertmanager.
    local server
    server="$(command -v alertmanager || command -v prometheus-alertmanager || true)"
    if [[ -z "$server" ]] || ! command -v amtool >/dev/null 2>&1; then
        say "alertmanager: not installed, installing Debian package 'prometheus-alertmanager' (~11 MB) ..."
        apt_install prometheus-alertmanager prometheus-alertmanager
        server="$(command -v alertmanager || command -v prometheus-alertmanager)" \
            || die "prometheus-alertmanager installed but no alertmanager binary on PATH"
    fi
    ln -sfn "$server" "$BIN/alertmanager"
    ln -sfn "$(command -v amtool)" "$BIN/amtool"
    say "alertmanager: $("$BIN/alertmanager" --version 2>&1 | head -n1)"
}

# Headless chromium for the tests that open pages (HTML reports, the Jaeger UI) in a real browser,
# driven by Playwright with the system browser (never a browser download).
install_chromium() {
    if [[ ! -x /usr/bin/chromium ]]; then
        say "chromium: not installed, installing Debian package 'chromium' (~125 MB download) ..."
        apt_install chromium
    fi
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
}

# install_jaeger_ui: unpack the Jaeger UI build into $CACHE/jaeger-ui-<version>/ (re-unpacked when the
# archive changes) and link $CACHE/jaeger-ui to it; `ddex-otel stack up` points Jaeger's
# extensions.jaeger_query.ui.assets_path there. Never fails the build: it says what is missing.
JAEGER_UI_TGZ="jaeger-ui-v1.76.0-build.tgz"  # the UI that Jaeger 2.13 (module v1.76.0) pins
install_jaeger_ui() {
    local src="${DDEX_OTEL_JAEGER_UI:-}" name dir sum tmp start
    local hint="the local Jaeger will serve a placeholder page instead of its UI (the API works). To add the UI,"
    hint+=" put ../shared/jaeger-ui/$JAEGER_UI_TGZ beside the repository or set DDEX_OTEL_JAEGER_UI to a Jaeger UI"
    hint+=" build (a directory with index.html, or its .tgz), then run scripts/build-stack.sh again"
    if [[ -n "$src" && -d "$src" ]]; then
        if [[ -f "$src/index.html" ]]; then say "jaeger-ui: using the directory $src (DDEX_OTEL_JAEGER_UI)"
        else say "jaeger-ui: WARNING: DDEX_OTEL_JAEGER_UI=$src has no index.html: $hint"; fi
        return 0
    fi
    if [[ -z "$src" ]]; then
        src="$ROOT/../shared/jaeger-ui/$JAEGER_UI_TGZ"
        [[ -f "$src" ]] || { say "jaeger-ui: not installed, no $src: $hint"; return 0; }
    elif [[ ! -f "$src" ]]; then
        say "jaeger-ui: WARNING: DDEX_OTEL_JAEGER_UI=$src is neither a directory nor a file: $hint"; return 0
    fi
    name="$(basename "$src")"; name="${name%.tgz}"; name="${name%.tar.gz}"; name="${name%-build}"
    dir="$CACHE/$name"
    sum="$(sha256sum "$src" | cut -c1-64)"
    if [[ -f "$dir/index.html" && "$(cat "$dir/.source-sha256" 2>/dev/null)" == "$sum" ]]; then
        say "jaeger-ui: cached ($dir)"
    else
        start=$(date +%s%N)
        tmp="$dir.tmp.$$"
        rm -rf "$tmp" && mkdir -p "$tmp"
        if tar -xzf "$src" -C "$tmp" --no-same-owner && [[ -f "$tmp/index.html" ]]; then
            printf '%s\n' "$sum" >"$tmp/.source-sha256"
            rm -rf "$dir" && mv "$tmp" "$dir"
            say "jaeger-ui: unpacked $src in $(( ($(date +%s%N) - start) / 1000000 )) ms -> $dir"
        else
            rm -rf "$tmp"
            say "jaeger-ui: WARNING: $src is not a Jaeger UI build (.tgz with index.html at its root): $hint"
            return 0
        fi
    fi
    ln -sfn "$name" "$CACHE/jaeger-ui"
}

build_go ddex-otelcol collector/otelcol .
build_go jaeger collector/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
install_prometheus
install_alertmanager
install_jaeger_ui
install_chromium
install_redis

if [[ "${1:-}" == "--print-bin-dir" ]]; then
    printf '%s\n' "$BIN"
fi
say "ready: $BIN"
