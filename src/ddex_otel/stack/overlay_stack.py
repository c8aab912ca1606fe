"""A LocalStack whose collector also loads the vendor / ingest overlay (``overlay.py``).

``ddex-otel stack up --vendor-endpoint URL --vendor-header 'x-api-key=${env:KEY}'`` and
``--ingest-token-env NAME --tls-cert FILE --tls-key FILE`` (or the DDEX_VENDOR_* / DDEX_INGEST_*
variables) start this instead of the plain ``LocalStack``; ``ddex-otel stack overlay`` prints the
same overlay for docker compose (docker-compose.vendor.yml).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from . import paths, process
from .errors import StackError
from .local import Endpoints, LocalStack
from .overlay import (
    OVERLAY_FILE,
    IngestOptions,
    Overlay,
    VendorOptions,
    load_base,
    parse_header,
    render_overlay,
)

QUEUE_DIR = "vendor-queue"  # under the run dir; kept across `stack down` / `stack up`


class OverlayStack(LocalStack):
    """LocalStack + a second collector config; secrets reach the collector by environment only."""

    def __init__(self, *args: Any, vendor: VendorOptions | None = None,
                 ingest: IngestOptions | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vendor = vendor
        self.ingest = ingest
        self._collector_spec: tuple[list[str], dict[str, str]] | None = None

    def __repr__(self) -> str:
        return (f"OverlayStack(run_dir={str(self.run_dir)!r}, vendor={self.vendor and self.vendor.endpoint!r}, "
                f"ingest_auth={bool(self.ingest and self.ingest.token_env)}, "
                f"ingest_tls={bool(self.ingest and self.ingest.tls)})")

    @property
    def queue_dir(self) -> Path:
        return self.run_dir / QUEUE_DIR

    @property
    def overlay_path(self) -> Path:
        return self.run_dir / OVERLAY_FILE

    @property
    def endpoints(self) -> Endpoints:
        plain = Endpoints.for_ports(self.ports)
        if not (self.ingest and self.ingest.tls):
            return plain
        # TLS listeners answer to the name in the certificate; 127.0.0.1 must be one of its SANs.
        return dataclasses.replace(plain, otlp_grpc=plain.otlp_grpc.replace("http://", "https://", 1),
                                   otlp_http=plain.otlp_http.replace("http://", "https://", 1))

    def render(self) -> Overlay:
        base = load_base((self.assets_dir or paths.assets_dir()) / paths.COLLECTOR_CONFIG)
        return render_overlay(base, self.vendor, self.ingest, self.queue_dir)

    def _specs(self):
        if self.ingest:
            self.ingest.check_token()
        specs = super()._specs()
        if self.vendor is None and not (self.ingest and self.ingest.enabled):
            return specs
        overlay = self.render()
        overlay.write(self.overlay_path)
        argv, env, health, _url = specs["collector"]
        argv = [*argv, "--config", str(self.overlay_path)]
        env = {**env, **overlay.env}
        e = self.endpoints
        url = f"{e.otlp_grpc} (OTLP gRPC), {e.otlp_http} (OTLP HTTP)"
        if self.ingest and self.ingest.token_env:
            url += f", bearer token from ${self.ingest.token_env} required"
        if self.vendor is not None:
            from ddex_otel.telemetry.secrets import mask_url

            url += f", vendor → {mask_url(self.vendor.endpoint)}"
        specs["collector"] = (argv, env, health, url)
        self._collector_spec = (argv, env)
        return specs

    def restart_collector(self) -> None:
        """Stop and start the collector alone (same argv and environment); wait until healthy."""
        if self._collector_spec is None or "collector" not in self._procs:
            raise StackError("restart_collector needs a stack started by this object")
        argv, env = self._collector_spec
        process.stop_child(self._procs.pop("collector"))
        log = self.log_path("collector")
        proc = process.spawn(argv, env, log)
        self._procs["collector"] = proc
        self._state["components"]["collector"]["pid"] = proc.pid
        self._save()
        process.wait_healthy("collector", proc, self.endpoints.collector_health, log, self.timeout)


# ------------------------------------------------------------------------------------ CLI glue


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Vendor and ingest options of `stack up` / `stack overlay` (each also has a DDEX_* variable)."""
    vendor = parser.add_argument_group(
        "ship to a vendor APM (off unless an endpoint is given; or DDEX_VENDOR_* variables)")
    vendor.add_argument("--vendor-endpoint", metavar="URL",
                        help="vendor OTLP endpoint, e.g. https://api.honeycomb.io (http) or host:443 (grpc)")
    vendor.add_argument("--vendor-protocol", choices=("http", "grpc"), help="default http (otlp_http exporter)")
    vendor.add_argument("--vendor-header", action="append", default=None, metavar="NAME=VALUE",
                        help="header sent to the vendor; use 'x-api-key=${env:VAR}' so the key stays in the "
                             "environment (repeatable)")
    vendor.add_argument("--vendor-ca", metavar="FILE", help="CA file for the vendor's certificate")
    vendor.add_argument("--vendor-cert", metavar="FILE", help="client certificate (mTLS)")
    vendor.add_argument("--vendor-key", metavar="FILE", help="client key (mTLS)")
    vendor.add_argument("--vendor-compression", choices=("gzip", "zstd", "snappy", "none"), help="default gzip")
    ingest = parser.add_argument_group(
        "secure OTLP ingest (for receivers beyond loopback; or DDEX_INGEST_* variables)")
    ingest.add_argument("--ingest-token-env", metavar="VAR",
                        help="require 'Authorization: Bearer <token>' on OTLP, the token read from variable VAR")
    ingest.add_argument("--tls-cert", metavar="FILE", help="serve OTLP over TLS with this certificate")
    ingest.add_argument("--tls-key", metavar="FILE", help="... and this key")


