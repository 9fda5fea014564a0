"""Offline checks of the KubeRay manifests in k8s/: no cluster, no kubectl, no network.

- Every YAML file parses, and every kustomization renders with `render` below: a small
  renderer for exactly the kustomize features k8s/ uses, which fails on any other.
- RayCluster, RayJob, RayService: jsonschema against the KubeRay CRDs in ../shared/k8s/crds
  (skipped when absent), made as strict as the API server: unknown fields are errors, and so
  are duplicate keys in lists the CRD declares as maps or sets.
- Deployment, StatefulSet, Service, PVC, Secret, ConfigMap: kubernetes_validate's bundled
  schemas, strict.
- What schemas cannot see: GPUs and taints, token auth, the Ray version, the RayJob's command
  line (parsed by ganbench's own parser), the Serve config (Ray's schema and serve.app's
  app_builder), the references between objects (Secrets, ConfigMaps, PVCs, Services, URLs).
Each kind of check has a negative test showing that it fails on a broken manifest.
"""
from __future__ import annotations

import copy
import functools
import importlib
import importlib.metadata
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "k8s"
CRD_DIR = Path(__file__).resolve().parents[2] / "shared" / "k8s" / "crds"
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml",
             "RayService": "ray.io_rayservices.yaml"}
RAY_KINDS = set(CRD_FILES)
CORE_KINDS = {"Deployment", "StatefulSet", "Service", "PersistentVolumeClaim", "Secret", "ConfigMap"}
# The Kubernetes versions the manifests claim (oldest, newest); kubernetes_validate bundles their schemas.
K8S_VERSIONS = ("1.30.0", "1.37.0")
RAY_VERSION = importlib.metadata.version("ray")  # = ray.__version__, without importing ray
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KUSTOMIZATIONS = sorted(str(p.parent.relative_to(K8S)) for p in K8S.rglob("kustomization.yaml"))
OVERLAYS = [k for k in KUSTOMIZATIONS if k.startswith("overlays/")]


# --- a minimal kustomize ------------------------------------------------------------------------
# Implements what k8s/ uses, with kustomize's semantics: resources (files and directories),
# patches (inline JSON 6902 only, target by kind + name), namespace (every object here is
# namespaced), labels (pairs with includeSelectors false: metadata.labels only), images (any
# `image` under a `containers`/`initContainers` list anywhere in the object, as kustomize's
# image transformer does, so CRDs are covered too). Anything else is an error, not ignored.

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.load_all(path.read_text(), Loader=Loader) if d is not None]


@functools.cache
def render(kdir: str) -> tuple:
    """The objects `kubectl kustomize k8s/<kdir>` would print (as a tuple: cached, copy before editing)."""
    root = K8S / kdir
    (k,) = load_all(root / "kustomization.yaml")
    unsupported = set(k) - SUPPORTED
    if unsupported:
        raise ValueError(f"{kdir}: kustomize features {sorted(unsupported)} are not rendered by this test")
    docs = []
    for entry in k.get("resources", []):
        path = (root / entry).resolve()
        docs += copy.deepcopy(list(render(str(path.relative_to(K8S))))) if path.is_dir() else load_all(path)
    ids = [(d["kind"], d["metadata"]["name"]) for d in docs]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{kdir}: duplicate objects {sorted(i for i in ids if ids.count(i) > 1)}")
    for p in k.get("patches", []):
        if set(p) != {"target", "patch"} or set(p["target"]) != {"kind", "name"}:
            raise ValueError(f"{kdir}: only inline patches with target kind+name are rendered, got {p}")
        ops = yaml.safe_load(p["patch"])
        if not isinstance(ops, list):
            raise ValueError(f"{kdir}: only JSON 6902 patches (a list of ops) are rendered")
        (target,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == (p["target"]["kind"], p["target"]["name"])]
        for op in ops:
            json6902(target, op)
    if "namespace" in k:
        for d in docs:
            d["metadata"]["namespace"] = k["namespace"]
    for label in k.get("labels", []):
        if set(label) - {"pairs", "includeSelectors"} or label.get("includeSelectors"):
            raise ValueError(f"{kdir}: only labels with includeSelectors: false are rendered")
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in k.get("images", []):
        if set(image) - {"name", "newName", "newTag"}:
            raise ValueError(f"{kdir}: images support name, newName, newTag only")
        for d in docs:
            set_image(d, image)
    return tuple(docs)


