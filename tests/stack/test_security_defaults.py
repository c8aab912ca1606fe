"""Static security checks of what the stack publishes (run in CI; see SECURITY.md).

* every port docker-compose.yml publishes is bound to 127.0.0.1 when the user sets nothing
  (compose interpolation with an empty environment), so a default ``docker compose up`` opens
  nothing to the network;
* no Grafana anonymous role above Viewer anywhere in the shipped configs, the login form stays on,
  and no admin password is written in the repository;
* the configs the local stack runs listen on 127.0.0.1 by default.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_PATH = REPO / "docker-compose.yml"
_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
_ALLOWED_ANONYMOUS_ROLES = {"viewer"}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-spec interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?msg}``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present = name in env
        empty = not env.get(name)
        if op == ":-":
            return arg if empty else env[name]
        if op == "-":
            return arg if not present else env[name]
        if op in (":?", "?") and (empty if op == ":?" else not present):
            raise LookupError(f"{name} is required: {arg}")
        return env.get(name, "")

    return _VAR.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def published_host(entry: object, env: dict[str, str]) -> str | None:
    """The host IP of one compose ``ports`` entry (None when it has none: all interfaces)."""
    if isinstance(entry, dict):  # long syntax
        return entry.get("host_ip")
    text = interpolate(str(entry), env)
    parts = text.rsplit(":", 2)
    return parts[0] if len(parts) == 3 else None


def compose_ports(compose: dict) -> list[tuple[str, object]]:
    return [(name, p) for name, svc in compose["services"].items() for p in svc.get("ports", [])]


def anonymous_roles(compose: dict) -> list[tuple[str, str]]:
    found = []
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            if key.upper() == "GF_AUTH_ANONYMOUS_ORG_ROLE":
                found.append((name, str(value)))
    return found


def security_problems(compose: dict) -> list[str]:
    """Every default that would expose the stack; empty when the file is safe."""
    problems = []
    for service, entry in compose_ports(compose):
        host = published_host(entry, env={})
        if host != "127.0.0.1":
            problems.append(f"{service} publishes {entry!r} on {host or 'all interfaces'}, not 127.0.0.1")
    for service, role in anonymous_roles(compose):
        if role.strip().lower() not in _ALLOWED_ANONYMOUS_ROLES:
            problems.append(f"{service}: anonymous Grafana role {role!r} (at most Viewer)")
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        env = env if isinstance(env, dict) else dict(e.split("=", 1) for e in env)
        if str(env.get("GF_AUTH_DISABLE_LOGIN_FORM", "false")).lower() == "true":
            problems.append(f"{name}: Grafana login form disabled")
        password = env.get("GF_SECURITY_ADMIN_PASSWORD")
        if password is not None and not _VAR.fullmatch(str(password)):
            problems.append(f"{name}: Grafana admin password written in the file")
    return problems


def test_shipped_compose_file_is_safe_by_default():
    assert security_problems(yaml.safe_load(COMPOSE_PATH.read_text())) == []


def test_every_published_port_defaults_to_loopback_and_can_be_exposed_on_purpose():
    compose = yaml.safe_load(COMPOSE_PATH.read_text())
    ports = compose_ports(compose)
    assert len(ports) >= 6
    assert {published_host(p, {}) for _, p in ports} == {"127.0.0.1"}
    assert {published_host(p, {"DDEX_PUBLISH_ADDRESS": "0.0.0.0"}) for _, p in ports} == {"0.0.0.0"}


def test_grafana_needs_an_admin_password_from_the_environment():
    grafana = yaml.safe_load(COMPOSE_PATH.read_text())["services"]["grafana"]["environment"]
    with pytest.raises(LookupError, match="GRAFANA_ADMIN_PASSWORD"):
        interpolate(grafana["GF_SECURITY_ADMIN_PASSWORD"], {})
    assert interpolate(grafana["GF_SECURITY_ADMIN_PASSWORD"], {"GRAFANA_ADMIN_PASSWORD": "s3cret"}) == "s3cret"


@pytest.mark.parametrize(
    "ports, environment, expected",
    [
        (["4317:4317"], {}, "all interfaces"),
        (["0.0.0.0:4317:4317"], {}, "on 0.0.0.0"),
        (["${BIND:-0.0.0.0}:4317:4317"], {}, "on 0.0.0.0"),
        ([{"target": 4317, "published": 4317}], {}, "all interfaces"),
        (["127.0.0.1:4317:4317"], {"GF_AUTH_ANONYMOUS_ORG_ROLE": "Admin"}, "at most Viewer"),
        (["127.0.0.1:4317:4317"], {"GF_AUTH_ANONYMOUS_ORG_ROLE": "Editor"}, "at most Viewer"),
        (["127.0.0.1:4317:4317"], {"GF_AUTH_DISABLE_LOGIN_FORM": "true"}, "login form"),
        (["127.0.0.1:4317:4317"], {"GF_SECURITY_ADMIN_PASSWORD": "admin"}, "password written"),
    ],
)
def test_the_check_catches_each_unsafe_default(ports, environment, expected):
    compose = {"services": {"svc": {"image": "x:1.0.0", "ports": ports, "environment": environment}}}
    problems = security_problems(compose)
    assert len(problems) == 1 and expected in problems[0], problems


def test_local_stack_configs_listen_on_loopback_by_default():
    for config in ("otelcol-config.yaml", "jaeger/jaeger-config.yaml"):
        text = (REPO / "collector" / config).read_text()
        hosts = re.findall(r"\$\{env:DDEX_\w+_HOST:-([^}]+)\}", text)
        assert hosts and set(hosts) == {"127.0.0.1"}, (config, hosts)
    assert "0.0.0.0" not in (REPO / "collector" / "otelcol-config.yaml").read_text().split("\n# ")[0]