def options_from_args(args: argparse.Namespace, check_files: bool = True
                      ) -> tuple[VendorOptions | None, IngestOptions | None]:
    """Flags over DDEX_VENDOR_* / DDEX_INGEST_* variables; (None, None) when neither asks for anything.

    ``check_files=False`` takes file paths as they are (paths inside a container, for compose).
    """
    vendor = VendorOptions.from_env(check_files=check_files)
    if args.vendor_endpoint or vendor is not None:
        given = {
            "endpoint": args.vendor_endpoint,
            "protocol": args.vendor_protocol,
            "headers": tuple(parse_header(h) for h in args.vendor_header) if args.vendor_header else None,
            "ca_file": args.vendor_ca,
            "cert_file": args.vendor_cert,
            "key_file": args.vendor_key,
            "compression": args.vendor_compression,
        }
        given = {k: v for k, v in given.items() if v is not None}
        vendor = (dataclasses.replace(vendor, **given) if vendor is not None
                  else VendorOptions(**given, check_files=check_files))
    ingest = IngestOptions.from_env(check_files=check_files)
    if args.ingest_token_env or args.tls_cert or args.tls_key:
        base = ingest or IngestOptions()
        ingest = IngestOptions(token_env=args.ingest_token_env or base.token_env,
                               tls_cert=args.tls_cert or base.tls_cert, tls_key=args.tls_key or base.tls_key,
                               check_files=check_files)
    return vendor, ingest


def register_overlay_command(sub: argparse._SubParsersAction) -> None:
    """`ddex-otel stack overlay`: print (or write) the overlay config, e.g. for docker compose."""
    cmd = sub.add_parser("overlay", help="print the vendor/ingest overlay config (for docker compose)")
    add_arguments(cmd)
    cmd.add_argument("-o", "--output", type=Path, help="write it here instead of stdout")
    cmd.add_argument("--queue-dir", default="/var/lib/otelcol/vendor-queue",
                     help="persistent queue directory as the collector sees it (default: compose's volume)")
    cmd.set_defaults(func=_overlay_command)


def _overlay_command(args: argparse.Namespace) -> int:
    try:
        vendor, ingest = options_from_args(args, check_files=False)  # paths as the container sees them
        overlay = render_overlay(load_base(paths.assets_dir() / paths.COLLECTOR_CONFIG), vendor, ingest,
                                 args.queue_dir)
        if overlay.env:
            raise StackError("for compose, give vendor header values as ${env:VAR} references, not literals")
        if args.output:
            overlay.write(args.output)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(overlay.text)
        return 0
    except StackError as exc:
        print(f"ddex-otel stack: error: {exc}", file=sys.stderr)
        return 1


def make_stack(args: argparse.Namespace, **kwargs: Any) -> LocalStack:
    """The stack `stack up` starts: an OverlayStack when vendor/ingest options are set."""
    vendor, ingest = options_from_args(args)
    if vendor is None and ingest is None:
        return LocalStack(**kwargs)
    return OverlayStack(vendor=vendor, ingest=ingest, **kwargs)

