"""``load_alerts(path)``: an ``Alerting`` (thresholds, options, notifiers) from a YAML file.

Secrets stay out of the file: any string value may contain ``${NAME}`` (or ``${NAME:-default}``),
replaced by the environment variable ``NAME``; ``$$`` is a literal ``$``. A variable that is not set
(and has no default) is an ``AlertsConfigError`` naming the key and the variable. Errors name the
file and the key (e.g. ``channels.email.port``) and never echo a value, so a secret cannot leak
through them. The format is documented in docs/monitoring.md ("Alerts") and examples/alerts.yml.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .notifiers import EmailNotifier, SlackNotifier, WebhookNotifier
from .threshold_alerts import Alerting

__all__ = ["AlertsConfigError", "load_alerts", "alerting_from_config"]

_TOP_KEYS = {"service", "labels", "defaults", "options", "thresholds", "channels"}
_OPTION_KEYS = {"cooldown", "every", "window", "handler_timeout"}
_THRESHOLD_KEYS = {"metric", "threshold", "comparison", "description", "critical", "labels"}
_EMAIL_KEYS = {
    "host", "port", "sender", "recipients", "username", "password", "starttls", "ssl", "timeout",
    "cafile", "subject_prefix",
}
_SLACK_KEYS = {"webhook_url", "timeout", "channel", "username"}
_WEBHOOK_KEYS = {"url", "headers", "timeout"}

_T = TypeVar("_T")

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


class AlertsConfigError(ValueError):
    """A bad alerts file: unreadable, invalid YAML, unknown/missing/ill-typed key, unset variable.

    ``source`` is the file, ``key`` the dotted key (``""`` for the whole file). The message never
    contains a value from the file or the environment.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


