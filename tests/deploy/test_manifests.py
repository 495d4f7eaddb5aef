"""The deploy files keep their promises: the config they mount loads, the modes run as documented, the CDF module
creates what that config points at. (Schemas are checked by `.ci/validate-deploy`; these are the facts schemas
cannot see.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plex_cognite.config import load_settings
from tests.deploy._queries import DEPLOY

K8S = DEPLOY / "kubernetes"
MODULE = DEPLOY / "cdf" / "modules" / "plex_cognite"
SECRET_ENV = {"PLEX_API_KEY": "k", "CDF_CLIENT_ID": "id", "CDF_CLIENT_SECRET": "s"}


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def module_values() -> dict[str, Any]:
    """The toolkit module's variables, as `config.dev.yaml` sets them."""
    return load(DEPLOY / "cdf" / "config.dev.yaml")["variables"]["modules"]["plex_cognite"]  # type: ignore[no-any-return]


def module_resource(path: Path) -> dict[str, Any]:
    """A module resource with its `{{ variables }}` filled in from config.dev.yaml, as `cdf build` does."""
    text = path.read_text()
    for name, value in module_values().items():
        text = text.replace("{{ " + name + " }}", str(value))
    assert "{{" not in text, f"{path.name} uses a variable config.dev.yaml does not set"
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def pod_spec(path: Path) -> dict[str, Any]:
    document = load(path)
    if document["kind"] == "CronJob":
        return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return document["spec"]["template"]["spec"]  # type: ignore[no-any-return]


@pytest.fixture
def mounted_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return load_settings(K8S / "base" / "config.yaml", env_file=None)


def test_the_mounted_config_loads_with_the_secret_environment(mounted_settings: Any) -> None:
    assert mounted_settings.metrics.enabled
    assert mounted_settings.metrics.host == "0.0.0.0"
    assert (mounted_settings.state.backend, mounted_settings.dead_letters.backend) == ("raw", "raw")


@pytest.mark.parametrize("manifest", ["continuous/deployment.yaml", "scheduled/cronjob.yaml"])
def test_pods_take_every_secret_the_config_needs_from_secret_refs(manifest: str) -> None:
    [container] = pod_spec(K8S / manifest)["containers"]
    refs = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container["env"] if "valueFrom" in env}
    assert set(refs) == set(SECRET_ENV)
    assert {ref["name"] for ref in refs.values()} == {"plex-cognite-credentials"}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert "/config" in mounts


def test_the_cronjob_runs_one_pass_and_never_overlaps() -> None:
    cronjob = load(K8S / "scheduled" / "cronjob.yaml")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = pod_spec(K8S / "scheduled" / "cronjob.yaml")["containers"]
    assert container["args"] == ["run", "--config", "/config/config.yaml", "--once"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PLEX_COGNITE_METRICS__PUSHGATEWAY_URL"]


def test_the_deployment_probes_liveness_and_readiness_on_the_metrics_port() -> None:
    deployment = load(K8S / "continuous" / "deployment.yaml")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    [container] = pod_spec(K8S / "continuous" / "deployment.yaml")["containers"]
    assert "--once" not in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert [port["containerPort"] for port in container["ports"]] == [9108]
    monitor = load(K8S / "continuous" / "servicemonitor.yaml")
    service = load(K8S / "continuous" / "service.yaml")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


def test_the_cdf_module_creates_what_the_config_points_at(mounted_settings: Any) -> None:
    values = module_values()
    assert values["data_set_external_id"] == mounted_settings.cdf.data_set_external_id
    assert values["extraction_pipeline_external_id"] == mounted_settings.cdf.extraction_pipeline_external_id
    assert values["state_database"] == mounted_settings.state.raw_db
    assert values["dead_letter_database"] == mounted_settings.dead_letters.raw_db
    defaults = load(MODULE / "default.config.yaml")
    assert set(defaults) == set(values)


def test_the_group_grants_exactly_the_extractor_s_capabilities() -> None:
    group = module_resource(MODULE / "auth" / "plex-cognite-extractor.Group.yaml")
    granted = {name: acl["actions"] for capability in group["capabilities"] for name, acl in capability.items()}
    assert granted == {
        "datasetsAcl": ["READ"],
        "assetsAcl": ["READ", "WRITE"],
        "eventsAcl": ["READ", "WRITE"],
        "timeSeriesAcl": ["READ", "WRITE"],
        "rawAcl": ["READ", "WRITE"],
        "extractionRunsAcl": ["WRITE"],
        "dataModelInstancesAcl": ["READ", "WRITE"],
        "dataModelsAcl": ["READ"],
    }
    scopes = [acl["scope"] for capability in group["capabilities"] for acl in capability.values()]
    assert all("all" not in scope for scope in scopes)  # every capability is scoped
    raw = next(c["rawAcl"] for c in group["capabilities"] if "rawAcl" in c)
    values = module_values()
    assert set(raw["scope"]["tableScope"]["dbsToTables"]) == {values["state_database"], values["dead_letter_database"]}


def test_the_pipeline_notifies_when_runs_stop_and_lives_in_the_data_set() -> None:
    values = module_values()
    pipeline = module_resource(MODULE / "extraction_pipelines" / "plex-cognite.ExtractionPipeline.yaml")
    assert pipeline["externalId"] == values["extraction_pipeline_external_id"]
    assert pipeline["dataSetExternalId"] == values["data_set_external_id"]
    assert pipeline["notificationConfig"]["allowedNotSeenRangeInMinutes"] == values["not_seen_minutes"]
    assert any(contact["sendNotification"] for contact in pipeline["contacts"])
    for resource in sorted(MODULE.rglob("*.yaml")):
        if resource.name != "default.config.yaml":
            module_resource(resource)  # every variable is set
