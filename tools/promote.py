"""Promote job images from one stack to the next: the only thing that should move between stacks.

    python -m tools.promote --from staging --to prod [--job NAME ...] [--dry-run | --check] [--platform-outputs FILE]

Copies the `image` of the chosen jobs (default: every job of the source stack) into the target stack file,
keeping the target's comments, order, formatting, line endings and file mode (round-trip YAML), and prints a
unified diff of exactly what is written. The file is replaced atomically: a failed write leaves it as it was.

Refuses (exit 2), writing nothing: a stack file the strict reader refuses (`components.stack_file`) or that
breaks the config contract (checked as the preview checks it: other providers' keys pass untouched); a job that
either stack lacks; a job of another kind in each stack (a scheduled job's image into a manual job of the same
name); an image without a digest when the target's policy config (`policy/<to>.json`) requires
digests; an image from another registry than the target's `aca-jobs:platform.registry.server` (a team stack's: the
`registry.server` of its platform stack's contract, from `--platform-outputs FILE` or a preview of the platform
stack's file in the project, as `tools.preview` resolves it; bad or missing outputs refuse); an image the
target shares between jobs through a YAML anchor, alias or `<<` merge key; a target whose formatting the writer
would not keep; a file that cannot be read or written. Exit 3: the tool itself failed (a bug).
`--check` changes nothing and exits 1 when the target lags the source (for CI); `--dry-run` only prints.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import io
import os
import stat
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.scalarstring import ScalarString

from components.config import PROJECT, StackConfigBase, image_registry, split_image
from components.job_kinds import JOB_CONFIG_KEYS
from components.stack_config import StackConfigError
from components.stack_file import StackFileError, load_stack_yaml, parse_stack_yaml
from policy.aca_facts.clouds import same_host
from tools import preview
from tools.files import write_atomically
from tools.offline import PROJECT_DIR
from tools.policy_runner import PolicyConfigError, read_policy_config

EXIT_OK, EXIT_LAGS, EXIT_REFUSED, EXIT_FAILURE = 0, 1, 2, 3
BOM = "\ufeff"
MERGE_TAG = "tag:yaml.org,2002:merge"


class PromotionRefusedError(Exception):
    """Promotion would move something it must not, or cannot read or write a file; nothing was written."""


class PromotionFailedError(Exception):
    """The tool would write something other than what it promised (a bug); nothing was written."""


def round_trip_yaml() -> YAML:
    yaml = YAML()  # round-trip mode: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long image references or ids
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def full_key(key: Any) -> Any:
    """A bare config key belongs to this project, as the Pulumi CLI reads it."""
    return key if not isinstance(key, str) or ":" in key else f"{PROJECT}:{key}"


def stack_jobs(document: Any) -> dict[str, Any]:
    """Job name -> its YAML mapping, across every job kind (bare or namespaced keys)."""
    return {name: job for name, (_, job) in jobs_by_kind(document).items()}


def jobs_by_kind(document: Any) -> dict[str, tuple[str, Any]]:
    """Job name -> (its kind's config key as the file writes it, its YAML mapping). A name is one job of one kind
    in a stack (the config contract refuses it under two kinds)."""
    config = document.get("config") or {}
    return {
        name: (str(key), job)
        for key, jobs in config.items()
        if full_key(key) in JOB_CONFIG_KEYS
        for name, job in (jobs or {}).items()
    }


def requires_digest(stack: str, policy_dir: Path) -> bool:
    path = policy_dir / f"{stack}.json"
    if not path.exists():  # no policy config: the pack's defaults (a directory here is an error, not "none")
        return False
    setting = read_policy_config(path).get("job-image-pinned")
    return isinstance(setting, dict) and bool(setting.get("requireDigest", False))


def promote(
    source: Any,
    target: Any,
    jobs: Sequence[str] | None,
    target_requires_digest: bool,
    target_name: str,
    *,
    registry_server: str,
    shared_images: Mapping[str, str],
    source_name: str = "the source stack",
    registry_source: str = "aca-jobs:platform.registry.server",
) -> list[tuple[str, str, str]]:
    """Copy images into `target` (in place); returns (job, old image, new image) for each image that changed.

    `registry_server` is the target's registry (`registry_source` says where it comes from); `shared_images`
    names, per target job, how its image is shared through anchors or merge keys (see `shared_images`)."""
    source_kinds, target_kinds = jobs_by_kind(source), jobs_by_kind(target)
    source_jobs, target_jobs = stack_jobs(source), stack_jobs(target)
    # Without --job: the jobs both stacks have (a job only in the source is reported by `source_only_jobs`).
    chosen = list(dict.fromkeys(jobs)) if jobs else sorted(set(source_jobs) & set(target_jobs))
    problems = []
    for name in chosen:
        if name not in source_jobs:
            problems.append(f"job `{name}` is not in the source stack")
            continue
        if name not in target_jobs:
            problems.append(
                f"job `{name}` does not exist in {target_name}; add it there in its own reviewed change first "
                "(promotion moves images, never jobs)"
            )
            continue
        source_key, target_key = source_kinds[name][0], target_kinds[name][0]
        if full_key(source_key) != full_key(target_key):
            # One name, two kinds: the image of a scheduled job is not a manual job's, whatever they are called.
            problems.append(
                f"job `{name}` is under `{source_key}` in {source_name} but under `{target_key}` in {target_name}: "
                "promotion copies an image between jobs of one kind only. Fix: make the job the same kind in both "
                "stacks (or give one of them another name) in its own reviewed change, then promote"
            )
            continue
        image = str(source_jobs[name]["image"])
        if target_requires_digest and split_image(image)[2] is None:
            problems.append(
                f"job `{name}`: `{image}` has no digest, and {target_name}'s policy config "
                "requires one; pin it by digest in the source stack first"
            )
        # Host names are case-insensitive (RFC 4343), as the config and the pack compare them.
        if not same_host(image_registry(image), registry_server):
            problems.append(
                f"job `{name}`: `{image}` is not from {target_name}'s registry `{registry_server}` "
                f"({registry_source}), the only one its jobs may pull from; push the image to "
                f"`{registry_server}` and reference it from there in the source stack"
            )
        if image != str(target_jobs[name]["image"]) and name in shared_images:
            problems.append(
                f"job `{name}`: its image in {target_name} {shared_images[name]}, so promoting it would change "
                "more than this job's image; write the image out in each job (`image: <reference>`, without "
                "`&`, `*` or `<<`), then promote again"
            )
    if problems:
        raise PromotionRefusedError("\n".join(f"- {p}" for p in problems))
    changed = []
    for name in chosen:
        old, new = target_jobs[name]["image"], str(source_jobs[name]["image"])
        if str(old) != new:
            target_jobs[name]["image"] = same_style(old, new)
            changed.append((name, str(old), new))
    return changed


def same_style(old: Any, new: str) -> Any:
    """`new`, written as `old` was (plain, 'single' or "double" quoted, with its anchor if it had one)."""
    if not isinstance(old, ScalarString):
        return new
    value = type(old)(new)
    anchor = old.yaml_anchor()
    if anchor is not None:
        value.yaml_set_anchor(anchor.value, always_dump=True)
    return value


# --- anchors, aliases and merge keys ---------------------------------------------------------------------


def shared_images(text: str) -> dict[str, str]:
    """Job -> how its image is shared with something else in the file, for every job whose image is.

    An image (or its job, or a map above it) written once and used again through an alias, or one that comes
    from a `<<` merge key, is one YAML node: changing it for one job changes it wherever it is used."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # nodes only: an alias is the very node it names
    if not isinstance(root, yaml.MappingNode):
        return {}
    references: Counter[int] = Counter()
    seen: set[int] = set()
    pending: list[yaml.Node] = [root]
    while pending:  # the file already passed the strict reader's size, depth and alias budget
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children = [child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode) else []
        children += node.value if isinstance(node, yaml.SequenceNode) else []
        for child in children:
            references[id(child)] += 1
            pending.append(child)

    config, _ = _entries(root).get("config", (None, False))
    images: dict[str, tuple[yaml.Node, str | None]] = {}
    for key, (jobs, jobs_merged) in (_entries(config) if isinstance(config, yaml.MappingNode) else {}).items():
        if full_key(key) not in JOB_CONFIG_KEYS or not isinstance(jobs, yaml.MappingNode):
            continue
        for name, (job, job_merged) in _entries(jobs).items():
            if not isinstance(job, yaml.MappingNode) or "image" not in _entries(job):
                continue
            image, image_merged = _entries(job)["image"]
            how = None
            if jobs_merged or job_merged or image_merged:
                how = "comes from a `<<` merge key"
            elif any(references[id(node)] > 1 for node in (config, jobs, job, image)):
                how = "is shared through a YAML anchor (`&`) and alias (`*`)"
            images[name] = (image, how)
    shared = {}
    for name, (image, how) in images.items():
        if how is None:
            continue
        others = sorted(other for other, (node, _) in images.items() if node is image and other != name)
        shared[name] = how + (f", with job {', '.join(f'`{o}`' for o in others)}" if others else "")
    return shared


def _entries(node: yaml.MappingNode, merged: bool = False, seen: frozenset[int] = frozenset()) -> dict:
    """Key -> (value node, whether it comes from a merge key), as YAML resolves them: own keys win, then the
    merged maps in order."""
    result: dict[str, tuple[yaml.Node, bool]] = {}
    merges = []
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            merges += value.value if isinstance(value, yaml.SequenceNode) else [value]
        elif isinstance(key, yaml.ScalarNode):
            result.setdefault(key.value, (value, merged))
    for source in merges:
        if isinstance(source, yaml.MappingNode) and id(source) not in seen:
            for key, entry in _entries(source, True, seen | {id(node)}).items():
                result.setdefault(key, entry)
    return result


# --- reading ---------------------------------------------------------------------------------------------


@dataclass
class StackFile:
    path: Path
    text: str  # exactly as in the file (line endings kept), without a byte-order mark
    bom: str
    newline: str | None  # None: mixed line endings
    values: dict[str, Any]  # the strict reader's view

    @property
    def name(self) -> str:
        return self.path.name


def read_stack(path: Path) -> StackFile:
    """A stack file, read strictly (`components.stack_file` refuses what YAML would silently drop or turn into
    something else), with its exact text."""
    try:
        values = load_stack_yaml(path)
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PromotionRefusedError(f"{path.name} not found in {path.parent}") from None
    except IsADirectoryError:
        raise PromotionRefusedError(f"{path.name} is a directory, not a stack file ({path})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PromotionRefusedError(f"{path.name}: cannot read it: {reason(error)}") from None
    bom = BOM if text.startswith(BOM) else ""
    text = text.removeprefix(BOM)
    return StackFile(path, text, bom, newline_style(text), values)


def round_trip_load(stack_yaml: YAML, stack: StackFile) -> Any:
    try:
        return stack_yaml.load(stack.text.replace("\r\n", "\n"))
    except YAMLError as error:
        raise PromotionRefusedError(f"{stack.name}: not valid YAML: {error}") from None


def newline_style(text: str) -> str | None:
    """CRLF or LF, whichever ends every line of the file; None when it mixes them (or has a lone CR)."""
    crlf = text.count("\r\n")
    lf, cr = text.count("\n") - crlf, text.count("\r") - crlf
    if cr or (crlf and lf):
        return None
    return "\r\n" if crlf else "\n"


def check_contract(values: dict[str, Any], name: str, project_dir: Path) -> StackConfigBase:
    """The config contract, applied to what the program would receive: the preview's view of the file (bare keys
    namespaced; other providers' keys, encrypted or not, left unchecked), on top of the project's defaults,
    reduced to the keys the program reads (`raw_stack_config`) and decoded as the engine passes them."""
    try:
        project_file = project_dir / "Pulumi.yaml"
        project_config = preview.read_yaml(project_file, "project file") if project_file.is_file() else {}
        project = str(project_config.get("name") or PROJECT)
        merged = {
            **preview.project_defaults(project_config, project),
            **preview.stack_config(values, name, project),
        }
    except preview.UsageError as error:
        raise PromotionRefusedError(str(error)) from None
    return preview.StackInput(stack=name, project=project, path=Path(name), config=merged).check()


# --- writing ---------------------------------------------------------------------------------------------


def dump(yaml: YAML, document: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def render(stack_yaml: YAML, document: Any, target: StackFile) -> str:
    """The promoted target as it will be written: the round-trip dump in the file's own line endings, without a
    final line break if the file had none (the byte-order mark is added when writing)."""
    text = dump(stack_yaml, document)
    if not target.text.endswith(("\n", "\r")):
        text = text.removesuffix("\n")
    return text.replace("\n", target.newline or "\n")


def lines(text: str) -> list[str]:
    """Lines with their endings; only a line feed ends a line (str.splitlines also splits on form feeds and
    Unicode separators, which YAML keeps inside a line)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def check_only_images_change(before: str, after: str, changed: list[tuple[str, str, str]], name: str) -> None:
    """Every line that differs must be an image line with the old image replaced by the new one."""
    old_lines, new_lines = lines(before), lines(after)
    replacements = [(old, new) for _, old, new in changed]

    def explained(old_line: str, new_line: str) -> bool:
        return old_line == new_line or any(old_line.replace(o, n, 1) == new_line for o, n in replacements)

    pairs = list(zip(old_lines, new_lines, strict=False))
    unexplained = [number for number, pair in enumerate(pairs, start=1) if not explained(*pair)]
    if not unexplained and len(old_lines) == len(new_lines):
        return
    number = unexplained[0] if unexplained else len(pairs) + 1
    shown = old_lines[number - 1].rstrip("\r\n") if number <= len(old_lines) else "(end of file)"
    raise PromotionRefusedError(
        f"{name}: line {number} (`{shown}`) would be rewritten too, not only the image lines: the YAML writer "
        "does not keep this formatting. Fix: format the file as `pulumi config set` writes it (2-space "
        "indentation, no trailing spaces, no `---`), or change the image lines by hand."
    )


def check_only_images_moved(before: dict[str, Any], after: dict[str, Any], changed: list[tuple[str, str, str]]) -> None:
    """Read back, the written file must say what the target said with only the promoted images changed."""
    expected = copy.deepcopy(before)
    for job, _, image in changed:
        for key, jobs in (expected.get("config") or {}).items():
            if full_key(key) in JOB_CONFIG_KEYS and job in (jobs or {}):
                jobs[job]["image"] = image
    if after != expected:
        raise PromotionFailedError("the written file would differ from the target beyond the promoted images")


def write_target(path: Path, data: bytes) -> None:
    """The promoted file, written atomically; a read-only target is refused rather than replaced."""
    target = path.resolve()
    if not stat.S_IMODE(os.stat(target).st_mode) & 0o222 or not os.access(target, os.W_OK):
        raise PromotionRefusedError(f"{path.name} is read-only; nothing was written. Fix: make it writable first.")
    write_atomically(target, data)


def reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


# --- command line ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="source stack, e.g. staging")
    parser.add_argument("--to", dest="target", required=True, help="target stack, e.g. prod")
    parser.add_argument("--job", action="append", dest="jobs", help="job to promote (repeatable; default all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 when the target lags the source")
    parser.add_argument(
        "--platform-outputs",
        type=Path,
        help="a team target's platform stack outputs, as `pulumi stack output --json` prints them (default: preview "
        "the platform stack when its file is in the project); its contract names the registry",
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    target_name = f"Pulumi.{args.target}.yaml"
    try:
        return run(args)
    except (PromotionRefusedError, PolicyConfigError, StackConfigError, StackFileError) as error:
        print(f"promotion {args.source} -> {args.target} refused:\n{error}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as error:
        where = f"{Path(error.filename).name}: " if error.filename else ""
        print(f"promotion {args.source} -> {args.target} refused:\n{where}{reason(error)}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as error:  # a bug in this tool: a message, never a traceback or a verdict's exit code
        print(
            f"promotion {args.source} -> {args.target} failed (a bug in this tool, not in the stack files): "
            f"{type(error).__name__}: {error}\n{target_name} is unchanged, or fully written: never partly.",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def source_only_jobs(source: Any, target: Any, source_name: str, target_name: str) -> list[str]:
    """A note per job the source has and the target lacks: promotion moves images, never jobs."""
    missing = sorted(set(stack_jobs(source)) - set(stack_jobs(target)))
    return [
        f"job `{name}` is in {source_name} but not in {target_name}, so its image was not promoted. Promotion "
        f"moves images, never jobs: to add it, copy its block into {target_name} in its own reviewed change (with "
        "the settings that stack needs, and a digest-pinned image where its policy requires one), then promote."
        for name in missing
    ]


def target_registry(config: StackConfigBase, args: argparse.Namespace) -> tuple[str, str]:
    """The registry the target's jobs pull from, and where that is said: a stack with a platform of its own names
    it in `aca-jobs:platform.registry.server`; a team stack's comes from its platform stack's contract, read from
    `--platform-outputs` or from a preview of the platform stack's file in the project (`tools/platform_outputs.py`),
    as the program reads it."""
    if config.platform is not None:
        return config.platform.registry.server, "aca-jobs:platform.registry.server"
    try:
        given = preview.read_stack(args.target, None, args.project_dir)
        contract = preview.team_contract(given, args.platform_outputs, args.project_dir)
    except preview.UsageError as error:
        raise PromotionRefusedError(str(error)) from None
    return contract.registry.server, f"registry.server of the platform stack `{config.platform_stack}`'s contract"


def run(args: argparse.Namespace) -> int:
    # Both files are read strictly before anything else happens.
    source = read_stack(args.project_dir / f"Pulumi.{args.source}.yaml")
    target = read_stack(args.project_dir / f"Pulumi.{args.target}.yaml")
    check_contract(source.values, source.name, args.project_dir)
    target_config = check_contract(target.values, target.name, args.project_dir)
    registry_server, registry_source = target_registry(target_config, args)
    stack_yaml = round_trip_yaml()
    target_document = round_trip_load(stack_yaml, target)
    source_document = round_trip_load(stack_yaml, source)
    if not args.jobs:
        for note in source_only_jobs(source_document, target_document, source.name, target.name):
            print(f"note: {note}", file=sys.stderr)
    changed = promote(
        source_document,
        target_document,
        args.jobs,
        requires_digest(args.target, args.project_dir / "policy"),
        target.name,
        registry_server=registry_server,
        shared_images=shared_images(target.text),
        source_name=source.name,
        registry_source=registry_source,
    )
    if not args.jobs and not set(stack_jobs(source_document)) & set(stack_jobs(target_document)):
        print(f"{source.name} and {target.name} have no job in common: there is no image to promote")
        return EXIT_OK
    if not changed:
        print(f"{target.name} already runs the images of {source.name}")
        return EXIT_OK
    if target.newline is None:
        raise PromotionRefusedError(
            f"{target.name}: mixes line endings (CRLF and LF), so it cannot be written back as it is. Fix: convert "
            "it to one style (your editor's line-ending setting, or dos2unix/unix2dos)."
        )
    after = render(stack_yaml, target_document, target)
    check_only_images_change(target.text, after, changed, target.name)
    # The promoted stack must still satisfy the contract (it is what `pulumi up` will read).
    after_values = parse_stack_yaml(after, target.name)
    check_contract(after_values, target.name, args.project_dir)
    check_only_images_moved(target.values, after_values, changed)
    diff = difflib.unified_diff(lines(target.text), lines(after), target.name, target.name)
    print("".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff), end="")
    names = ", ".join(name for name, _, _ in changed)
    if args.check:
        print(f"{args.target} lags {args.source}: {names}", file=sys.stderr)
        return EXIT_LAGS
    if not args.dry_run:
        try:
            write_target(target.path, (target.bom + after).encode("utf-8"))
        except OSError as error:
            raise PromotionRefusedError(
                f"{target.name}: could not write it ({reason(error)}); it is unchanged, nothing was written"
            ) from None
        print(f"updated {target.name}: {names}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
