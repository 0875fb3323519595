"""Configuration: TOML + environment precedence, validation messages, the example file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from collector.config import NA_API_URL, SPECS, Settings, load_settings
from collector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "collector.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment():
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.tesla.api_url == NA_API_URL
    assert settings.token_file == Path("state/tokens.json")


def test_example_file_parses_and_documents_every_setting():
    data = tomllib.loads(EXAMPLE.read_text())
    documented = {(section, key) for section, table in data.items() for key in table}
    assert documented == {(s.section, s.key) for s in SPECS}
    assert load_settings(EXAMPLE, environ={}) == Settings(source_file=EXAMPLE)
    text = EXAMPLE.read_text()
    for spec in SPECS:
        if spec.env:
            assert spec.env in text, f"{spec.env} not mentioned in the example file"


def test_example_comments_each_key():
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[i - 1].startswith("#"), f"undocumented key: {line}"


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, '[influx]\nurl = "http://file:8086"\nbucket = "b"\n')
    env = {"INFLUX_URL": "http://env:8086/", "TESLA_SITE_IDS": "1, 22", "COLLECTOR_CONFIG": ""}
    settings = load_settings(path, environ=env)
    assert settings.influx.url == "http://env:8086"
    assert settings.influx.bucket == "b"
    assert settings.tesla.site_ids == (1, 22)


def test_collector_config_env_names_the_file(tmp_path):
    path = write(tmp_path, "[intervals]\nlive_seconds = 30\n")
    assert load_settings(environ={"COLLECTOR_CONFIG": str(path)}).intervals.live_seconds == 30.0


def test_region_shorthand():
    settings = load_settings(environ={"TESLA_API_URL": "eu"})
    assert settings.tesla.api_url.endswith("eu.vn.cloud.tesla.com")


@pytest.mark.parametrize(
    ("env", "key", "fix"),
    [
        ({"COLLECTOR_LIVE_INTERVAL": "0.2"}, "intervals.live_seconds", "at least 1 second"),
        ({"COLLECTOR_LIVE_INTERVAL": "fast"}, "intervals.live_seconds", "not a number"),
        ({"INFLUX_URL": "localhost:8086"}, "influx.url", "http(s) URL"),
        ({"TESLA_SITE_IDS": "12,abc"}, "tesla.site_ids", "numeric energy_site_id"),
        ({"COLLECTOR_LOG_LEVEL": "loud"}, "log.level", "debug, info, warning, error"),
        ({"COLLECTOR_LOG_FORMAT": "xml"}, "log.format", "json"),
        ({"TESLA_TIME_ZONE": "Mars/Olympus"}, "tesla.time_zone", "IANA"),
        ({"COLLECTOR_HEALTH_PORT": "70000"}, "collector.health_port", "0-65535"),
        ({"COLLECTOR_BACKFILL_CONCURRENCY": "0"}, "backfill.concurrency", "1 or more"),
        ({"TESLA_REFRESH_TOKEN": "rt-123456789"}, "tesla.client_id", "TESLA_CLIENT_ID"),
    ],
)
def test_invalid_values_name_key_problem_and_fix(env, key, fix):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    message = str(info.value)
    assert key in message and fix in message
    assert "\n" not in message


def test_secret_values_never_appear_in_errors_or_repr():
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"TESLA_REFRESH_TOKEN": "rt-canary-123456"})
    assert "rt-canary-123456" not in str(info.value)
    settings = load_settings(environ={"TESLA_ACCESS_TOKEN": "at-canary-123456"})
    assert settings.tesla.access_token.value == "at-canary-123456"
    assert "at-canary-123456" not in repr(settings) and "at-canary-123456" not in f"{settings}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[influx\nurl=1", "not valid TOML"),
        ("[nosuch]\na = 1\n", "unknown section [nosuch]"),
        ("[influx]\nbukket = 'x'\n", "unknown key influx.bukket"),
        ("[intervals]\nlive_seconds = -5\n", "intervals.live_seconds"),
        ("[tesla]\nsite_ids = ['x1']\n", "tesla.site_ids"),
        ("[tesla]\nmax_retries = true\n", "tesla.max_retries"),
    ],
)
def test_file_errors_are_one_line_naming_the_problem(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert fragment in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