def json6902(doc: dict, op: dict) -> None:
    """add / replace / remove (RFC 6902); a path that does not exist is an error, as in kustomize."""
    *parents, last = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].lstrip("/").split("/")]
    node = doc
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op["op"] == "add":
            node.insert(index, op["value"])
            return
        node[index]  # IndexError if absent
    elif op["op"] != "add" and last not in node:
        raise KeyError(f"{op['path']} does not exist")
    if op["op"] in ("add", "replace"):
        node[index if isinstance(node, list) else last] = op["value"]
    elif op["op"] == "remove":
        del node[index if isinstance(node, list) else last]
    else:
        raise ValueError(f"JSON 6902 op {op['op']!r} is not rendered")


def split_image(ref: str) -> tuple[str, str]:
    name, sep, tag = ref.rpartition(":")
    return (name, tag) if sep and "/" not in tag else (ref, "")


def set_image(node, image: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for c in value:
                    name, tag = split_image(c.get("image", ""))
                    if name == image["name"]:
                        c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}".rstrip(":")
            set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            set_image(item, image)


# --- helpers over rendered objects ---------------------------------------------------------------

def all_docs():
    for k in KUSTOMIZATIONS:
        for d in render(k):
            yield k, d


def ray_clusters(doc: dict):
    """The RayClusterSpec inside a RayCluster, RayJob or RayService."""
    spec = doc.get("spec", {})
    return {"RayCluster": [spec], "RayJob": [spec.get("rayClusterSpec")],
            "RayService": [spec.get("rayClusterConfig")]}.get(doc["kind"], [])


def pod_specs(doc: dict):
    if doc["kind"] in ("Deployment", "StatefulSet"):
        yield doc["spec"]["template"]["spec"]
    for cluster in ray_clusters(doc):
        yield cluster["headGroupSpec"]["template"]["spec"]
        for group in cluster.get("workerGroupSpecs", []):
            yield group["template"]["spec"]


def containers(doc: dict):
    for pod in pod_specs(doc):
        yield from pod.get("containers", []) + pod.get("initContainers", [])


def gpus(group: dict) -> int:
    limits = group["template"]["spec"]["containers"][0].get("resources", {}).get("limits", {})
    return int(limits.get("nvidia.com/gpu", 0))


def cpus(group: dict) -> float:
    cpu = str(group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    return float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def secret_keys(docs) -> set[tuple[str, str]]:
    return {(d["metadata"]["name"], key) for d in docs if d["kind"] == "Secret"
            for key in {**d.get("data", {}), **d.get("stringData", {})}}


# The Secrets every environment must have: rendered in dev, created by hand in prod (README).
SECRET_CONTRACT = secret_keys(load_all(K8S / "secrets" / "secrets.yaml"))


def platform_of(kdir: str) -> str:
    """The kustomization that holds PostgreSQL and MLflow for kdir (overlays/dev/tune -> overlays/dev)."""
    for suffix in ("/tune", "/serve"):
        if kdir.endswith(suffix):
            return kdir[: -len(suffix)]
    return kdir


# --- parsing and rendering -----------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml")))
def test_yaml_parses(path):
    docs = load_all(K8S / path)
    assert docs, f"{path} is empty"
    for d in docs:
        assert isinstance(d, dict) and d.get("apiVersion") and d.get("kind"), f"{path}: not a Kubernetes object: {d!r:.80}"


@pytest.mark.parametrize("kdir", KUSTOMIZATIONS)
def test_kustomization_renders(kdir):
    docs = render(kdir)
    assert docs
    kinds = {d["kind"] for d in docs}
    assert kinds <= RAY_KINDS | CORE_KINDS, f"kinds no test validates: {kinds - RAY_KINDS - CORE_KINDS}"
    for d in docs:
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ganbench"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", d["metadata"]["name"]), d["metadata"]["name"]
    if kdir.startswith("overlays/"):
        assert {d["metadata"].get("namespace") for d in docs} == {render_namespace(kdir)}
        images = {c["image"] for d in docs for c in containers(d)}
        assert all(not i.startswith("ganbench:") for i in images), f"{kdir}: image not set by the overlay: {images}"


def render_namespace(kdir: str) -> str:
    (k,) = load_all(K8S / kdir / "kustomization.yaml")
    return k["namespace"]


