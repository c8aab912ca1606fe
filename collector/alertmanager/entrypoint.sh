#!/bin/sh
# docker compose entrypoint of the alertmanager service: render alertmanager.yml from DDEX_ALERT_*
# variables (Alertmanager 0.25 does not expand them itself), then exec Alertmanager on the copy.
# Same marker rules as the local stack's renderer (src/ddex_otel/stack/alert_settings.py; a test runs both
# and compares): `# ddex-env: VAR` lines take $VAR, `# ddex-if: VAR` ... `# ddex-end` blocks need $VAR.
# The rendered config holds secrets: mode 0600, inside the container only, never printed.
#   entrypoint.sh [ALERTMANAGER FLAGS...]   render into $DDEX_ALERT_RUN_DIR, run alertmanager
#   entrypoint.sh --render FILE             print the rendered FILE (used by the tests)
set -eu

SRC_DIR="${DDEX_ALERT_CONFIG_DIR:-/etc/alertmanager/ddex}"
RUN_DIR="${DDEX_ALERT_RUN_DIR:-/alertmanager}"

render() {
    awk '
    function squote(v) { gsub(/\047/, "\047\047", v); return "\047" v "\047" }
    /^[ \t]*# ddex-if: [A-Z_][A-Z0-9_]*[ \t]*$/ { skip = (ENVIRON[$NF] == ""); next }
    /^[ \t]*# ddex-end[ \t]*$/ { skip = 0; next }
    skip { next }
    /[ \t]# ddex-env: [A-Z_][A-Z0-9_]*[ \t]*$/ {
        var = $NF
        val = ENVIRON[var]
        if (val != "") {
            i = index($0, ": ")
            prefix = substr($0, 1, i + 1)
            rest = substr($0, i + 2)
            if (substr(rest, 1, 1) == "\047") val = squote(val)
            $0 = prefix val "  # ddex-env: " var
        }
    }
    { print }
    ' "$1"
}

if [ "${1:-}" = "--render" ]; then
    render "$2"
    exit 0
fi

umask 077
mkdir -p "$RUN_DIR/templates"
render "$SRC_DIR/alertmanager.yml" > "$RUN_DIR/alertmanager.yml.tmp"
mv "$RUN_DIR/alertmanager.yml.tmp" "$RUN_DIR/alertmanager.yml"
cp "$SRC_DIR"/templates/*.tmpl "$RUN_DIR/templates/"
exec /bin/alertmanager --config.file="$RUN_DIR/alertmanager.yml" --storage.path="$RUN_DIR/data" "$@"
