"""The compose file and the image recipes: parsed and checked against what the code expects
(no Docker engine runs on these machines, so nothing is built or started here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ports.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_services_volumes_and_health() -> None:
    data = compose()
    services = data["services"]
    assert {"postgres", "shuoshi", "wechaty-gateway"} <= set(services)
    declared = set(data["volumes"])
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in declared, f"{name}: volume {source} is not declared"
        image = service.get("image", "")
        assert image and not image.endswith(":latest"), f"{name}: pin the image tag"

    # The database and the attachments survive a re-creation of the containers.
    def mounts(name: str) -> list[str]:
        return list(services[name]["volumes"])

    assert any(v.startswith("pgdata:/var/lib/postgresql/data") for v in mounts("postgres"))
    assert any(v.startswith("shuoshi-data:/var/lib/shuoshi") for v in mounts("shuoshi"))
    assert any(v.startswith("wechaty-state:") for v in mounts("wechaty-gateway"))
    assert services["shuoshi"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["shuoshi"]
    # The gateway is never published on the host; the admin only on loopback.
    assert "ports" not in services["wechaty-gateway"]
    assert all(p.startswith("127.0.0.1:") for p in services["shuoshi"]["ports"])
    assert services["wechaty-gateway"]["profiles"] == ["wechat"]


def test_environment_names_are_settings() -> None:
    """Every variable compose hands the bot is a real setting (a typo would be ignored)."""
    services = compose()["services"]
    fields = {name.upper() for name in Settings.model_fields}
    env = services["shuoshi"]["environment"]
    assert set(env) <= fields, set(env) - fields
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://shuoshi:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/shuoshi")
    assert env["ADMIN_HOST"] == "0.0.0.0"
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    compose_only = {
        "POSTGRES_PASSWORD",
        "SHUOSHI_DOMAIN",
        "WECHATY_PUPPET",
        "WECHATY_PUPPET_PACKAGE",
        "WECHATY_PUPPET_PADLOCAL_TOKEN",
    }
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert names - compose_only <= fields, names - compose_only - fields
    # The gateway and the bot share one token.
    gateway_env = services["wechaty-gateway"]["environment"]
    assert gateway_env["WECHATY_TOKEN"].startswith("${WECHATY_PUPPET_SERVICE_TOKEN")


def test_image_runs_as_a_user_with_a_health_check() -> None:
    steps = instructions(DEPLOY / "Dockerfile")
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), "multi-stage"
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    words = dict(runtime)
    assert words["USER"] == "shuoshi"
    assert "/healthz" in words["HEALTHCHECK"]
    assert words["ENTRYPOINT"] == '["shuoshi"]' and words["CMD"] == '["run"]'
    copies = {args for word, args in runtime if word == "COPY"}
    assert "--from=build /opt/shuoshi /opt/shuoshi" in copies
    gateway = dict(instructions(DEPLOY / "wechaty-gateway" / "Dockerfile"))
    assert gateway["FROM"].startswith("node:20")
    assert gateway["USER"] == "node" and "HEALTHCHECK" in gateway
    assert "npm ci" in gateway["RUN"]


def test_image_copies_every_package_and_builds_with_build_sh() -> None:
    """The build stage copies every package pyproject.toml installs and then runs exactly
    deploy/build.sh, the script tests/deploy/test_build.py runs."""
    steps = instructions(DEPLOY / "Dockerfile")
    build_stage = steps[: [i for i, (w, _) in enumerate(steps) if w == "FROM"][1]]
    runs = [args for word, args in build_stage if word == "RUN"]
    assert runs == ["sh deploy/build.sh /opt/shuoshi /src"]
    copied = {args.split()[0] for word, args in build_stage if word == "COPY"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, packages - copied
    assert project["project"]["readme"] in " ".join(a for w, a in build_stage if w == "COPY")
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[next(i for i, line in enumerate(ignore) if not line.startswith("#"))] == "*"
    for package in packages:
        assert f"!{package}/" in ignore, f"{package} is not sent to the image build"
    assert not any(line.startswith("!.env") or line.startswith("!data") for line in ignore)
