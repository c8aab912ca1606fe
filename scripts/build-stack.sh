#!/usr/bin/env bash
# Build or install the binaries of the local telemetry stack (no Docker needed):
#   ddex-otelcol  OpenTelemetry Collector from collector/otelcol (Go module, go.sum pinned)
#   jaeger        Jaeger v2 from collector/jaeger (wrapper module around jaeger v1.76.0 = 2.13)
#   prometheus    + promtool from Debian's `prometheus` package (apt-get if missing)
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

install_prometheus() {
    if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
        say "prometheus: not installed, installing Debian package 'prometheus' ..."
        command -v apt-get >/dev/null 2>&1 || die "prometheus missing and apt-get unavailable: install prometheus + promtool (2.42+)"
        local sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        $sudo apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus \
            || die "apt-get install prometheus failed"
        # The package enables a system service; the stack runs its own instance instead.
        $sudo service prometheus stop >/dev/null 2>&1 || true
    fi
    ln -sfn "$(command -v prometheus)" "$BIN/prometheus"
    ln -sfn "$(command -v promtool)" "$BIN/promtool"
    say "prometheus: $("$BIN/prometheus" --version 2>&1 | head -n1)"
}

# Redis: the Celery broker of the distributed batch (ddex_otel.distributed, docs/scale-out.md). Tests and
# `ddex-otel stack up --with-queue` start their own redis-server on a free port; the package's own
# system service is stopped so nothing listens on 6379 unasked.
install_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        say "redis: not installed, installing Debian package 'redis-server' ..."
        command -v apt-get >/dev/null 2>&1 || die "redis-server missing and apt-get unavailable: install redis-server (6+)"
        local sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        $sudo apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server \
            || die "apt-get install redis-server failed"
        $sudo service redis-server stop >/dev/null 2>&1 || true
    fi
    ln -sfn "$(command -v redis-server)" "$BIN/redis-server"
    say "redis: $("$BIN/redis-server" --version 2>&1 | head -n1)"
}

build_go ddex-otelcol collector/otelcol .
build_go jaeger collector/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
install_prometheus
install_redis

if [[ "${1:-}" == "--print-bin-dir" ]]; then
    printf '%s\n' "$BIN"
fi
say "ready: $BIN"
