"""``ddex-otel fleet up|down|status``: the scale-out tier on this machine (docs/scale-out.md).

Redis (the Celery broker), N Celery workers each with its agent collector, the gateway collector,
Jaeger on Badger and Prometheus, on 127.0.0.1 and free ports; ``up`` prints where each listens
and the ``celery-batch`` command line to use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import paths
from .errors import StackError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    fleet = subparsers.add_parser("fleet", help="run the scale-out tier locally (Redis, Celery workers, "
                                  "agent + gateway collectors, Jaeger on Badger, Prometheus)")
    sub = fleet.add_subparsers(dest="fleet_command", required=True)
    up = sub.add_parser("up", help="start the tier and wait until every worker answers")
    up.add_argument("--workers", type=int, default=2, help="Celery worker processes, one 'host' each (default 2)")
    up.add_argument("--instrumentation", choices=("configure", "opentelemetry-instrument"), default="configure",
                    help="how workers set up telemetry (default: our configure() in the worker)")
    _run_dir(up)
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop what `fleet up` started")
    _run_dir(down)
    down.set_defaults(func=_down)
    status = sub.add_parser("status", help="print the recorded endpoints and pids as JSON")
    _run_dir(status)
    status.set_defaults(func=_status)
    fleet.set_defaults(func=lambda _a: (fleet.print_help(), 2)[1])
    return fleet


def _run_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, default=None,
                        help=f"configs, queues, logs and state (default {paths.cache_dir() / 'fleet'})")


def _dir(args: argparse.Namespace) -> Path:
    return args.run_dir or paths.cache_dir() / "fleet"


def _up(args: argparse.Namespace) -> int:
    from ddex_otel.extras import require

    missing = require("celery", "`ddex-otel fleet up`")
    if missing:  # before anything starts: the workers and the readiness check run Celery
        print(f"ddex-otel fleet: error: {missing}", file=sys.stderr)
        return 1
    from .fleet import STATE_FILE, Fleet

    run_dir = _dir(args)
    if (run_dir / STATE_FILE).is_file():
        print(f"ddex-otel fleet: error: a fleet is recorded in {run_dir}: `ddex-otel fleet down` first",
              file=sys.stderr)
        return 1
    try:
        fleet = Fleet(run_dir, workers=args.workers, instrumentation=(args.instrumentation,)).start()
    except StackError as exc:
        print(f"ddex-otel fleet: error: {exc}", file=sys.stderr)
        return 1
    info = fleet.describe()
    print(f"broker      {info['broker_url']}")
    print(f"jaeger      {info['jaeger']}")
    print(f"prometheus  {info['prometheus']}")
    for w, agent in zip(info["workers"], info["agents"], strict=True):
        print(f"worker      {w['node']} host.name={w['host.name']} pid {w['pid']} → agent {agent}")
    print(f"submit:     ddex-otel batch DIR --celery {info['broker_url']} --endpoint {info['agents'][0]}")
    print("stop:       ddex-otel fleet down" + (f" --run-dir {run_dir}" if args.run_dir else ""))
    return 0


def _down(args: argparse.Namespace) -> int:
    from .fleet import stop_recorded

    try:
        stopped = stop_recorded(_dir(args))
    except StackError as exc:
        print(f"ddex-otel fleet: error: {exc}", file=sys.stderr)
        return 1
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .fleet import STATE_FILE

    state = _dir(args) / STATE_FILE
    if not state.is_file():
        print(f"ddex-otel fleet: error: no fleet recorded in {_dir(args)}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(state.read_text()), indent=2))
    return 0