def test_renderer_refuses_what_it_does_not_implement(tmp_path, monkeypatch):
    """Unknown kustomize features and patches on missing paths fail instead of being skipped."""
    monkeypatch.setitem(globals(), "K8S", tmp_path)
    render.cache_clear()
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: v}\n")
        (tmp_path / "a" / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: dev-\n")
        with pytest.raises(ValueError, match="namePrefix"):
            render("a")
        (tmp_path / "a" / "kustomization.yaml").write_text(
            "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap, name: x}\n"
            "  patch: '[{op: replace, path: /data/missing, value: 1}]'\n")
        with pytest.raises(KeyError):
            render("a")
    finally:
        render.cache_clear()


def test_overlays_of_one_environment_agree():
    """dev, dev/tune and dev/serve are applied separately: same namespace and image in all."""
    for env in ("overlays/dev", "overlays/prod"):
        group = [k for k in OVERLAYS if k == env or k.startswith(env + "/")]
        assert len(group) == 3, group
        assert len({render_namespace(k) for k in group}) == 1
        images = {c["image"] for k in group for d in render(k) for c in containers(d) if "ganbench" in c["image"]}
        assert len(images) == 1, images


def test_secrets_are_placeholders_in_dev_only():
    assert secret_keys(render("overlays/dev")) == SECRET_CONTRACT
    assert not [d for k in OVERLAYS if k.startswith("overlays/prod") for d in render(k) if d["kind"] == "Secret"], \
        "prod must not apply placeholder Secrets (it would overwrite the real ones)"


def test_dev_fits_one_gpu():
    for k in OVERLAYS:
        if k.startswith("overlays/dev"):
            for d in render(k):
                for cluster in ray_clusters(d):
                    total = sum(g["maxReplicas"] * gpus(g) for g in cluster.get("workerGroupSpecs", []))
                    assert total <= 1, f"{k}: {d['kind']} can use {total} GPUs"


# --- schemas -------------------------------------------------------------------------------------

def _list_type(validator, list_type, instance, schema):
    """x-kubernetes-list-type: the API server refuses duplicate keys in map lists and duplicate items in sets."""
    if not validator.is_type(instance, "array"):
        return
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = [tuple(item.get(k) for k in keys) for item in instance]
    elif list_type == "set":
        seen = [json.dumps(item, sort_keys=True) for item in instance]
    else:
        return
    dups = sorted({str(s) for s in seen if seen.count(s) > 1})
    if dups:
        yield jsonschema.ValidationError(f"duplicate entries {dups} in a list of type {list_type}")


def _cel(validator, rules, instance, schema):
    """CEL rules (x-kubernetes-validations) cannot be evaluated offline: the manifests must not
    set such fields, so that nothing goes unchecked silently."""
    yield jsonschema.ValidationError(
        f"this field has CEL rules that are not checked offline: {[r['rule'] for r in rules]}")


CRDValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"x-kubernetes-list-type": _list_type, "x-kubernetes-validations": _cel})


