"""The GitHub Actions workflow of branch environments: it parses, runs `env create pr_<n> --from
dev` when a pull request opens, reopens or gets a push and `env drop pr_<n>` when it closes, with
the Snowflake settings from secrets; its commands are ones the CLI accepts."""

from __future__ import annotations

import shlex
from typing import Any

import yaml
from dagster_dynamic_tables.cli import build_parser
from support.repo import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "branch-environments.yml"
NUMBER = "${{ github.event.number }}"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _run_steps(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _command(job: dict[str, Any]) -> list[str]:
    (command,) = [run for run in _run_steps(job) if "dynamic-tables" in run]
    return shlex.split(command.replace(NUMBER, "7"))


def test_workflow_triggers_on_pull_request_open_push_and_close():
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers == {"pull_request": {"types": ["opened", "reopened", "synchronize", "closed"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert "github.event.action != 'closed'" in jobs["create"]["if"]
    assert "github.event.action == 'closed'" in jobs["drop"]["if"]


def test_workflow_commands_are_env_create_from_dev_and_env_drop():
    jobs = _workflow()["jobs"]
    create = _command(jobs["create"])
    drop = _command(jobs["drop"])
    assert create == ["uv", "run", "--frozen", "dynamic-tables", "env", "create", "pr_7",
                      "--from", "dev"]  # fmt: skip
    assert drop == ["uv", "run", "--frozen", "dynamic-tables", "env", "drop", "pr_7"]
    parser = build_parser()
    created = parser.parse_args(create[4:])
    assert (created.command, created.action, created.name, created.source) == (
        "env", "create", "pr_7", "dev"
    )  # fmt: skip
    dropped = parser.parse_args(drop[4:])
    assert (dropped.command, dropped.action, dropped.name) == ("env", "drop", "pr_7")


def test_workflow_takes_snowflake_settings_from_secrets_and_never_downloads_python():
    env = _workflow()["env"]
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    for name in ("ACCOUNT", "USER", "PASSWORD", "ROLE"):
        assert env[f"SNOWFLAKE_{name}"] == f"${{{{ secrets.SNOWFLAKE_{name} }}}}"
    for job in _workflow()["jobs"].values():
        assert "python -m pip install uv" in _run_steps(job)
        assert "head.repo.full_name == github.repository" in job["if"]  # no secrets for forks
