"""Print the dependencies declared in pyproject.toml (the project's and the `dev` group), one per line.

The Makefile installs them with `pip -c constraints.txt`, so pyproject.toml stays the one place that
declares what the project needs, and uv (the toolchain Pulumi.yaml names) reads the same file."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def declared_requirements(groups: tuple[str, ...] = ("dev",)) -> list[str]:
    document = tomllib.loads(PYPROJECT.read_text())
    requirements = list(document["project"]["dependencies"])
    for group in groups:
        requirements += document.get("dependency-groups", {}).get(group, [])
    return requirements


if __name__ == "__main__":
    sys.stdout.write("\n".join(declared_requirements()) + "\n")
