"""``deploy/kubernetes``: every manifest passes a pinned minimal Kubernetes schema (no cluster),
the pieces refer to each other correctly, and the entrypoint turns a pod ordinal into a shard."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "kubernetes-minimal.schema.json").read_text())


def documents() -> dict[str, dict]:
    docs = [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]
    return {d["kind"]: d for d in docs}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_passes_the_schema(path: Path):
    for doc in yaml.safe_load_all(path.read_text()):
        jsonschema.validate(doc, SCHEMA)


def test_schema_rejects_a_broken_statefulset():
    broken = documents()["StatefulSet"]
    del broken["spec"]["serviceName"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_manifests_fit_together():
    docs = documents()
    assert set(docs) == {"ConfigMap", "Secret", "Service", "StatefulSet"}
    sts, config = docs["StatefulSet"]["spec"], docs["ConfigMap"]["data"]
    container = sts["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert sts["serviceName"] == docs["Service"]["metadata"]["name"]
    assert env["COLLECTOR_REPLICAS"]["value"] == str(sts["replicas"])
    assert container["envFrom"][0]["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    secret = docs["Secret"]
    for item in env.values():
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    for ordinal in range(sts["replicas"]):  # one single-use refresh token per replica
        assert f"refresh-token-{ordinal}" in secret["stringData"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert str(port) == config["COLLECTOR_HEALTH_PORT"]
    assert config["COLLECTOR_HEALTH_ADDRESS"] == "0.0.0.0"  # probes come from outside the pod
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert sts["selector"]["matchLabels"].items() <= sts["template"]["metadata"]["labels"].items()


def test_entrypoint_derives_the_shard_from_the_pod_ordinal(tmp_path: Path):
    container = documents()["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    script = container["args"][0].replace("exec tesla-energy run",
                                          'echo "$COLLECTOR_SHARD $TESLA_REFRESH_TOKEN"')
    script = script.replace("/etc/tesla-tokens", str(tmp_path))
    (tmp_path / "refresh-token-1").write_text("token-of-pod-1")
    env = {"PATH": os.environ["PATH"], "HOSTNAME": "tesla-energy-collector-1",
           "COLLECTOR_REPLICAS": "2"}
    out = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "1/2 token-of-pod-1"


def test_sharded_compose_entrypoint_turns_the_task_slot_into_a_shard(tmp_path: Path):
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "docker-compose.sharded.yml")
                             .read_text())
    service = compose["services"]["collector"]
    replicas = service["deploy"]["replicas"]
    assert service["environment"]["COLLECTOR_REPLICAS"] == str(replicas)
    assert len(service["secrets"]) == replicas
    # compose turns $$ into $; the secrets directory is redirected to tmp_path
    script = (service["command"][0].replace("$$", "$").replace("/run/secrets", str(tmp_path))
              .replace("exec tesla-energy run", 'echo "$COLLECTOR_SHARD $TESLA_REFRESH_TOKEN"'))
    (tmp_path / "tesla_refresh_token_2").write_text("token-of-slot-3")
    env = {"PATH": os.environ["PATH"], "HOSTNAME": "collector-3", "COLLECTOR_REPLICAS": "3"}
    out = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "2/3 token-of-slot-3"
