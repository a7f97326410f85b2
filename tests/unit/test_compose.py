"""The docker-compose stack, checked as far as it can be without a Docker engine: names,
commands, ports and files must agree with the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cardpulse.cli import _parser
from core.settings import Settings
from dashboards.build import POSTGRES, PROMETHEUS
from simulators.knobs import SimKnobs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
CARDPULSE = {name: spec for name, spec in SERVICES.items()
             if spec.get("image") == "cardpulse:latest"}


def verbs() -> set[str]:
    sub = next(a for a in _parser()._actions if a.dest == "verb")
    return set(sub.choices)  # type: ignore[arg-type]


def test_every_cardpulse_variable_is_a_setting_or_a_simulator_knob() -> None:
    settings = set(Settings.model_fields)
    knobs = set(SimKnobs.model_fields)
    assert CARDPULSE.keys() >= {"init", "api", "worker", "controls", "simulator"}
    for name, spec in CARDPULSE.items():
        for variable in spec["environment"]:
            field = variable.removeprefix("CARDPULSE_").lower()
            ok = field in settings or (field.startswith("sim_") and field[4:] in knobs)
            assert ok, f"{name}: {variable} is not read by CardPulse"


def test_every_command_exists() -> None:
    for name, spec in CARDPULSE.items():
        program, verb = spec["command"]
        assert program == "cardpulse" and verb in verbs(), name
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert re.search(r'CMD \["cardpulse", "up"\]', dockerfile)


def test_ports_and_scrape_targets_agree() -> None:
    env = CARDPULSE["api"]["environment"]
    assert SERVICES["api"]["ports"] == [f"{env['CARDPULSE_API_PORT']}:8000"]
    assert SERVICES["simulator"]["ports"] == [f"{env['CARDPULSE_SIM_PORT']}:8100"]
    assert env["CARDPULSE_OPERATOR_BASE_URL"] == f"http://simulator:{env['CARDPULSE_SIM_PORT']}"
    assert env["CARDPULSE_PAYMENT_BASE_URL"] == f"{env['CARDPULSE_OPERATOR_BASE_URL']}/_pay"
    scrape = yaml.safe_load((ROOT / "dashboards/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["cardpulse-api"]["static_configs"][0]["targets"] == [
        f"api:{env['CARDPULSE_API_PORT']}"]
    assert jobs["cardpulse-worker"]["dns_sd_configs"][0]["port"] == int(
        env["CARDPULSE_WORKER_METRICS_PORT"])
    assert jobs["cardpulse-controls"]["static_configs"][0]["targets"] == [
        f"controls:{env['CARDPULSE_CONTROLS_METRICS_PORT']}"]


def test_volumes_exist_and_datasources_match_the_dashboards() -> None:
    named = set(COMPOSE["volumes"])
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    provisioned = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/cardpulse.yaml").read_text())
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert uids == {PROMETHEUS.uid: PROMETHEUS.type_val, POSTGRES.uid: POSTGRES.type_val}
