"""One dependency set: `make setup` and Pulumi's pip toolchain install the same pinned file, the policy pack's
environment pins what the tests run the pack with, and no file records a download address."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_DIR

from tools import requirements as requirements_tool

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!-]+)$")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.fullmatch(line)
        assert match, f"{path.name}: `{line}` is not a name==version pin"
        assert norm(match["name"]) not in found, f"{path.name}: {match['name']} pinned twice"
        found[norm(match["name"])] = match["version"]
    return found


def test_every_line_is_a_plain_pin_without_a_download_address() -> None:
    for path in (PROJECT_DIR / "requirements.txt", PROJECT_DIR / "policy" / "requirements.txt"):
        text = path.read_text()
        assert "://" not in text and " @ " not in text and "--index" not in text and "--find-links" not in text
        assert pins(path)


def test_the_pinned_set_holds_what_pyproject_declares_at_the_same_versions() -> None:
    pinned = pins(PROJECT_DIR / "requirements.txt")
    for declared in requirements_tool.declared_requirements():
        name, _, version = declared.partition("==")
        assert pinned.get(norm(name)) == version, f"{declared} is not what requirements.txt pins"


def test_the_installed_environment_is_the_pinned_set() -> None:
    for name, version in pins(PROJECT_DIR / "requirements.txt").items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"


def test_the_policy_pack_environment_pins_the_versions_the_tests_use() -> None:
    project, policy = pins(PROJECT_DIR / "requirements.txt"), pins(PROJECT_DIR / "policy" / "requirements.txt")
    assert {"pulumi", "pulumi-policy", "grpcio", "protobuf"} <= set(policy)
    assert {name: project[name] for name in policy} == policy
    # Everything pulumi-policy pulls in is pinned (installer tooling aside), so the CLI resolves nothing afresh.
    needed, pending = set(), ["pulumi-policy"]
    while pending:
        name = norm(pending.pop())
        if name in needed:
            continue
        needed.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" not in requirement:
                pending.append(re.match(r"[A-Za-z0-9._-]+", requirement)[0])
    assert needed - requirements_tool.NOT_PINNED <= set(policy)


def test_pulumi_installs_the_same_file_into_the_same_venv() -> None:
    options = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": ".venv"}
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "$(STAMP): requirements.txt" in makefile
    assert "pip install --quiet --disable-pip-version-check -r requirements.txt" in makefile
    # `make lock` writes a temporary file and moves it into place: a failed freeze never truncates the pins.
    assert "mv $(VENV)/requirements.lock requirements.txt" in makefile


def test_environments_the_tools_create_are_not_committed() -> None:
    ignored = (PROJECT_DIR / ".gitignore").read_text().splitlines()
    # `.venv` without a slash: it also ignores a `.venv` symlink (a git worktree pointing at the main one), which
    # `.venv/` (folders only) let a commit take, and a checkout of that commit then replaced the real venv.
    assert {".venv", "policy/venv/"} <= set(ignored)


def test_freezing_refuses_anything_but_a_plain_pin(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'pulumi==3.272.0'\necho 'left-pad @ https://example.invalid/l.whl'\n")
    fake_python.chmod(0o755)
    with pytest.raises(SystemExit, match="only name==version pins"):
        requirements_tool.pinned_set(str(fake_python))


def test_freezing_leaves_out_installer_tooling(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\nprintf 'pip==25.0\\nwheel==0.45.1\\npulumi==3.272.0\\n'\n")
    fake_python.chmod(0o755)
    assert requirements_tool.pinned_set(str(fake_python)).splitlines()[-1:] == ["pulumi==3.272.0"]
    assert "wheel" not in requirements_tool.pinned_set(str(fake_python))
