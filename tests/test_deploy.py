"""Container and cluster files agree with the code: routes, ports, user, settings, selectors."""

from __future__ import annotations

import gc
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask

from service import runtime
from service.auth import load_issuers
from service.config import DEFAULTS

from .conftest import ROOT, LiveService

K8S = ROOT / "deploy" / "kubernetes"
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def manifests() -> dict[str, list[dict[str, Any]]]:
    return {
        p.name: [d for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d] for p in sorted(K8S.glob("*.yaml"))
    }


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for docs in manifests().values()
        for d in docs
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)}"
    return found[0]


def api_container() -> dict[str, Any]:
    container: dict[str, Any] = one("Deployment", "magnesium-cds")["spec"]["template"]["spec"]["containers"][0]
    return container


def test_every_manifest_parses_and_kustomization_lists_them_all() -> None:
    docs = manifests()
    for name, items in docs.items():
        for d in items:
            assert {"apiVersion", "kind"} <= set(d), name
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert set(kustomization["resources"]) == set(docs) - {"kustomization.yaml"}


def test_probes_point_at_real_routes(app: Flask) -> None:
    routes = {r.rule for r in app.url_map.iter_rules() if "GET" in (r.methods or ())}
    container = api_container()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_ports_agree_between_image_gunicorn_deployment_and_service() -> None:
    exposed = int(re.search(r"^EXPOSE (\d+)$", DOCKERFILE, re.M)[1])  # type: ignore[index]
    assert f"PORT=${{PORT:-{exposed}}}" in DOCKERFILE or f"PORT={exposed}" in DOCKERFILE
    assert f"os.environ.get('PORT', '{exposed}')" in (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    ports = {p["name"]: p["containerPort"] for p in api_container()["ports"]}
    metrics = int(re.search(r"METRICS_PORT=(\d+)", DOCKERFILE)[1])  # type: ignore[index]
    assert ports == {"http": exposed, "metrics": metrics}
    service = one("Service", "magnesium-cds")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]  # metrics never behind the Service
    pod = one("Deployment", "magnesium-cds")["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics)
    env = {e["name"]: e["value"] for e in api_container()["env"]}
    assert env["METRICS_PORT"] == str(metrics)


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root() -> None:
    uid = int(re.search(r"^USER (\d+):(\d+)$", DOCKERFILE, re.M)[1])  # type: ignore[index]
    pod = one("Deployment", "magnesium-cds")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
    assert pod["automountServiceAccountToken"] is False
    sc = api_container()["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in api_container()["volumeMounts"]}
    env = {e["name"]: e["value"] for e in api_container()["env"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/") and mounts["/tmp"] == "tmp"  # writable scratch


def test_resources_are_requested_and_limited() -> None:
    for container in [
        api_container(),
        one("Deployment", "magnesium-cds-redis")["spec"]["template"]["spec"]["containers"][0],
    ]:
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])


def test_service_hpa_pdb_and_network_policy_select_the_api_pods() -> None:
    labels = one("Deployment", "magnesium-cds")["spec"]["template"]["metadata"]["labels"]
    assert one("Deployment", "magnesium-cds")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one("Service", "magnesium-cds")["spec"]["selector"].items() <= labels.items()
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = one("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "magnesium-cds"}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    policy = one("NetworkPolicy", "magnesium-cds-redis")
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed.items() <= labels.items()
    api = one("NetworkPolicy", "magnesium-cds-api")
    assert api["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(p["port"] for rule in api["spec"]["ingress"] for p in rule["ports"]) == [8080, 9090]


def test_the_ingress_buffers_requests_and_enforces_the_body_limit() -> None:
    ingress = one("Ingress", "magnesium-cds")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "on"
    size = notes["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m") and int(size[:-1]) * 1024 * 1024 == DEFAULTS["MAX_BODY_BYTES"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "magnesium-cds", "port": {"name": "http"}}


def test_redis_keeps_jtis_across_a_restart_and_never_evicts_them() -> None:
    redis = one("Deployment", "magnesium-cds-redis")["spec"]["template"]["spec"]
    args = redis["containers"][0]["args"]
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"
    (volume,) = redis["volumes"]
    claim = one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_config_map_holds_only_known_settings_and_wires_redis_and_issuers() -> None:
    data = one("ConfigMap", "magnesium-cds-config")["data"]
    cds = {k.removeprefix("CDS_") for k in data if k.startswith("CDS_")}
    assert cds <= set(DEFAULTS), cds - set(DEFAULTS)
    assert data["CDS_AUTH_MODE"] == "jwt" and data["CDS_PUBLIC_BASE_URL"].startswith("https://")
    redis_service = one("Service", "magnesium-cds-redis")
    assert (
        data["CDS_REDIS_URL"]
        == f"redis://{redis_service['metadata']['name']}:{redis_service['spec']['ports'][0]['port']}/0"
    )
    issuers_path = Path(data["CDS_TRUSTED_ISSUERS_FILE"])
    mounts = {m["mountPath"]: m["name"] for m in api_container()["volumeMounts"]}
    volume = next(
        v
        for v in one("Deployment", "magnesium-cds")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mounts[str(issuers_path.parent)]
    )
    secret = one("Secret", volume["secret"]["secretName"])
    assert issuers_path.name in secret["stringData"]


def test_trusted_issuers_secret_is_a_valid_issuers_file(tmp_path: Path) -> None:
    secret = one("Secret", "magnesium-cds-trusted-issuers")
    path = tmp_path / "trusted-issuers.yaml"
    path.write_text(secret["stringData"]["trusted-issuers.yaml"], encoding="utf-8")
    assert "https://sandbox.cds-hooks.org" in load_issuers(path)


def test_dockerfile_is_multi_stage_pinned_non_root_with_a_healthcheck() -> None:
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", DOCKERFILE, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)[1]  # type: ignore[index]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base)
    assert "requirements.lock" in DOCKERFILE and "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE
    assert re.search(r"^USER \d+:\d+$", DOCKERFILE, re.M)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "tests", "node_modules"} <= set(ignored)
    cmd = json.loads(re.search(r"^CMD (.+)$", DOCKERFILE, re.M)[1])  # type: ignore[index]
    assert cmd[:3] == ["gunicorn", "--config", "gunicorn.conf.py"] and cmd[-1] == "service:create_app()"


@pytest.mark.parametrize("path", ["service", "rules", "openapi.yaml", "gunicorn.conf.py", "requirements.lock"])
def test_dockerfile_copies_what_the_service_needs(path: str) -> None:
    assert path in DOCKERFILE


def test_gunicorn_starts_when_the_metrics_directory_does_not_exist_yet(tmp_path: Path) -> None:
    """As in the image: PROMETHEUS_MULTIPROC_DIR=/tmp/metrics on a fresh, empty /tmp."""
    service = LiveService({"CDS_AUTH_MODE": "off", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "not" / "yet")}, 1)
    try:
        service.wait_ready()
        assert requests.get(service.metrics_url, timeout=5).status_code == 200
    finally:
        service.stop()


def test_each_worker_freezes_the_loaded_app_and_collects_young_objects_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gunicorn.conf.py settles every worker once the app is loaded (service/runtime.py): the same tuning
    the benchmarks apply to the service and the floor alike."""
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    calls: list[str] = []
    settle = runtime.settle_worker
    monkeypatch.setattr(runtime, "settle_worker", lambda: calls.append("settled"))
    config["post_worker_init"](None)
    assert calls == ["settled"]
    before = gc.get_threshold()
    try:
        settle()
        assert gc.get_threshold() == runtime.GC_THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
