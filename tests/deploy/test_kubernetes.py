"""The Kubernetes example (``make deploy-lint`` validates it against the Kubernetes JSON schemas):
stateless replicas on S3, probes on the service's real routes, settings named as bot/settings.py
names them, placeholders that cannot start, and a locked-down pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import SettingsError, load_settings
from module_registry.catalogue import load_registry
from module_registry.projects import load_projects
from tests.deploy.files import SETTING_NAMES, dockerfile_stages, exec_form, kubernetes_resources

RESOURCES = kubernetes_resources()
DEPLOYMENT = RESOURCES[("Deployment", "tfpilot")]
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
SETTINGS_MAP = RESOURCES[("ConfigMap", "tfpilot-settings")]["data"]
SECRET = RESOURCES[("Secret", "tfpilot-secrets")]
FINAL = dockerfile_stages()[-1]


def _secret_refs() -> dict[str, dict[str, Any]]:
    return {env["name"]: env["valueFrom"]["secretKeyRef"] for env in CONTAINER["env"]}


def _container_port(name: str) -> int:
    (port,) = [p["containerPort"] for p in CONTAINER["ports"] if p["name"] == name]
    return int(port)


def test_several_replicas_on_s3() -> None:
    assert DEPLOYMENT["spec"]["replicas"] > 1
    # Stateless only on S3: requests and chat logs both in buckets, nothing on the pod.
    assert SETTINGS_MAP["TFPILOT_REQUESTS_BUCKET"]
    assert SETTINGS_MAP["TFPILOT_CHAT_LOGS_BUCKET"]
    assert DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = RESOURCES[("PodDisruptionBudget", "tfpilot")]["spec"]
    assert budget["minAvailable"] >= 1
    assert budget["selector"] == DEPLOYMENT["spec"]["selector"]


def test_probes_hit_the_services_routes_on_its_port(get_routes: frozenset[str]) -> None:
    readiness, liveness = CONTAINER["readinessProbe"]["httpGet"], CONTAINER["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/api/ready"
    assert liveness["path"] == "/api/health"  # a dependency outage must not restart every pod
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = CONTAINER[probe]["httpGet"]
        assert get["path"] in get_routes, (probe, get["path"])
        assert _container_port(get["port"]) == int(FINAL.last("EXPOSE"))


def test_service_reaches_the_pods() -> None:
    service = RESOURCES[("Service", "tfpilot")]["spec"]
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = service["ports"]
    assert _container_port(port["targetPort"]) == int(FINAL.last("EXPOSE"))


def test_settings_are_tfpilots_and_secrets_come_from_the_secret() -> None:
    assert set(SETTINGS_MAP) <= SETTING_NAMES, set(SETTINGS_MAP) - SETTING_NAMES
    refs = _secret_refs()
    assert set(refs) <= SETTING_NAMES, set(refs) - SETTING_NAMES
    assert not set(refs) & set(SETTINGS_MAP)  # each setting has one source
    assert CONTAINER["envFrom"] == [{"configMapRef": {"name": "tfpilot-settings"}}]
    for name, ref in refs.items():
        assert ref["name"] == SECRET["metadata"]["name"]
        assert ref["key"] == name
    assert set(refs) == set(SECRET["stringData"])  # every secret is used, every reference exists
    assert [name for name, ref in refs.items() if ref.get("optional")] == ["OPENAI_API_KEY"]


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_example_secret_holds_placeholders_that_refuse_to_start() -> None:
    assert set(SECRET["stringData"].values()) == {"REPLACE_ME"}
    with pytest.raises(SettingsError) as refused:
        load_settings({**SETTINGS_MAP, **SECRET["stringData"]}, mode="http")
    assert "SLACK_BOT_TOKEN" in str(refused.value)
    assert "GITHUB_APP_PRIVATE_KEY" in str(refused.value)
    assert "REPLACE_ME" not in str(refused.value)


def test_filled_in_the_manifests_give_http_mode_all_it_needs() -> None:
    real_shaped = {
        "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
        "SLACK_SIGNING_SECRET": "0123456789abcdef",
        "GITHUB_APP_PRIVATE_KEY": _rsa_pem(),
        "GITHUB_WEBHOOK_SECRET": "webhook-secret",
        "TFPILOT_API_TOKEN": "api-token",
        "TFPILOT_WEBHOOK_SECRET": "drift-secret",
    }
    assert set(real_shaped) == set(SECRET["stringData"]) - {"OPENAI_API_KEY"}
    settings = load_settings({**SETTINGS_MAP, **real_shaped}, mode="http")
    assert settings.uses_s3 and settings.uses_github
    assert settings.chat_logs_bucket is not None


def test_projects_map_is_mounted_where_the_setting_points_and_loads() -> None:
    path = Path(SETTINGS_MAP["TFPILOT_PROJECTS_FILE"])
    (mount,) = [m for m in CONTAINER["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in POD["volumes"] if v["name"] == mount["name"]]
    projects = RESOURCES[("ConfigMap", volume["configMap"]["name"])]["data"]
    assert set(projects) == {path.name}


def test_projects_map_is_valid(tmp_path: Path) -> None:
    projects = RESOURCES[("ConfigMap", "tfpilot-projects")]["data"]["projects.yaml"]
    (tmp_path / "projects.yaml").write_text(projects)
    loaded = load_projects(tmp_path / "projects.yaml", known_modules=load_registry(None).ids())
    assert loaded.names() == ["core"]


def test_pod_is_locked_down() -> None:
    pod_security = POD["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    uid, _, gid = FINAL.last("USER").partition(":")
    assert pod_security["runAsUser"] == int(uid) and pod_security["runAsGroup"] == int(gid)
    assert POD["automountServiceAccountToken"] is False
    container_security = CONTAINER["securityContext"]
    assert container_security["readOnlyRootFilesystem"] is True
    assert container_security["allowPrivilegeEscalation"] is False
    assert container_security["capabilities"]["drop"] == ["ALL"]
    # A read-only root still needs somewhere to write temporary files and the data dir.
    writable = {m["mountPath"]: m["name"] for m in CONTAINER["volumeMounts"] if not m.get("readOnly")}
    (data_dir,) = exec_form(FINAL.last("VOLUME"))
    assert set(writable) == {"/tmp", data_dir}
    volumes = {v["name"]: v for v in POD["volumes"]}
    for name in writable.values():
        assert "emptyDir" in volumes[name]


def test_resources_are_requested_and_limited() -> None:
    resources = CONTAINER["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}
