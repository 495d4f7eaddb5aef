"""What the shipped dashboard and alert rules query: their PromQL expressions and the metric names in them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests._shared import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
_METRIC = re.compile(r"\bplex_cognite_[a-z0-9_]+\b")
_SERIES_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def dashboard_expressions() -> dict[str, str]:
    """`{"<file> / <panel title> / <refId>": expr}` for every Grafana panel target under deploy/grafana."""
    found: dict[str, str] = {}
    for path in sorted((DEPLOY / "grafana").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found[f"{path.name} / {panel['title']} / {target['refId']}"] = target["expr"]
    return found


def alert_expressions(path: Path = DEPLOY / "prometheus" / "alerts.yml") -> dict[str, str]:
    """`{alert name: expr}` for every rule in the alert file."""
    document = yaml.safe_load(path.read_text())
    return {rule["alert"]: rule["expr"] for group in document["groups"] for rule in group["rules"]}


def metric_names(expression: str) -> set[str]:
    """Metric names (`plex_cognite_...`) in a PromQL expression."""
    return set(_METRIC.findall(expression))


def family_of(series: str) -> str:
    """The metric family a series name belongs to (`x_seconds_bucket` -> `x_seconds`, `x_total` -> `x`)."""
    for suffix in _SERIES_SUFFIXES:
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series
