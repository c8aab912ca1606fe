"""`ddex-otel stack up|down|status`: run the local collector, Jaeger and Prometheus."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from . import overlay_stack, paths
from .errors import StackError
from .local import LocalStack
from .ports import Ports


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `stack` command (with up/down/status) to the top-level CLI's subparsers."""
    stack = subparsers.add_parser("stack", help="run the local telemetry stack (collector, Jaeger, Prometheus)")
    sub = stack.add_subparsers(dest="stack_command", required=True)

    up = sub.add_parser("up", help="start the stack and wait until every component is healthy")
    _run_dir_arg(up)
    up.add_argument("--free-ports", action="store_true", help="pick free ports instead of the defaults")
    up.add_argument("--build", action="store_true", help="run scripts/build-stack.sh first")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each component")
    for field in dataclasses.fields(Ports):
        flag = "--" + field.name.replace("_", "-") + "-port"
        up.add_argument(flag, dest=field.name, type=int, metavar="PORT", help=f"default {field.default}")
    overlay_stack.add_arguments(up)
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop the processes `stack up` started")
    _run_dir_arg(down)
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="show each component, its pid, health and URL")
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


def _dispatch_error(parser: argparse.ArgumentParser):
    return lambda _args: (parser.print_help(), 2)[1]


def _guard(action):
    """Run action, turning StackError into a one-line message and exit status 1."""
    try:
        return action()
    except StackError as exc:
        print(f"ddex-otel stack: error: {exc}", file=sys.stderr)
        return 1


def _up(args: argparse.Namespace) -> int:
    def action() -> int:
        if args.build:
            script = paths.build_script()
            if subprocess.run(["bash", str(script)]).returncode != 0:
                raise StackError(f"{script} failed (see its output above)")
        overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Ports) if getattr(args, f.name)}
        stack = overlay_stack.make_stack(args, run_dir=args.run_dir, ports=Ports(**overrides),
                                         free_ports=args.free_ports, timeout=args.timeout)
        stack.start()
        _print_status(stack)
        print(f"run dir: {stack.run_dir}  (stop with: ddex-otel stack down"
              + (f" --run-dir {stack.run_dir}" if args.run_dir else "") + ")")
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
            print(json.dumps([{**dataclasses.asdict(s), "log": str(s.log)} for s in statuses], indent=2))
        else:
            _print_status(stack, statuses)
        return 0 if all(s.healthy for s in statuses) else 1
    return _guard(action)


def _print_status(stack: LocalStack, statuses=None) -> None:
    for s in statuses or stack.status():
        state = "healthy" if s.healthy else ("running, not healthy" if s.running else "stopped")
        print(f"{s.name:<11} {state:<21} pid {s.pid or '-':<8} {s.url}")


if __name__ == "__main__":
    sys.exit(main())
