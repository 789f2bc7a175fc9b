"""The one rule for a stack's policy config, applied alike by the offline preview (`tools.preview`) and the real
path (`tools.real_path`): every stack is reviewed with its own `policy/<stack>.json`, never on the pack's
defaults.

Why refuse rather than fall back on a default file: the pipeline and `make preview-azure` pass
`--policy-pack-config policy/<stack>.json`, so a stack without one cannot be deployed anyway; a silent fallback
offline would review it against settings nobody chose for it (the schema defaults, or a shared default file that
drifts from what the stack needs) and let it look reviewed until the real path refuses it.
"""

from __future__ import annotations

from pathlib import Path

from tools.offline import PROJECT_DIR


class MissingPolicyConfigError(Exception):
    """The stack has no policy config: exit 2, with the file to create and how."""


def stack_policy_config(stack: str, pack_dir: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """`<pack_dir>/<stack>.json`, which must exist. Anything else there (a directory, an unreadable file) is
    returned for the reader to report: only a missing file has a fix to suggest."""
    path = pack_dir / f"{stack}.json"
    if path.exists():
        return path
    try:
        shown = path.resolve().relative_to(project_dir.resolve())
    except ValueError:
        shown = path
    examples = sorted(p.name for p in pack_dir.glob("*.json")) if pack_dir.is_dir() else []
    fix = (
        f"copy the file of the stack closest to this one, e.g. `cp {shown.parent / examples[0]} {shown}`, review its "
        'levels and settings (README "Tuning per stack") and commit it'
        if examples
        else f'write {shown} (its format: README "Tuning per stack") and commit it'
    )
    raise MissingPolicyConfigError(
        f"no policy config {shown} for stack `{stack}`: every stack is reviewed with its own, offline and with the "
        f"Pulumi CLI alike, never on the policy pack's defaults. Fix: {fix}."
    )
