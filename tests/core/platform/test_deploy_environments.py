"""`deploy render` and environments: the image carries environments.yaml (found through
DYNAMIC_TABLES_ENVIRONMENTS_FILE) when the repository has one; each environment listed in
deploy/settings.yaml gets its own Helm values selecting it, in the code server and the run pods;
the prod files stay as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from dagster_dynamic_tables.errors import DeployError
from dagster_dynamic_tables.platform.deploy.render import generate_files
from support.image import build_context, parse_dockerignore
from support.repo import REPO_ROOT


def make_repo(root: Path, *, environments: bool, settings: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "deploy").mkdir()
    (root / "deploy" / "settings.yaml").write_text(settings or "{}\n")
    if environments:
        shutil.copy(REPO_ROOT / "environments.yaml", root / "environments.yaml")
    tenant = root / "tenants" / "shop"
    (tenant / "src" / "shop").mkdir(parents=True)
    text = (REPO_ROOT / "tenants" / "ecommerce" / "pyproject.toml").read_text()
    (tenant / "pyproject.toml").write_text(text.replace("ecommerce", "shop"))
    return root


def files(root: Path) -> dict[str, str]:
    return {generated.path.as_posix(): generated.text for generated in generate_files(root)}


def test_the_image_carries_environments_yaml_only_when_the_repository_has_one(tmp_path: Path):
    without = files(make_repo(tmp_path / "a", environments=False))
    repo = make_repo(tmp_path / "b", environments=True)
    with_file = files(repo)
    assert sorted(without) == sorted(with_file)
    dockerfile = with_file["tenants/shop/Dockerfile"]
    runtime = dockerfile.split("\nFROM ")[2]
    assert "COPY environments.yaml /opt/dagster/environments.yaml\n" in runtime
    assert "ENV DYNAMIC_TABLES_ENVIRONMENTS_FILE=/opt/dagster/environments.yaml\n" in runtime
    assert "environments.yaml" not in without["tenants/shop/Dockerfile"]
    assert "!environments.yaml\n" in with_file["tenants/shop/Dockerfile.dockerignore"]
    assert "environments.yaml" not in without["tenants/shop/Dockerfile.dockerignore"]
    # every other file is the same with or without the environments
    same = [n for n in with_file if "Dockerfile" not in n]
    assert {n: with_file[n] for n in same} == {n: without[n] for n in same}
    # the build context lets the file in (and only it of the root's other files)
    ignore = parse_dockerignore(with_file["tenants/shop/Dockerfile.dockerignore"])
    (repo / "grants.yaml").write_text("tenants: {}\n")
    context = build_context(repo, ignore)
    assert "environments.yaml" in context
    assert "grants.yaml" not in context


def test_each_listed_environment_gets_helm_values_selecting_it(tmp_path: Path):
    prod_only = files(make_repo(tmp_path / "a", environments=True))
    both = files(make_repo(tmp_path / "b", environments=True, settings="environments: [dev]\n"))
    assert sorted(set(both) - set(prod_only)) == ["tenants/shop/deploy/helm-values.dev.yaml"]
    assert (
        both["tenants/shop/deploy/helm-values.yaml"]
        == (prod_only["tenants/shop/deploy/helm-values.yaml"])
    )
    prod = yaml.safe_load(both["tenants/shop/deploy/helm-values.yaml"])["deployments"][0]
    dev = yaml.safe_load(both["tenants/shop/deploy/helm-values.dev.yaml"])["deployments"][0]
    assert {k: v for k, v in dev.items() if k != "env"} == {
        k: v for k, v in prod.items() if k != "env"
    }
    assert dev["env"][1] == {"name": "DYNAMIC_TABLES_ENVIRONMENT", "value": "dev"}
    context = json.loads(dev["env"][0]["value"])
    assert context["k8s"]["env_vars"] == ["DYNAMIC_TABLES_ENVIRONMENT=dev"]
    assert "env_vars" not in json.loads(prod["env"][0]["value"])["k8s"]
    assert [e["name"] for e in prod["env"]] == ["DAGSTER_CONTAINER_CONTEXT"]


@pytest.mark.parametrize("name", ["../../etc", "Dev", "dev; rm -rf /"])
def test_a_hostile_environment_name_in_the_settings_is_refused(tmp_path: Path, name: str):
    repo = make_repo(tmp_path, environments=True, settings=f"environments: [{json.dumps(name)}]\n")
    with pytest.raises(DeployError, match=r"deploy/settings.yaml: environments\.0: String should"):
        generate_files(repo)
