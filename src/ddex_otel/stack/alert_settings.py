"""Alert settings of a local stack (receivers, secrets, thresholds, timings) and the files they render.

Alertmanager 0.25 does not read environment variables, and a rule's ``for:`` cannot be a series, so the
local stack renders into its run dir, from the shipped files in assets/ (package data):

* ``alertmanager.yml`` (mode 0600: it holds the SMTP password and webhook URLs) from
  assets/alertmanager/alertmanager.yml and its two markers (see that file; entrypoint.sh applies the
  same rules for docker compose), plus the notification templates beside it;
* ``alert-thresholds.yml``: the ``ddex_alert_threshold{alert=...}`` series the rules compare with, and
  the Jaeger base URL the alerts link to;
* ``alert-rules.yml`` with ``for:`` and the rate window replaced when they differ from 5m.

Every setting comes from a ``stack up`` option or its ``DDEX_ALERT_*`` variable. Secrets never appear in
a repr, an error message or the stack's state file.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .errors import StackError
from .links import ENV_JAEGER_URL as FALLBACK_JAEGER_ENV  # the CLI's trace links read it too

ENV_PREFIX = "DDEX_ALERT_"

_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
_ENV_MARK = re.compile(r"[ \t]# ddex-env: ([A-Z_][A-Z0-9_]*)[ \t]*$")
_IF_MARK = re.compile(r"^[ \t]*# ddex-if: ([A-Z_][A-Z0-9_]*)[ \t]*$")
_END_MARK = re.compile(r"^[ \t]*# ddex-end[ \t]*$")

# Exact text in assets/prometheus/alert-rules.yml that the rule renderer replaces, and how often.
_RULE_TOKENS = {"for": ("for: 5m\n", 6), "window": ("[5m]", 8), "said": ("over the last 5m.", 5)}
DEFAULT_WINDOW = "5m"


class AlertConfigError(StackError):
    """An alert setting is invalid (the message names the setting, never a secret value)."""


def _setting(env: str, flag: str | None, kind: str = "str", secret: bool = False, default: Any = "") -> Any:
    """A field read from DDEX_ALERT_<env> or the `stack up` option flag (None: variable only)."""
    name = f"{flag} / {ENV_PREFIX}{env}" if flag else ENV_PREFIX + env
    return field(default=default, repr=not secret,
                 metadata={"env": ENV_PREFIX + env, "flag": flag, "name": name, "kind": kind, "secret": secret})


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and when they fire. Empty strings mean "the shipped default"."""

    # receivers: each integration is configured only when its destination is given
    email_to: str = _setting("EMAIL_TO", "--alert-email-to")
    smtp_smarthost: str = _setting("SMTP_SMARTHOST", "--smtp-smarthost")  # host:port
    smtp_from: str = _setting("SMTP_FROM", "--smtp-from")
    smtp_username: str = _setting("SMTP_USERNAME", "--smtp-username")
    smtp_password: str = _setting("SMTP_PASSWORD", None, secret=True)
    smtp_require_tls: str = _setting("SMTP_REQUIRE_TLS", "--smtp-require-tls", kind="bool")  # "true" / "false"
    slack_webhook_url: str = _setting("SLACK_WEBHOOK_URL", "--slack-webhook-url", kind="url", secret=True)
    webhook_url: str = _setting("WEBHOOK_URL", "--alert-webhook-url", kind="url", secret=True)
    # Alertmanager grouping and timing
    group_wait: str = _setting("GROUP_WAIT", "--alert-group-wait", kind="duration")
    group_interval: str = _setting("GROUP_INTERVAL", "--alert-group-interval", kind="duration")
    repeat_interval: str = _setting("REPEAT_INTERVAL", "--alert-repeat-interval", kind="duration")
    resolve_timeout: str = _setting("RESOLVE_TIMEOUT", "--alert-resolve-timeout", kind="duration")
    # the alert rules: thresholds (seed defaults), pending time, rate window, Jaeger link base
    parse_p95_seconds: float = _setting("PARSE_P95_SECONDS", "--alert-parse-p95", kind="number", default=5.0)
    build_p95_seconds: float = _setting("BUILD_P95_SECONDS", "--alert-build-p95", kind="number", default=10.0)
    error_ratio: float = _setting("ERROR_RATIO", "--alert-error-ratio", kind="number", default=0.05)
    memory_bytes: float = _setting("MEMORY_BYTES", "--alert-memory-bytes", kind="number", default=1073741824.0)
    rule_for: str = _setting("FOR", "--alert-for", kind="duration", default="5m")
    rule_window: str = _setting("WINDOW", "--alert-window", kind="duration", default=DEFAULT_WINDOW)
    jaeger_url: str = _setting("JAEGER_URL", "--alert-jaeger-url", kind="url")  # default: the stack's own Jaeger

    def __post_init__(self) -> None:
        for f in fields(self):
            value, kind, env = getattr(self, f.name), f.metadata["kind"], f.metadata["name"]
            if kind == "number":
                if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                    raise AlertConfigError(f"{env}: a threshold must be a finite number >= 0")
                continue
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise AlertConfigError(f"{env}: must be a one-line string")
            if not value:
                continue
            if kind == "duration" and not _DURATION.match(value):
                raise AlertConfigError(f"{env}: {value!r} is not a duration like 30s, 5m, 1h")
            if kind == "bool" and value not in ("true", "false"):
                raise AlertConfigError(f"{env}: must be true or false")
            if kind == "url" and not re.match(r"^https?://[^/\s]+", value):
                shown = "" if f.metadata["secret"] else f" ({value!r})"
                raise AlertConfigError(f"{env}: must be an http:// or https:// URL{shown}")
        if self.smtp_smarthost and not re.match(r"^[^\s:]+:\d+$", self.smtp_smarthost):
            raise AlertConfigError(f"--smtp-smarthost / {ENV_PREFIX}SMTP_SMARTHOST: {self.smtp_smarthost!r} "
                                   "is not host:port")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AlertSettings:
        """Settings from DDEX_ALERT_* variables; keyword overrides (options) win when not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"], "").strip()
            if f.name == "jaeger_url" and not raw:
                raw = env.get(FALLBACK_JAEGER_ENV, "").strip()
            if raw:
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_jaeger_default(self, url: str) -> AlertSettings:
        """This, with url as the Jaeger link base unless one was set."""
        return self if self.jaeger_url else replace(self, jaeger_url=url)

    @property
    def receivers(self) -> list[str]:
        """The integrations that will be configured (names only: safe to print)."""
        return [name for name, value in (("email", self.email_to), ("slack", self.slack_webhook_url),
                                         ("webhook", self.webhook_url)) if value]

    def template_values(self) -> dict[str, str]:
        """DDEX_ALERT_* name -> value for the markers of assets/alertmanager/alertmanager.yml."""
        return {f.metadata["env"]: getattr(self, f.name) for f in fields(self)
                if f.metadata["kind"] != "number" and getattr(self, f.name)}

    def thresholds(self) -> dict[str, tuple[float, str]]:
        """Alert name -> (threshold, unit), as alert-thresholds.yml records them."""
        return {
            "DDEXParseLatencyHigh": (float(self.parse_p95_seconds), "seconds"),
            "DDEXBuildLatencyHigh": (float(self.build_p95_seconds), "seconds"),
            "DDEXErrorRatioHigh": (float(self.error_ratio), "ratio"),
            "DDEXProcessMemoryHigh": (float(self.memory_bytes), "bytes"),
        }


def _parse(f: Any, raw: str) -> Any:
    if f.metadata["kind"] == "number":
        try:
            return float(raw)
        except ValueError:
            raise AlertConfigError(f"{f.metadata['name']}: {raw!r} is not a number") from None
    if f.metadata["kind"] == "bool":
        return raw.lower()
    return raw


# -- renderers ------------------------------------------------------------------------------------
def render_marked(text: str, values: Mapping[str, str]) -> str:
    """Apply the ddex-env / ddex-if markers of alertmanager.yml (the rules entrypoint.sh implements)."""
    out: list[str] = []
    skipping, open_block = False, None
    for lineno, line in enumerate(text.splitlines(), 1):
        if m := _IF_MARK.match(line):
            if open_block:
                raise StackError(f"alertmanager.yml line {lineno}: ddex-if inside the block of line {open_block}")
            skipping, open_block = not values.get(m.group(1)), lineno
            continue
        if _END_MARK.match(line):
            skipping, open_block = False, None
            continue
        if skipping:
            continue
        if (m := _ENV_MARK.search(line)) and (value := values.get(m.group(1))):
            prefix, _, rest = line.partition(": ")
            if rest.startswith("'"):
                value = "'" + value.replace("'", "''") + "'"
            line = f"{prefix}: {value}  # ddex-env: {m.group(1)}"
        out.append(line)
    if open_block:
        raise StackError(f"alertmanager.yml line {open_block}: ddex-if without ddex-end")
    return "\n".join(out) + "\n"


def render_thresholds(settings: AlertSettings) -> str:
    """alert-thresholds.yml with these settings' thresholds and Jaeger link base."""
    rules: list[dict[str, Any]] = [
        {"record": "ddex_alert_threshold", "expr": f"vector({value!r})", "labels": {"alert": name, "unit": unit}}
        for name, (value, unit) in settings.thresholds().items()
    ]
    rules.append({"record": "ddex_alert_link_info", "expr": "vector(1)",
                  "labels": {"jaeger_url": settings.jaeger_url.rstrip("/")}})
    doc = {"groups": [{"name": "ddex-alert-settings", "rules": rules}]}
    return "# Rendered by `ddex-otel stack up` from its alert options.\n" + yaml.safe_dump(doc, sort_keys=False)


