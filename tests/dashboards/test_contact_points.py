"""Contact points from ALERT_* variables (``collector.alerting``): the file for each
combination parses as YAML in Grafana's alerting file-provisioning shape, nothing is
provisioned when nothing is set, bad values stop with one line and exit 2, and
docker-compose runs the step before Grafana and mounts what it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collector import alerting
from tests.dashboards.panels import ROOT, load_yaml

RULES = ROOT / "grafana" / "provisioning" / "alerting" / "tesla-energy-alerts.yaml"
EMAIL = {"ALERT_EMAIL_TO": "owner@example.com, installer@example.org",
         "GF_SMTP_HOST": "smtp.example.com:587"}
WEBHOOK = {"ALERT_WEBHOOK_URL": "https://ntfy.example.com/powerwall"}
CASES = {"none": {}, "email": EMAIL, "webhook": WEBHOOK, "both": {**EMAIL, **WEBHOOK}}


def run(tmp_path: Path, env: dict[str, str], capsys) -> tuple[int, dict | None, str]:
    out = tmp_path / "alerting"
    code = alerting.main([str(out), "--rules", str(RULES)], env=env)
    captured = capsys.readouterr()
    target = out / alerting.OUT_FILE
    parsed = yaml.safe_load(target.read_text()) if target.exists() else None
    return code, parsed, captured.out + captured.err


def assert_grafana_shape(doc: dict) -> None:
    """apiVersion 1, contactPoints[].name/receivers[].uid/type/settings, policies[] whose
    receivers all exist (Grafana's file-provisioning format)."""
    assert doc["apiVersion"] == 1
    names = set()
    for point in doc["contactPoints"]:
        names.add(point["name"])
        assert point["orgId"] == 1 and point["receivers"]
        for receiver in point["receivers"]:
            assert receiver["uid"] and receiver["type"] in ("email", "webhook")
            assert isinstance(receiver["settings"], dict) and receiver["settings"]
    (policy,) = doc["policies"]
    assert policy["orgId"] == 1 and policy["receiver"] in names
    (route,) = policy["routes"]
    assert route["receiver"] in names
    assert route["object_matchers"] == [["grafana_folder", "=", "Tesla Energy"]]


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_file_per_combination(case, tmp_path, capsys):
    code, doc, output = run(tmp_path, CASES[case], capsys)
    assert code == 0
    assert (tmp_path / "alerting" / RULES.name).read_text() == RULES.read_text()
    if case == "none":
        assert doc is None and "none configured" in output
        return
    assert_grafana_shape(doc)
    receivers = {r["type"]: r["settings"] for r in doc["contactPoints"][0]["receivers"]}
    expected = {"email": {"email"}, "webhook": {"webhook"}, "both": {"email", "webhook"}}
    assert set(receivers) == expected[case]
    if "email" in receivers:
        assert receivers["email"]["addresses"] == "owner@example.com;installer@example.org"
    if "webhook" in receivers:
        assert receivers["webhook"]["url"] == WEBHOOK["ALERT_WEBHOOK_URL"]
    assert "ntfy.example.com" not in output  # the URL may hold a token: never printed


def test_unsetting_every_variable_removes_the_contact_points(tmp_path, capsys):
    run(tmp_path, CASES["both"], capsys)
    code, doc, _ = run(tmp_path, {"ALERT_EMAIL_TO": " ", "ALERT_WEBHOOK_URL": ""}, capsys)
    assert code == 0 and doc is None


@pytest.mark.parametrize(("env", "names"), [
    ({"ALERT_EMAIL_TO": "owner@example.com"}, "GF_SMTP_HOST"),
    ({**EMAIL, "ALERT_EMAIL_TO": "owner at example.com"}, "ALERT_EMAIL_TO"),
    ({"ALERT_WEBHOOK_URL": "ntfy.example.com/x"}, "ALERT_WEBHOOK_URL"),
    ({"ALERT_WEBHOOK_URL": "https://hook.example.com/$TOKEN"}, "'$'"),
], ids=["email-without-smtp", "bad-address", "url-without-scheme", "dollar"])
def test_bad_values_are_one_line_and_exit_2(env, names, tmp_path, capsys):
    code, doc, output = run(tmp_path, env, capsys)
    assert code == 2 and doc is None
    assert len(output.strip().splitlines()) == 1 and names in output
    assert "Traceback" not in output
    assert not (tmp_path / "alerting").exists()  # nothing half-written


def test_compose_runs_the_step_before_grafana_and_mounts_its_output():
    services = load_yaml(ROOT / "docker-compose.yml")["services"]
    step, grafana = services["alerting"], services["grafana"]
    assert step["entrypoint"][-1] == "collector.alerting"
    out, rules = step["command"][0], step["command"][step["command"].index("--rules") + 1]
    step_mounts = {v.split(":")[0]: v.split(":")[1] for v in step["volumes"]}
    assert step_mounts["grafana-alerting"] == out
    source = next(s for s, t in step_mounts.items() if rules.startswith(t + "/"))
    assert (ROOT / source / Path(rules).name).resolve() == RULES
    for name in ("ALERT_EMAIL_TO", "ALERT_WEBHOOK_URL", "GF_SMTP_HOST"):
        assert name in step["environment"]
    assert grafana["depends_on"]["alerting"]["condition"] == "service_completed_successfully"
    targets = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert targets["grafana-alerting"] == "/etc/grafana/provisioning/alerting"
    for name in ("GF_SMTP_ENABLED", "GF_SMTP_HOST", "GF_SMTP_USER", "GF_SMTP_PASSWORD",
                 "GF_SMTP_FROM_ADDRESS"):
        assert name in grafana["environment"]
