"""Grafana alerting contact points from environment variables (the compose ``alerting`` step).

``python -m collector.alerting OUT_DIR [--rules FILE]`` runs once before Grafana starts: it
copies the bundled alert rules (``--rules``) into ``OUT_DIR`` (Grafana's provisioning/alerting
directory, a volume) and writes ``contact-points.yaml`` there with only the contact points whose
variables are set, plus a notification policy routing the "Tesla Energy" folder to them:

- ``ALERT_EMAIL_TO``: addresses (comma or semicolon list); needs Grafana's ``GF_SMTP_HOST``.
- ``ALERT_WEBHOOK_URL``: an http(s) URL that receives Grafana's webhook JSON.

With none set no contact-points file is written (Grafana's default: nothing is sent). The file
is JSON, which YAML parsers (Grafana's included) read as YAML; the collector needs no YAML
library. A bad value is one line on stderr and exit code 2, so Grafana does not start with a
broken contact point. Nothing here talks to Grafana, the Fleet API or InfluxDB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collector.errors import ConfigError

FOLDER = "Tesla Energy"
CONTACT_POINT = "Tesla Energy"
OUT_FILE = "contact-points.yaml"
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")


def _value(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if "$" in value:  # Grafana may expand $NAME in provisioning values
        raise ConfigError(f"{name} contains '$', which Grafana's provisioning would expand "
                          "as a variable; use a value without '$'")
    return value


def email_receiver(env: Mapping[str, str]) -> dict[str, Any] | None:
    raw = _value(env, "ALERT_EMAIL_TO")
    if not raw:
        return None
    addresses = [a.strip() for a in re.split(r"[;,]", raw) if a.strip()]
    bad = [a for a in addresses if not _EMAIL.match(a)]
    if bad or not addresses:
        raise ConfigError(f"ALERT_EMAIL_TO: {bad[0] if bad else raw!r} is not an email "
                          "address; give addresses separated by commas")
    if not env.get("GF_SMTP_HOST", "").strip():
        raise ConfigError("ALERT_EMAIL_TO is set but GF_SMTP_HOST is empty: Grafana needs an "
                          "SMTP server to send email (set GF_SMTP_HOST, GF_SMTP_USER, "
                          "GF_SMTP_PASSWORD, GF_SMTP_FROM_ADDRESS in .env)")
    return {"uid": "tesla-energy-email", "type": "email",
            "settings": {"addresses": ";".join(addresses), "singleEmail": True}}


def webhook_receiver(env: Mapping[str, str]) -> dict[str, Any] | None:
    url = _value(env, "ALERT_WEBHOOK_URL")
    if not url:
        return None
    if not re.match(r"^https?://[^\s/]+", url):
        raise ConfigError(f"ALERT_WEBHOOK_URL {url!r} is not an http:// or https:// URL")
    return {"uid": "tesla-energy-webhook", "type": "webhook",
            "settings": {"url": url, "httpMethod": "POST"}}


def document(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The provisioning document for ``env``, or None when no contact point is configured."""
    receivers = [r for r in (email_receiver(env), webhook_receiver(env)) if r is not None]
    if not receivers:
        return None
    route = {"receiver": CONTACT_POINT,
             "object_matchers": [["grafana_folder", "=", FOLDER]],
             "group_by": ["grafana_folder", "alertname", "site_name"]}
    return {
        "apiVersion": 1,
        "contactPoints": [{"orgId": 1, "name": CONTACT_POINT, "receivers": receivers}],
        "policies": [{"orgId": 1, "receiver": CONTACT_POINT,
                      "group_by": ["grafana_folder", "alertname"], "routes": [route]}],
    }


def write(out_dir: Path, env: Mapping[str, str], rules: Path | None = None) -> list[str]:
    """Write ``out_dir``'s provisioning files; returns the receiver types provisioned."""
    doc = document(env)  # validate before touching anything
    out_dir.mkdir(parents=True, exist_ok=True)
    if rules is not None:
        shutil.copyfile(rules, out_dir / rules.name)
    target = out_dir / OUT_FILE
    if doc is None:
        target.unlink(missing_ok=True)
        return []
    target.write_text("# Generated at start by python -m collector.alerting from ALERT_* "
                      "variables.\n" + json.dumps(doc, indent=2) + "\n")
    return [r["type"] for r in doc["contactPoints"][0]["receivers"]]


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.alerting",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--rules", type=Path, help="alert rules file to copy into OUT_DIR")
    args = parser.parse_args(argv)
    try:
        if args.rules is not None and not args.rules.is_file():
            raise ConfigError(f"--rules {args.rules}: no such file")
        kinds = write(args.out_dir, os.environ if env is None else env, args.rules)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {args.out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("contact points: " + (", ".join(kinds) if kinds else
                                "none configured (no notification is sent)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