def strict(schema: dict) -> dict:
    """The structural schema as the API server applies it with strict field validation
    (kubectl's default): an object with declared properties takes no others."""
    s = dict(schema)
    if "properties" in s:
        s["properties"] = {k: strict(v) for k, v in s["properties"].items()}
        s.setdefault("additionalProperties", False)
    if isinstance(s.get("items"), dict):
        s["items"] = strict(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = strict(s["additionalProperties"])
    for kw in ("anyOf", "allOf", "oneOf"):
        if kw in s:
            s[kw] = [strict(x) for x in s[kw]]
    if s.pop("nullable", False) and "type" in s:
        s["type"] = [s["type"], "null"]
    return s


@functools.cache
def crd_validator(kind: str, version: str):
    path = CRD_DIR / CRD_FILES[kind]
    if not path.is_file():
        pytest.skip(f"KubeRay CRD {path} not found (../shared is absent in a fresh clone)")
    (crd,) = load_all(path)
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert v["served"], f"{kind} {version} is not served by this CRD"
    return CRDValidator(strict(v["schema"]["openAPIV3Schema"]))


def crd_errors(doc: dict) -> list[str]:
    validator = crd_validator(doc["kind"], doc["apiVersion"].split("/")[1])
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


RAY_DOCS = [(k, d) for k, d in all_docs() if d["kind"] in RAY_KINDS]
CORE_DOCS = [(k, d) for k, d in all_docs() if d["kind"] in CORE_KINDS]


@pytest.mark.parametrize("kdir,doc", RAY_DOCS, ids=[f"{k}:{d['kind']}" for k, d in RAY_DOCS])
def test_kuberay_objects_match_crd_schema(kdir, doc):
    assert doc["apiVersion"] == "ray.io/v1"
    assert crd_errors(doc) == []


def _raycluster() -> dict:
    return copy.deepcopy(next(d for d in render("base") if d["kind"] == "RayCluster"))


@pytest.mark.parametrize("breakage,where", [
    (lambda d: d["spec"]["workerGroupSpecs"][0].update(maxReplicas="four"), "spec.workerGroupSpecs.0.maxReplicas"),
    (lambda d: d["spec"]["headGroupSpec"]["rayStartParams"].update({"num-gpus": 0}), "spec.headGroupSpec.rayStartParams.num-gpus"),
    (lambda d: d["spec"]["workerGroupSpecs"][0].update(maxReplica=4), "spec.workerGroupSpecs.0"),
    (lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "MLFLOW_TRACKING_URI", "value": "http://elsewhere"}), "spec.headGroupSpec.template.spec.containers.0.env"),
    (lambda d: d["spec"].update(managedBy="ray.io/kuberay-operator"), "spec.managedBy"),
], ids=["wrong-type", "int-for-string", "unknown-field", "duplicate-env", "cel-rule"])
def test_crd_validation_rejects_broken_manifests(breakage, where):
    doc = _raycluster()
    assert crd_errors(doc) == []
    breakage(doc)
    errors = crd_errors(doc)
    assert any(e.startswith(where + ":") for e in errors), errors


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("kdir,doc", CORE_DOCS, ids=[f"{k}:{d['kind']}/{d['metadata']['name']}" for k, d in CORE_DOCS])
def test_core_objects_match_kubernetes_schema(kdir, doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("breakage", [
    lambda d: d["spec"].update(replicas="one"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(contianerPort=5000),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
], ids=["wrong-type", "unknown-field", "missing-required"])
def test_core_validation_rejects_broken_deployment(breakage):
    doc = copy.deepcopy(next(d for d in render("base") if d["kind"] == "Deployment"))
    kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
    breakage(doc)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


# --- Ray semantics -------------------------------------------------------------------------------

@pytest.mark.parametrize("kdir,doc", RAY_DOCS, ids=[f"{k}:{d['kind']}" for k, d in RAY_DOCS])
def test_ray_clusters(kdir, doc):
    (cluster,) = ray_clusters(doc)
    docs = render(kdir)
    # Same Ray everywhere: the spec, the image tag, the installed package.
    assert cluster["rayVersion"] == RAY_VERSION
    for c in containers(doc):
        assert f"ray{RAY_VERSION}-" in split_image(c["image"])[1], c["image"]
    # Token auth with a Secret that exists (or that prod must create: SECRET_CONTRACT).
    auth = cluster["authOptions"]
    assert auth["mode"] == "token"
    assert (auth["secretName"], "auth_token") in secret_keys(docs) | SECRET_CONTRACT
    assert cluster["enableInTreeAutoscaling"] is True
    # The head does no GPU work and holds no GPU.
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert "nvidia.com/gpu" not in json.dumps(head["template"])
    assert any(p.get("containerPort") == 8265 and p.get("name") == "dashboard"
               for p in head["template"]["spec"]["containers"][0]["ports"])
    for group in cluster["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group.get("replicas", group["minReplicas"]) <= group["maxReplicas"]
        if gpus(group):
            resources = group["template"]["spec"]["containers"][0]["resources"]
            assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"]
            assert any(t.get("key") == "nvidia.com/gpu" and t.get("operator") == "Exists"
                       and t.get("effect") in (None, "NoSchedule")
                       for t in group["template"]["spec"].get("tolerations", [])), "GPU pods must tolerate the taint"
    if doc["kind"] in ("RayCluster", "RayJob"):
        assert any(gpus(g) for g in cluster["workerGroupSpecs"]), "training needs a GPU worker group"


@pytest.mark.parametrize("breakage", [
    lambda c: c["workerGroupSpecs"][0]["template"]["spec"].pop("tolerations"),
    lambda c: c["headGroupSpec"]["rayStartParams"].update({"num-gpus": "1"}),
    lambda c: c.update(rayVersion="2.59.0"),
    lambda c: c["authOptions"].update(secretName="ray-token"),
    lambda c: c["workerGroupSpecs"][0].update(minReplicas=9),
], ids=["no-toleration", "head-gpu", "ray-version", "unknown-token-secret", "min-above-max"])
def test_ray_cluster_check_rejects_broken_clusters(breakage):
    doc = _raycluster()
    test_ray_clusters("base", doc)
    breakage(doc["spec"])
    with pytest.raises(AssertionError):
        test_ray_clusters("base", doc)


def test_kuberay_generated_service_names_do_not_collide():
    """KubeRay names each cluster's head Service <name>-head-svc (and <name>-serve-svc for a
    RayService); they must not clash with each other or with our Services in one namespace."""
    for env in ("overlays/dev", "overlays/prod"):
        docs = [d for k in OVERLAYS if k == env or k.startswith(env + "/") for d in render(k)]
        names = [d["metadata"]["name"] for d in docs if d["kind"] == "Service"]
        for d in docs:
            if d["kind"] in RAY_KINDS:
                names.append(d["metadata"]["name"] + "-head-svc")
            if d["kind"] == "RayService":
                names.append(d["metadata"]["name"] + "-serve-svc")
        assert len(names) == len(set(names)), names


def test_image_matches_dockerfile_and_pins():
    dockerfile = (REPO / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert base == f"rayproject/ray:{RAY_VERSION}-py311-gpu"
    pins = {re.split(r"[\[=]", d)[0]: d for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    for pkg in ("torch", "torchvision"):
        assert pins[pkg] in dockerfile.split(), f"Dockerfile must install {pins[pkg]} (pyproject's pin)"
    # The driver SQLAlchemy picks for the manifests' database URLs must be in the image.
    from sqlalchemy.engine import make_url

    urls = {u for _, d in all_docs() for c in containers(d)
            for text in [e.get("value", "") for e in c.get("env", [])] + c.get("args", [])
            for u in re.findall(r"\bpostgresql\S*://\S+", text)}
    installed = {re.split(r"[\[=<>]", w.strip('"'))[0] for line in re.findall(r"pip install (.*)", dockerfile)
                 for w in line.split() if not w.startswith("-")}
    drivers = {make_url(VAR_REF.sub("pw", u)).get_dialect().driver for u in urls}
    assert urls and drivers <= installed, f"database drivers {drivers} not installed by the Dockerfile ({installed})"


def parse_ganbench(entrypoint: str):
    """argv as the RayJob would run it, parsed by ganbench's own parser; ValueError if refused."""
    from ganbench.cli import build_parser

    argv = shlex.split(entrypoint)
    if argv[0] != "ganbench":
        raise ValueError(f"entrypoint does not start with ganbench: {argv[0]}")
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit:
        raise ValueError(f"ganbench's parser refuses {argv[1:]}") from None


RAYJOBS = [(k, d) for k, d in RAY_DOCS if d["kind"] == "RayJob"]


@pytest.mark.parametrize("kdir,job", RAYJOBS, ids=[k for k, _ in RAYJOBS])
def test_rayjob_runs_a_valid_tuning_study(kdir, job):
    from ganbench import config as C
    from ganbench.presets import get_preset

    spec = job["spec"]
    # Shell expansion would happen in KubeRay's submitter pod, not on the head (rayjob.yaml).
    assert "$" not in spec["entrypoint"]
    args = parse_ganbench(spec["entrypoint"])
    assert args.command == "tune"
    C.merge(get_preset(args.preset), C.parse_overrides(args.set))  # the --set keys exist
    assert spec["shutdownAfterJobFinishes"] is True
    cluster = spec["rayClusterSpec"]
    groups = cluster["workerGroupSpecs"]
    assert args.gpu == any(gpus(g) for g in groups)
    if args.gpu:
        capacity = sum(g["maxReplicas"] * gpus(g) for g in groups)
        assert args.parallel * args.workers <= capacity, "the trials running at once need more GPUs than the cluster may have"
    # --out and data.root must be on the volume every pod mounts.
    for pod in pod_specs(job):
        mounts = [m["mountPath"] for c in pod["containers"] for m in c.get("volumeMounts", [])]
        shared = [args.out] + [kv.split("=", 1)[1] for kv in args.set if kv.startswith("data.root=")]
        for path in shared:
            assert any(path.startswith(m + "/") for m in mounts), f"{path} is not on a mounted volume {mounts}"
    if args.storage is None:
        assert "GANBENCH_OPTUNA_STORAGE" in env_of(cluster["headGroupSpec"]["template"]["spec"]["containers"][0])


def test_entrypoint_check_rejects_a_bad_command_line():
    good = RAYJOBS[0][1]["spec"]["entrypoint"]
    parse_ganbench(good)
    with pytest.raises(ValueError):
        parse_ganbench(good.replace("--trials", "--trails"))
    with pytest.raises(ValueError):
        parse_ganbench(good + " --parallel two")


RAYSERVICES = [(k, d) for k, d in RAY_DOCS if d["kind"] == "RayService"]


@pytest.mark.parametrize("kdir,svc", RAYSERVICES, ids=[k for k, _ in RAYSERVICES])
def test_rayservice_serves_the_ganbench_app(kdir, svc, monkeypatch):
    from ray.serve.schema import ServeDeploySchema

    from serve import registry

    # Offline: no MLflow server to resolve the alias; app_builder must ask for it, by alias.
    asked = []
    monkeypatch.setattr(registry, "pin", lambda model, uri: asked.append(model) or "models:/pinned/7")
    config = yaml.safe_load(svc["spec"]["serveConfigV2"])
    ServeDeploySchema(**config)  # Ray's own schema for a deployed Serve config
    (app,) = config["applications"]
    local = yaml.safe_load((REPO / "serve" / "config.yaml").read_text())["applications"][0]
    assert app["import_path"] == local["import_path"] == "serve.app:app_builder"
    assert (app["name"], app["route_prefix"]) == (local["name"], local["route_prefix"])
    module, attr = app["import_path"].split(":")
    builder = getattr(importlib.import_module(module), attr)
    # app_builder validates the args (unknown settings are errors) and sets the deployment options.
    deployment = builder(app["args"])._bound_deployment
    actor = deployment.ray_actor_options
    autoscaling = deployment._deployment_config.autoscaling_config
    most_replicas = autoscaling.max_replicas if autoscaling else deployment.num_replicas
    groups = svc["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    if actor.get("num_gpus"):
        assert all(gpus(g) >= actor["num_gpus"] for g in groups)
    assert all(cpus(g) >= actor["num_cpus"] for g in groups), "a replica must fit in one worker pod"
    assert most_replicas * actor["num_cpus"] <= sum(g["maxReplicas"] * cpus(g) for g in groups), \
        "Serve's max replicas do not fit in the worker group's maxReplicas"
    # Replicas load the registry's best version by alias, never a version number edited by hand.
    assert re.fullmatch(r"models:/ganbench-[\w.-]+@champion", app["args"]["model"]), app["args"]["model"]
    assert asked == [app["args"]["model"]] and deployment.init_args[0]["model"] == "models:/pinned/7"


def test_rayservice_check_rejects_unknown_settings():
    from ganbench.errors import ConfigError
    from serve.app import app_builder

    (app,) = yaml.safe_load(RAYSERVICES[0][1]["spec"]["serveConfigV2"])["applications"]
    with pytest.raises(ConfigError):
        app_builder({**app["args"], "num_gpu": 1})


# --- references between objects ------------------------------------------------------------------

VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def reference_errors(kdir: str, docs) -> list[str]:
    errors = []
    platform = render(platform_of(kdir))
    secrets = secret_keys(docs) | SECRET_CONTRACT
    configmaps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    pvcs = {d["metadata"]["name"] for d in platform if d["kind"] == "PersistentVolumeClaim"}
    for d in docs:
        where = f"{kdir}:{d['kind']}/{d['metadata']['name']}"
        claim_templates = {t["metadata"]["name"] for t in d.get("spec", {}).get("volumeClaimTemplates", [])}
        if d["kind"] == "StatefulSet" and d["spec"]["serviceName"] not in {
                s["metadata"]["name"] for s in docs if s["kind"] == "Service"}:
            errors.append(f"{where}: serviceName {d['spec']['serviceName']} is no Service")
        for pod in pod_specs(d):
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for v in volumes.values():
                if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
                    errors.append(f"{where}: no PVC {v['persistentVolumeClaim']['claimName']}")
                if "configMap" in v and v["configMap"]["name"] not in configmaps:
                    errors.append(f"{where}: no ConfigMap {v['configMap']['name']}")
                if "secret" in v and not any(s == v["secret"]["secretName"] for s, _ in secrets):
                    errors.append(f"{where}: no Secret {v['secret']['secretName']}")
            for c in pod["containers"]:
                for m in c.get("volumeMounts", []):
                    if m["name"] not in volumes and m["name"] not in claim_templates:
                        errors.append(f"{where}: {c['name']} mounts unknown volume {m['name']}")
                defined = []
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref and (ref["name"], ref["key"]) not in secrets:
                        errors.append(f"{where}: {c['name']} env {e['name']}: no key {ref['key']} in Secret {ref['name']}")
                    for var in VAR_REF.findall(e.get("value", "")):
                        if var not in defined:
                            errors.append(f"{where}: {c['name']} env {e['name']} uses $({var}) before it is defined")
                    defined.append(e["name"])
                for arg in c.get("command", []) + c.get("args", []):
                    for var in VAR_REF.findall(arg):
                        if var not in defined:
                            errors.append(f"{where}: {c['name']} command uses undefined $({var})")
    return errors


@pytest.mark.parametrize("kdir", KUSTOMIZATIONS)
def test_references_resolve(kdir):
    assert reference_errors(kdir, render(kdir)) == []


def test_reference_check_rejects_a_missing_secret_key():
    docs = copy.deepcopy(list(render("overlays/dev")))
    mlflow = next(d for d in docs if d["kind"] == "Deployment")
    env = mlflow["spec"]["template"]["spec"]["containers"][0]["env"]
    env[0]["valueFrom"]["secretKeyRef"]["key"] = "mlflow-pasword"
    env.insert(0, {"name": "X", "value": "$(LATER)"})
    errors = reference_errors("overlays/dev", docs)
    assert any("mlflow-pasword" in e for e in errors) and any("$(LATER)" in e for e in errors), errors


def service_errors(docs) -> list[str]:
    errors = []
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    for svc in (d for d in docs if d["kind"] == "Service"):
        selector = svc["spec"].get("selector") or {}
        pods = [w["spec"]["template"] for w in workloads
                if selector and selector.items() <= w["spec"]["template"]["metadata"].get("labels", {}).items()]
        if not pods:
            errors.append(f"Service {svc['metadata']['name']}: selector {selector} matches no pod")
        for w in workloads:
            match = w["spec"]["selector"]["matchLabels"]
            if not match.items() <= w["spec"]["template"]["metadata"]["labels"].items():
                errors.append(f"{w['kind']} {w['metadata']['name']}: selector does not match its own pods")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            names = {p.get("name") for pod in pods for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            numbers = {p["containerPort"] for pod in pods for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            if target not in names | numbers:
                errors.append(f"Service {svc['metadata']['name']}: targetPort {target} is no container port")
    return errors


@pytest.mark.parametrize("kdir", KUSTOMIZATIONS)
def test_service_selectors_match_pods(kdir):
    assert service_errors(render(kdir)) == []


def test_service_check_rejects_a_wrong_selector():
    docs = copy.deepcopy(list(render("base")))
    next(d for d in docs if d["kind"] == "Service")["spec"]["selector"] = {"app.kubernetes.io/name": "ganbench-mlfow"}
    assert service_errors(docs)


def url_errors(kdir: str, docs) -> list[str]:
    """Every http:// and postgresql:// URL in an env value or argument names a Service of the
    platform with its port; a postgresql:// URL's user, database and password are the ones the
    init script creates, with the password from the same Secret key."""
    errors = []
    platform = render(platform_of(kdir))
    services = {(s["metadata"]["name"], p["port"]) for s in platform if s["kind"] == "Service" for p in s["spec"]["ports"]}
    postgres = [d for d in platform if d["kind"] == "StatefulSet"]
    pg_env = env_of(postgres[0]["spec"]["template"]["spec"]["containers"][0]) if postgres else {}
    script = "\n".join(v for d in platform if d["kind"] == "ConfigMap" for v in d["data"].values())
    role_pw = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)'", script))  # role -> psql var
    psql_env = dict(re.findall(r'-v (\w+)="\$(\w+)"', script))  # psql var -> env var
    for d in docs:
        for c in containers(d):
            env = env_of(c)
            for text in [e.get("value", "") for e in c.get("env", [])] + c.get("args", []):
                for url in re.findall(r"\b(?:https?|postgresql(?:\+\w+)?)://\S+", text):
                    parts = urlsplit(url)
                    if (parts.hostname, parts.port) not in services:
                        errors.append(f"{d['metadata']['name']}/{c['name']}: {url} is no Service:port of {platform_of(kdir)}")
                    if not parts.scheme.startswith("postgresql"):
                        continue
                    user, db = parts.username, parts.path.lstrip("/")
                    if f"CREATE DATABASE {db} OWNER {user};" not in script:
                        errors.append(f"{url}: the init script does not create database {db} owned by {user}")
                        continue
                    (var,) = VAR_REF.findall(parts.password or "") or [None]
                    server_var = psql_env.get(role_pw.get(user))
                    client_ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef")
                    server_ref = pg_env.get(server_var, {}).get("valueFrom", {}).get("secretKeyRef")
                    if not client_ref or client_ref != server_ref:
                        errors.append(f"{url}: password {client_ref} is not the one role {user} gets ({server_ref})")
    return errors


@pytest.mark.parametrize("kdir", KUSTOMIZATIONS)
def test_urls_point_at_the_platform(kdir):
    assert url_errors(kdir, render(kdir)) == []


def test_url_check_rejects_a_wrong_password_source():
    docs = copy.deepcopy(list(render("base")))
    worker = next(d for d in docs if d["kind"] == "RayCluster")["spec"]["workerGroupSpecs"][0]
    env = worker["template"]["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == "OPTUNA_DB_PASSWORD")["valueFrom"]["secretKeyRef"]["key"] = "mlflow-password"
    next(e for e in env if e["name"] == "MLFLOW_TRACKING_URI")["value"] = "http://mlflow:5000"
    errors = url_errors("base", docs)
    assert any("is not the one role optuna gets" in e for e in errors) and any("http://mlflow:5000" in e for e in errors)


# --- MLflow and PostgreSQL -----------------------------------------------------------------------

def mlflow_container(docs) -> dict:
    return next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_mlflow_server_command():
    c = mlflow_container(render("base"))
    assert c["command"] == ["mlflow", "server"]
    argv = c["args"]
    flags = dict(zip(argv[::2], argv[1::2]))
    assert len(argv) == 2 * len(flags), "args are --flag value pairs"
    assert flags["--workers"] == "1" and flags["--host"] == "0.0.0.0" and flags["--port"] == "5000"
    assert flags["--backend-store-uri"].startswith("postgresql+psycopg://")
    assert env_of(c)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]["value"] == "false"
    import click
    from mlflow.cli import server

    server.make_context("mlflow server", list(argv))  # mlflow 3.17's own option parser
    with pytest.raises(click.UsageError):
        server.make_context("mlflow server", argv + ["--worker", "2"])


def test_mlflow_accepts_the_host_clients_use():
    """MLflow 3 answers 403 to Host headers outside --allowed-hosts; clients use the Service name."""
    from mlflow.server.security_utils import is_allowed_host_header

    argv = mlflow_container(render("base"))["args"]
    allowed = argv[argv.index("--allowed-hosts") + 1].split(",")
    hosts = {urlsplit(env_of(c)["MLFLOW_TRACKING_URI"]["value"]).netloc
             for _, d in RAY_DOCS for c in containers(d) if "MLFLOW_TRACKING_URI" in env_of(c)}
    assert hosts == {"ganbench-mlflow:5000"}
    for host in hosts | {"localhost:5000", "ganbench-mlflow.ganbench.svc.cluster.local:5000"}:
        assert is_allowed_host_header(allowed, host), host
    assert not is_allowed_host_header(allowed, "evil.example.com:5000")


def test_postgres_init_script():
    docs = render("base")
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    (name, script), = cm["data"].items()
    assert name.endswith(".sh")
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    for db in ("mlflow", "optuna"):
        assert f"CREATE DATABASE {db} OWNER {db};" in script
    pod = next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    assert volume["configMap"]["defaultMode"] == 0o555, "executable: run in its own shell, not sourced"
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts[volume["name"]] == "/docker-entrypoint-initdb.d"


def test_readme_names_every_file():
    readme = (K8S / "README.md").read_text()
    for path in sorted(K8S.rglob("*.yaml")):
        rel = str(path.relative_to(K8S))
        assert rel in readme, f"k8s/README.md does not describe {rel}"