def render_rules(text: str, settings: AlertSettings) -> str:
    """alert-rules.yml with `for:` and the rate window of these settings."""
    for token, count in _RULE_TOKENS.values():
        if text.count(token) != count:
            raise StackError(f"alert-rules.yml: expected {count}x {token.strip()!r}, found {text.count(token)}: "
                             "cannot render --alert-for / --alert-window")
    text = text.replace(_RULE_TOKENS["for"][0], f"for: {settings.rule_for}\n")
    text = text.replace(_RULE_TOKENS["window"][0], f"[{settings.rule_window}]")
    return text.replace(_RULE_TOKENS["said"][0], f"over the last {settings.rule_window}.")


def write_private(path: Path, text: str) -> None:
    """Write text to path readable by its owner only (0600), also when path already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def render_alerting(run_dir: Path, src: Path, settings: AlertSettings) -> Path:
    """Write alertmanager.yml (0600) + templates/, alert-thresholds.yml and alert-rules.yml into run_dir.

    src is the assets/ directory; returns the Alertmanager config path."""
    shipped = src / paths.ALERTMANAGER_CONFIG
    config = run_dir / "alertmanager.yml"
    write_private(config, render_marked(shipped.read_text(), settings.template_values()))
    templates = run_dir / "templates"  # the config's `templates:` glob is relative to it
    shutil.rmtree(templates, ignore_errors=True)
    shutil.copytree(shipped.parent / "templates", templates)
    (run_dir / "alert-thresholds.yml").write_text(render_thresholds(settings))
    (run_dir / "alert-rules.yml").write_text(render_rules((src / paths.ALERT_RULES).read_text(), settings))
    return config