def load_alerts(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Alerting:
    """Read the YAML alerts file at ``path`` and build its ``Alerting`` (not yet watching).

    ``env`` replaces ``os.environ`` for ``${NAME}`` references. Relative ``cafile`` paths are
    resolved against the file's directory.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertsConfigError(source, "", f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise AlertsConfigError(source, "", "the file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AlertsConfigError(source, "", _yaml_problem(exc)) from None
    return alerting_from_config(data, source=source, env=os.environ if env is None else env, base_dir=path.parent)


def alerting_from_config(
    data: Any,
    *,
    source: str = "<alerts config>",
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Alerting:
    """Build an ``Alerting`` from already-parsed configuration data (the YAML file's content)."""
    reader = _Reader(source, os.environ if env is None else env, base_dir or Path.cwd())
    return reader.alerting(data)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Position and kind of a YAML error, without the snippet of the file PyYAML would quote."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"invalid YAML ({where}{problem})"


class _Reader:
    def __init__(self, source: str, env: Mapping[str, str], base_dir: Path) -> None:
        self.source = source
        self.env = env
        self.base_dir = base_dir

    def error(self, key: str, problem: str) -> AlertsConfigError:
        return AlertsConfigError(self.source, key, problem)

    # ------------------------------------------------------------------ structure

    def alerting(self, data: Any) -> Alerting:
        if data is None:
            data = {}
        top = self.mapping(data, "", _TOP_KEYS)
        options = self.mapping(top.get("options") or {}, "options", _OPTION_KEYS)
        kwargs: dict[str, Any] = {}
        for name in ("cooldown", "handler_timeout"):
            if name in options:
                kwargs[name] = self.number(options[name], f"options.{name}", minimum=0.0)
        for name in ("every", "window"):
            if name in options:
                kwargs[name] = self.number(options[name], f"options.{name}", minimum=0.0, strict=True)
        if "service" in top:
            kwargs["service"] = self.string(top["service"], "service")
        if "labels" in top:
            kwargs["labels"] = self.labels(top["labels"], "labels")
        alerting = Alerting(**kwargs)

        if self.boolean(top.get("defaults", False), "defaults"):
            alerting.add_default_thresholds()
        rules = top.get("thresholds") or []
        if not isinstance(rules, list):
            raise self.error("thresholds", "expected a list of thresholds")
        for index, rule in enumerate(rules):
            self.threshold(alerting, rule, f"thresholds[{index}]")
        if not alerting.thresholds:
            raise self.error("thresholds", "no thresholds (add some, or set 'defaults: true')")

        channels = self.mapping(top.get("channels") or {}, "channels", {"email", "slack", "webhook"})
        builders: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
            "email": self.email, "slack": self.slack, "webhook": self.webhook,
        }
        for kind, spec in channels.items():
            entries = spec if isinstance(spec, list) else [spec]
            for index, entry in enumerate(entries):
                key = f"channels.{kind}[{index}]" if isinstance(spec, list) else f"channels.{kind}"
                alerting.add_handler(builders[kind](entry, key))
        return alerting

    def threshold(self, alerting: Alerting, rule: Any, key: str) -> None:
        spec = self.mapping(rule, key, _THRESHOLD_KEYS, required=("metric", "threshold"))
        critical = spec.get("critical")
        try:
            alerting.add_threshold(
                self.string(spec["metric"], f"{key}.metric"),
                self.number(spec["threshold"], f"{key}.threshold"),
                self.string(spec.get("comparison", "gt"), f"{key}.comparison"),
                self.string(spec.get("description", ""), f"{key}.description"),
                critical=None if critical is None else self.number(critical, f"{key}.critical"),
                labels=self.labels(spec.get("labels") or {}, f"{key}.labels"),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, AlertsConfigError):
                raise
            raise self.error(key, str(exc)) from None

    def email(self, entry: Any, key: str) -> EmailNotifier:
        spec = self.mapping(entry, key, _EMAIL_KEYS, required=("host", "sender", "recipients"))
        recipients = spec["recipients"]
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not recipients:
            raise self.error(f"{key}.recipients", "expected a non-empty list of addresses")
        cafile = self.optional_string(spec.get("cafile"), f"{key}.cafile")
        if cafile is not None:
            cafile_path = Path(cafile).expanduser()
            cafile_path = cafile_path if cafile_path.is_absolute() else self.base_dir / cafile_path
            if not cafile_path.is_file():
                raise self.error(f"{key}.cafile", "no such file")
            cafile = str(cafile_path)
        port = spec.get("port")
        return self.build(key, lambda: EmailNotifier(
            self.string(spec["host"], f"{key}.host"),
            None if port is None else self.integer(port, f"{key}.port"),
            self.string(spec["sender"], f"{key}.sender"),
            [self.string(r, f"{key}.recipients[{i}]") for i, r in enumerate(recipients)],
            username=self.optional_string(spec.get("username"), f"{key}.username"),
            password=self.optional_string(spec.get("password"), f"{key}.password"),
            starttls=self.boolean(spec.get("starttls", False), f"{key}.starttls"),
            ssl=self.boolean(spec.get("ssl", False), f"{key}.ssl"),
            timeout=self.number(spec.get("timeout", 10.0), f"{key}.timeout", minimum=0.0, strict=True),
            cafile=cafile,
            subject_prefix=self.string(spec.get("subject_prefix", "[ddex-otel]"), f"{key}.subject_prefix"),
        ))

    def slack(self, entry: Any, key: str) -> SlackNotifier:
        spec = self.mapping(entry, key, _SLACK_KEYS, required=("webhook_url",))
        return self.build(key, lambda: SlackNotifier(
            self.string(spec["webhook_url"], f"{key}.webhook_url"),
            timeout=self.number(spec.get("timeout", 10.0), f"{key}.timeout", minimum=0.0, strict=True),
            channel=self.optional_string(spec.get("channel"), f"{key}.channel"),
            username=self.optional_string(spec.get("username"), f"{key}.username"),
        ))

    def webhook(self, entry: Any, key: str) -> WebhookNotifier:
        spec = self.mapping(entry, key, _WEBHOOK_KEYS, required=("url",))
        headers = self.mapping(spec.get("headers") or {}, f"{key}.headers", None)
        return self.build(key, lambda: WebhookNotifier(
            self.string(spec["url"], f"{key}.url"),
            {str(name): self.string(value, f"{key}.headers.{name}") for name, value in headers.items()},
            timeout=self.number(spec.get("timeout", 10.0), f"{key}.timeout", minimum=0.0, strict=True),
        ))

    def build(self, key: str, make: Callable[[], _T]) -> _T:
        try:
            return make()
        except AlertsConfigError:
            raise
        except (TypeError, ValueError) as exc:  # notifier messages mask URLs and never hold secrets
            raise self.error(key, str(exc)) from None

    # ------------------------------------------------------------------ scalars

    def mapping(
        self, value: Any, key: str, allowed: set[str] | None, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        where = key or "top level"
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping at {where}")
        for name in value:
            if not isinstance(name, str):
                raise self.error(key, f"keys must be strings at {where}")
            if allowed is not None and name not in allowed:
                raise self.error(_join(key, name), f"unknown key (expected one of: {', '.join(sorted(allowed))})")
        for name in required:
            if value.get(name) is None:
                raise self.error(_join(key, name), "missing required key")
        return value

    def expand(self, value: str, key: str) -> str:
        def replace(match: re.Match[str]) -> str:
            text = match.group(0)
            if text == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name is None:
                raise self.error(key, "malformed ${...} reference (use ${NAME}, ${NAME:-default} or $$ for '$')")
            found = self.env.get(name)
            if found is None or found == "" and default is not None:
                if default is None:
                    raise self.error(key, f"environment variable {name} is not set")
                return default
            return found

        return _REFERENCE.sub(replace, value)

    def string(self, value: Any, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, "expected a string")
        return self.expand(value, key) if isinstance(value, str) else str(value)

    def optional_string(self, value: Any, key: str) -> str | None:
        return None if value is None else self.string(value, key)

    def labels(self, value: Any, key: str) -> dict[str, str]:
        spec = self.mapping(value, key, None)
        return {name: self.string(item, f"{key}.{name}") for name, item in spec.items()}

    def number(self, value: Any, key: str, *, minimum: float | None = None, strict: bool = False) -> float:
        if isinstance(value, str):
            value = self.expand(value, key).strip()
            try:
                value = float(value)
            except ValueError:
                raise self.error(key, "expected a number") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, "expected a finite number")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            raise self.error(key, f"must be {'>' if strict else '>='} {minimum:g}")
        return float(value)

    def integer(self, value: Any, key: str) -> int:
        if isinstance(value, str):
            value = self.expand(value, key).strip()
            if not value.isdigit():
                raise self.error(key, "expected an integer")
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise self.error(key, "expected an integer port (1-65535)")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if isinstance(value, str):
            text = self.expand(value, key).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0", ""):
                return False
            raise self.error(key, "expected true or false")
        if not isinstance(value, bool):
            raise self.error(key, "expected true or false")
        return value


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
