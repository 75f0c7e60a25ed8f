"""Install path: environment.yml agrees with pyproject.toml, pins agree with constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _requirements() -> list[tuple[str, str, str]]:
    proj = _pyproject()["project"]
    reqs = list(proj["dependencies"]) + [r for extra in proj["optional-dependencies"].values() for r in extra]
    out = []
    for r in reqs:
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(==|>=|<|,|\s|$)(.*)$", r)
        assert m, r
        out.append((re.sub(r"[-_.]+", "-", m.group(1)).lower(), m.group(3), (m.group(3) + m.group(4)).strip()))
    return out


def test_environment_yml_is_thin_conda_forge_and_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    assert "3.11" in _pyproject()["project"]["requires-python"]
    assert "pip" in deps
    pip = [d for d in deps if isinstance(d, dict)][0]["pip"]
    assert len(pip) == 1 and pip[0].startswith("-e .")  # everything else comes from pyproject


def test_every_exact_pin_in_pyproject_is_in_constraints():
    pins = _constraints()
    for name, op, spec in _requirements():
        assert name in pins, f"{name} is not pinned in constraints.txt"
        if op == "==":
            assert spec == f"=={pins[name]}", f"{name}: pyproject {spec} vs constraints =={pins[name]}"


def test_pyspark_pin_is_what_ibis_12_accepts():
    assert _constraints()["pyspark"].startswith("4.0.")
