"""The docker-compose stack, Dockerfile and .env.example, checked without a Docker engine.

``docker compose config`` needs no engine, so it also runs when the compose plugin is
installed (skipped otherwise; the checks below cover what matters either way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from collector.cli import build_parser
from collector.config import SPECS
from tests.dashboards.panels import PROVIDER_FILE, ROOT, load_yaml

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
STATE_DIR = "/var/lib/tesla-energy"
REQUIRED = {"INFLUX_TOKEN", "INFLUX_ADMIN_PASSWORD", "GF_ADMIN_PASSWORD"}
_REFERENCE = re.compile(r"\$\{(\w+)(?P<op>:?[-?])?[^}]*\}")
_PINNED = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+(-[\w.]+)?$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example line without '=': {line!r}"
            values[key.strip()] = value.strip()
    return values


def strings(node: Any) -> list[str]:
    """Every string (keys and values) in a parsed YAML document."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def references() -> dict[str, set[str]]:
    """Variable -> the operators it is used with in docker-compose.yml (comments excluded)."""
    found: dict[str, set[str]] = {}
    for text in strings(load_yaml(COMPOSE_FILE)):
        for match in _REFERENCE.finditer(text):
            found.setdefault(match[1], set()).add(match["op"] or "")
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_every_compose_variable_is_in_env_example() -> None:
    listed = env_example()
    used = references()
    assert sorted(set(used) - set(listed)) == []
    unused = {name for name in set(listed) - set(used) if not name.startswith("COMPOSE_")}
    assert sorted(unused) == [], "listed in .env.example but unused"


def test_secrets_have_no_default_and_stay_empty_in_the_example() -> None:
    used, listed = references(), env_example()
    for name in REQUIRED:
        assert used[name] == {":?"}, f"{name} must be required (${{{name}:?...}})"
        assert listed[name] == "", f".env.example must not ship a value for {name}"


def test_images_are_pinned(services: dict[str, Any]) -> None:
    images = {name: svc["image"] for name, svc in services.items()}
    assert images["influxdb"].startswith("influxdb:2.7.")
    assert images["grafana"].startswith("grafana/grafana:")
    for name, image in images.items():
        assert "latest" not in image, name
        if "build" not in services[name]:
            assert _PINNED.match(image), f"{name}: {image} is not pinned to a full version"
    for stage in [args for op, args in dockerfile_instructions() if op in ("ARG", "FROM")]:
        assert "latest" not in stage


def test_influxdb_unattended_setup_volume_and_healthcheck(services: dict[str, Any]) -> None:
    influx = services["influxdb"]
    env = influx["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert env[f"DOCKER_INFLUXDB_INIT_{key}"].startswith("${"), key
    assert any(v.endswith(":/var/lib/influxdb2") for v in influx["volumes"])
    assert influx["healthcheck"]["test"][0] == "CMD"
    assert influx["restart"] == "unless-stopped"


def test_grafana_provisioning_and_security(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GF_ADMIN_PASSWORD:?")
    datasource = load_yaml(PROVIDER_FILE.parents[1] / "datasources" / "influxdb.yaml")
    for var in re.findall(r"\$\{(\w+)\}", json.dumps(datasource)):
        assert var in env, f"the datasource reads {var}; pass it to the grafana service"
    mounts = {}
    for volume in grafana["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), f"{source} is mounted but missing"
            mounts[source.rstrip("/")] = target
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider_path = load_yaml(PROVIDER_FILE)["providers"][0]["options"]["path"]
    assert mounts["./grafana/dashboards"] == provider_path
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider_path + "/")
    assert (ROOT / "grafana" / "dashboards" / Path(home).name).is_file()
    assert grafana["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert "healthcheck" in grafana


def test_collector_service(services: dict[str, Any], compose: dict[str, Any]) -> None:
    collector = services["collector"]
    assert collector["build"] == "."
    assert collector["init"] is True
    assert collector["restart"] == "unless-stopped"
    assert collector["stop_grace_period"]
    assert collector["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert collector["command"] == ["run"]
    volume = next(v for v in collector["volumes"] if v.endswith(f":{STATE_DIR}"))
    assert volume.split(":")[0] in compose["volumes"]
    env = collector["environment"]
    assert env["COLLECTOR_STATE_DIR"] == STATE_DIR
    assert env["INFLUX_URL"] == "http://influxdb:8086"
    known = {spec.env for spec in SPECS if spec.env}
    assert sorted(set(env) - known) == [], "the collector does not read these"


def test_simulator_is_the_default_tesla_source(services: dict[str, Any]) -> None:
    env = services["collector"]["environment"]
    assert env["TESLA_API_URL"].endswith("-http://simulator:8080}")
    assert env["TESLA_AUTH_URL"].endswith("-http://simulator:8080/oauth2/v3/token}")
    assert env["TESLA_ACCESS_TOKEN"].endswith("-demo}")
    listed = env_example()
    assert listed["TESLA_API_URL"] == "http://simulator:8080"
    assert listed["COMPOSE_PROFILES"] == "simulator"
    simulator = services["simulator"]
    assert simulator["profiles"] == ["simulator"]
    assert simulator["image"] == services["collector"]["image"]
    assert simulator["init"] is True
    port = simulator["command"][simulator["command"].index("--port") + 1]
    assert "http://simulator:" + port in env["TESLA_API_URL"]
    assert "healthcheck" in simulator


def test_compose_commands_are_cli_commands(services: dict[str, Any]) -> None:
    parser = build_parser()
    for name in ("collector", "simulator"):
        args = parser.parse_args(services[name]["command"])
        assert callable(args.handler), name


def test_dockerfile() -> None:
    steps = dockerfile_instructions()
    ops = [op for op, _ in steps]
    assert ops.count("FROM") >= 2, "multi-stage build"
    assert any("AS build" in args for op, args in steps if op == "FROM")
    assert "COPY" in ops and any("--from=build" in a for op, a in steps if op == "COPY")
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    last = {op: args for op, args in steps}
    assert json.loads(last["ENTRYPOINT"]) == ["tesla-energy"]
    assert json.loads(last["CMD"]) == ["run"]
    health = last["HEALTHCHECK"]
    assert json.loads(health.split("CMD", 1)[1]) == ["python", "-m", "collector.health"]
    assert f"COLLECTOR_STATE_DIR={STATE_DIR}" in " ".join(a for op, a in steps if op == "ENV")


def test_health_module_is_the_containers_healthcheck(tmp_path: Path) -> None:
    from collector import health

    assert health.main([str(tmp_path)]) == 1  # no heartbeat yet: unhealthy
    beat = health.Health(tmp_path, stale_after=30)
    beat.wrote()
    assert health.main([str(tmp_path)]) == 0


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for name in (".git", ".venv", ".env", "tests", "grafana"):
        assert name in ignored, name
    for needed in ("collector", "pyproject.toml", "README.md"):
        assert needed not in ignored, needed


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_validates() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client here; the structural checks above still ran")
    env = {**os.environ, **{name: "x" * 12 for name in REQUIRED}}
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE),
                             "config", "--quiet"], capture_output=True, text=True, env=env,
                            cwd=ROOT, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_missing_secrets() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client here")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE),
                             "config", "--quiet"], capture_output=True, text=True, env=env,
                            cwd=ROOT, check=False, timeout=60)
    assert result.returncode != 0
    assert "INFLUX_ADMIN_PASSWORD" in result.stderr or "INFLUX_TOKEN" in result.stderr
