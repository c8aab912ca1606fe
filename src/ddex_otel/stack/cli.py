"""`ddex-otel stack build|up|down|status`: build and run the local collector, Jaeger, Prometheus, Alertmanager."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from . import build, jaegerui, overlay_stack, paths
from .alert_settings import AlertSettings
from .errors import StackError
from .links import ENV_JAEGER_URL, ENV_LOGS_URL
from .local import ComponentStatus, Endpoints, LocalStack
from .ports import Ports


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `stack` command (with up/down/status) to the top-level CLI's subparsers."""
    stack = subparsers.add_parser(
        "stack", help="run the local telemetry stack (collector, Jaeger, Prometheus, Alertmanager)")
    sub = stack.add_subparsers(dest="stack_command", required=True)

    make = sub.add_parser(
        "build", help="build or find the stack's binaries (Go builds of the collector and Jaeger, Debian's "
                      "prometheus and alertmanager, the Jaeger UI); cached, a second run returns at once")
    make.add_argument("--jaeger-ui", type=Path, metavar="PATH",
                      help="an official Jaeger UI build (a directory with index.html, or its .tgz); remembered")
    make.add_argument("--browser", action="store_true",
                      help="also install Debian's chromium (the browser tests use it)")
    make.add_argument("--broker", action="store_true",
                      help="also install Debian's redis-server (the Celery broker of `ddex-otel fleet`)")
    make.add_argument("--print-bin-dir", action="store_true", help="print the bin dir on stdout at the end")
    make.set_defaults(func=_build)

    up = sub.add_parser("up", help="start the stack and wait until every component is healthy")
    _run_dir_arg(up)
    up.add_argument("--free-ports", action="store_true", help="pick free ports instead of the defaults")
    up.add_argument("--build", action="store_true", help="run `ddex-otel stack build` first, without asking")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each component")
    for field in dataclasses.fields(Ports):
        flag = "--" + field.name.replace("_", "-") + "-port"
        up.add_argument(flag, dest=field.name, type=int, metavar="PORT", help=f"default {field.default}")
    _alert_args(up)
    overlay_stack.add_arguments(up)
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop the processes `stack up` started")
    _run_dir_arg(down)
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="show each component, its pid and health, every URL, and the Jaeger UI")
    _run_dir_arg(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
    overlay_stack.register_overlay_command(sub)
    stack.set_defaults(func=_dispatch_error(stack))
    return stack


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (`python -m ddex_otel.stack.cli up`)."""
    parser = argparse.ArgumentParser(prog="ddex-otel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _run_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, default=None,
                        help=f"configs, logs and state (default {paths.default_run_dir()})")


# AlertSettings field -> (metavar, help); the flag and the DDEX_ALERT_* variable are the field's (alert_settings.py).
_ALERT_HELP = {
    "email_to": ("ADDRS", "e-mail critical alerts to these addresses (comma-separated)"),
    "smtp_smarthost": ("HOST:PORT", "SMTP server for e-mail (default localhost:25)"),
    "smtp_from": ("ADDR", "sender address (default ddex-otel-alerts@localhost)"),
    "smtp_username": ("USER", "SMTP login (the password: DDEX_ALERT_SMTP_PASSWORD only)"),
    "smtp_require_tls": ("true|false", "require STARTTLS (default true)"),
    "slack_webhook_url": ("URL", "Slack incoming webhook (a secret: prefer DDEX_ALERT_SLACK_WEBHOOK_URL, "
                                 "command lines are visible)"),
    "webhook_url": ("URL", "generic webhook receiving Alertmanager's JSON"),
    "jaeger_url": ("URL", "Jaeger UI the alerts link to (default this stack's Jaeger)"),
    "parse_p95_seconds": ("SECONDS", "parse p95 latency threshold (default 5)"),
    "build_p95_seconds": ("SECONDS", "build p95 latency threshold (default 10)"),
    "error_ratio": ("RATIO", "failed/all operations threshold (default 0.05)"),
    "memory_bytes": ("BYTES", "process memory threshold (default 1073741824)"),
    "rule_for": ("DURATION", "how long a condition holds before it fires (default 5m)"),
    "rule_window": ("DURATION", "rate window of the rules (default 5m)"),
    "group_wait": ("DURATION", "Alertmanager group_wait (default 30s)"),
    "group_interval": ("DURATION", "Alertmanager group_interval (default 5m)"),
    "repeat_interval": ("DURATION", "Alertmanager repeat_interval (default 4h)"),
    "resolve_timeout": ("DURATION", "Alertmanager resolve_timeout (default 5m)"),
}


def _alert_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(AlertSettings) if f.metadata["flag"]]


def _alert_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "alerts", "where Alertmanager sends alerts and when they fire; each option also reads "
                  "DDEX_ALERT_<NAME> (e.g. DDEX_ALERT_EMAIL_TO), the option wins")
    for f in sorted(_alert_fields(), key=lambda f: list(_ALERT_HELP).index(f.name)):
        metavar, help_text = _ALERT_HELP[f.name]
        group.add_argument(f.metadata["flag"], dest=f"alert_{f.name}", metavar=metavar, help=help_text,
                           type=float if f.metadata["kind"] == "number" else str)


def _alert_settings(args: argparse.Namespace) -> AlertSettings:
    return AlertSettings.from_env(**{f.name: getattr(args, f"alert_{f.name}") for f in _alert_fields()})


def _dispatch_error(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help


def _guard(action):
    """Run action, turning StackError into a one-line message and exit status 1."""
    try:
        return action()
    except StackError as exc:
        print(f"ddex-otel stack: error: {exc}", file=sys.stderr)
        return 1


def _build(args: argparse.Namespace) -> int:
    def action() -> int:
        bin_dir = build.build(jaeger_ui=args.jaeger_ui, browser=args.browser, broker=args.broker)
        if args.print_bin_dir:
            print(bin_dir)
        return 0
    return _guard(action)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ensure_built(asked: bool) -> None:
    """Build when asked to, or when binaries are missing and the user says yes at the prompt."""
    if asked:
        build.build()
        return
    missing = paths.missing_binaries()
    if not missing:
        return
    what = f"the stack's binaries are not built yet (missing: {', '.join(missing)} in {paths.bin_dir()})"
    if not _interactive():
        raise StackError(f"{what}: run `ddex-otel stack build` first, or `ddex-otel stack up --build`")
    from rich.prompt import Confirm

    print(f"ddex-otel stack: {what}.")
    if not Confirm.ask("Build them now? (`ddex-otel stack build`; the first build takes several minutes)",
                       default=True):
        raise StackError(f"{what}: run `ddex-otel stack build` when you are ready")
    build.build()


def _up(args: argparse.Namespace) -> int:
    def action() -> int:
        _ensure_built(args.build)
        overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Ports) if getattr(args, f.name)}
        alerting = _alert_settings(args)
        stack = overlay_stack.make_stack(args, run_dir=args.run_dir, ports=Ports(**overrides),
                                         free_ports=args.free_ports, timeout=args.timeout, alerting=alerting)
        stack.start()
        _print_status(stack)
        print(f"alerts go to: {', '.join(alerting.receivers) or 'no receiver (set --alert-email-to, ...)'}")
        print(f"run dir: {stack.run_dir}  (stop with: ddex-otel stack down"
              + (f" --run-dir {stack.run_dir}" if args.run_dir else "") + ")")
        if args.run_dir:  # trace links (demo, batch) find the default run dir's Jaeger by themselves
            print(f"for Jaeger trace links: export {ENV_JAEGER_URL}={stack.endpoints.jaeger}")
            print(f"for log links: export {ENV_LOGS_URL}={stack.endpoints.logs}")
        return 0
    return _guard(action)


def _down(args: argparse.Namespace) -> int:
    def action() -> int:
        stack = LocalStack.from_run_dir(args.run_dir)
        stopped = stack.stop()
        print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
        return 0
    return _guard(action)


def _status(args: argparse.Namespace) -> int:
    def action() -> int:
        stack = LocalStack.from_run_dir(args.run_dir)
        statuses = stack.status()
        if args.json:
            ui = stack.jaeger_ui
            print(json.dumps({
                "components": [{**dataclasses.asdict(s), "log": str(s.log)} for s in statuses],
                "urls": endpoint_urls(stack.endpoints),
                "jaeger_ui": {
                    "installed": bool(ui and ui.installed),
                    "path": str(ui.path) if ui and ui.path else None,
                    "note": ui.note if ui else "unknown (stack started by an older ddex-otel)",
                    "served": jaegerui.served(stack.endpoints.jaeger),
                },
            }, indent=2))
        else:
            _print_status(stack, statuses)
        return 0 if all(s.healthy for s in statuses) else 1
    return _guard(action)


def endpoint_urls(e: Endpoints) -> dict[str, str]:
    """Every URL of the stack a user may open or point a client at, by what it is."""
    return {
        "Jaeger UI": f"{e.jaeger}/search",
        "Jaeger API": f"{e.jaeger}/api/services",
        "Jaeger Monitor (span metrics from Prometheus)": f"{e.jaeger}/monitor",
        "logs UI (VictoriaLogs)": f"{e.logs}/select/vmui/",
        "logs query API (LogsQL)": f"{e.logs}/select/logsql/query",
        "Prometheus": e.prometheus,
        "Alertmanager": e.alertmanager,
        "collector OTLP gRPC": e.otlp_grpc,
        "collector OTLP HTTP": e.otlp_http,
        "collector health": e.collector_health,
        "collector metrics (DDEX, scraped)": e.collector_prometheus,
        "collector own metrics": e.collector_metrics,
        "Jaeger OTLP gRPC (the collector exports here)": e.jaeger_otlp_grpc,
    }


def _print_status(stack: LocalStack, statuses: list[ComponentStatus] | None = None) -> None:
    for s in statuses or stack.status():
        state = "healthy" if s.healthy else ("running, not healthy" if s.running else "stopped")
        print(f"{s.name:<12} {state:<21} pid {s.pid or '-':<8} {s.url}")
    print("URLs:")
    urls = endpoint_urls(stack.endpoints)
    width = max(map(len, urls)) + 1
    for label, url in urls.items():
        print(f"  {label + ':':<{width}} {url}")
    ui = stack.jaeger_ui
    print(f"Jaeger UI: {ui.describe() if ui else 'unknown (stack started by an older ddex-otel)'}")


if __name__ == "__main__":
    sys.exit(main())
