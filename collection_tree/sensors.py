"""``tree_version_sensor``: a new version of the genre or scene tree file requests one build;
``tracks_change_sensor``: a new version (sha256) of the tracks file does. Both make the choice
``collection-tree update`` makes (``assets/incremental.choose``): the incremental update job when tracks
were only added and the trees only gained track ids, else the full build (tag ``collection_tree/choice``).

Both sensors on, one change to the tracks and the trees together requests one run, not two: every
request is tagged with the digest of all three input files (``collection_tree/inputs``), as are the
runs of ``collection-tree build`` and ``update`` (``commands/build.inputs_tag``), and a sensor skips
inputs that a queued or running run already carries, or that the last finished build read
(``already_handled``).

A version is the file's sha256 plus the tree's ``id`` and ``created_at``; the cursor (JSON) holds
the last version seen of each tree. A file modified in the last ``SETTLE_SECONDS`` or that does not
parse is treated as half-written: the tick skips and the cursor stays, so the next tick retries.
Off by default (a build may spend LLM money): turn it on in the UI or with
``dagster sensor start tree_version_sensor -m collection_tree.definitions`` (likewise
``tracks_change_sensor``).
"""

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from collection_tree.assets.incremental import choose
from collection_tree.assets.modes import FULL
from collection_tree.core.inputs import file_sha256
from collection_tree.jobs import UPDATE_RUN_CONFIG, collection_tree_job, collection_tree_update_job
from collection_tree.phases.incremental import BuildChoice
from collection_tree.resources.llm import UNATTENDED_TAG
from collection_tree.resources.settings import CollectionInputs

TREES = ("genre", "scene")
SETTLE_SECONDS = 2.0
MINIMUM_INTERVAL_SECONDS = 60
TRIGGER_TAG = "collection_tree/trigger"
CHANGED_TAG = "collection_tree/changed"
CHOICE_TAG = "collection_tree/choice"  # update or full, and why
INPUTS_TAG = "collection_tree/inputs"  # digest of the three input files the run was requested for
INPUTS = ("tracks", "genre_tree", "scene_tree")
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]


@dataclass(frozen=True)
class TreeVersion:
    path: str
    sha256: str
    id: str
    created_at: str


class NotReady(Exception):
    """The file is missing, being written or unreadable: skip this tick, keep the cursor."""


def tree_paths(inputs: CollectionInputs) -> dict[str, Path]:
    """The tree files the assets will read: the configured ones, else the demo collection's
    (not generated here: a sensor tick must stay cheap)."""
    paths = inputs.resolved() if inputs.configured() else inputs.demo_paths()  # resolved() raises when only
    return {tree: paths[f"{tree}_tree"] for tree in TREES}                      # some are set, as the assets would


def read_tree_version(path: Path, now: float | None = None) -> TreeVersion:
    try:
        stat = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotReady(f"{path}: file not found") from exc
    except OSError as exc:
        raise NotReady(f"{path}: unreadable ({exc.strerror or exc})") from exc
    age = (time.time() if now is None else now) - stat.st_mtime
    if age < SETTLE_SECONDS:
        raise NotReady(f"{path}: modified {max(age, 0):.1f}s ago, may still be being written")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotReady(f"{path}: not valid JSON yet ({exc}); half-written?") from exc
    if not isinstance(doc, dict):
        raise NotReady(f"{path}: expected a JSON object with 'id' and 'created_at'")
    return TreeVersion(path=str(path), sha256=hashlib.sha256(data).hexdigest(),
                       id=str(doc.get("id", "")), created_at=str(doc.get("created_at", "")))


def parse_cursor(cursor: str | None) -> dict[str, dict[str, str]]:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _built_versions(context: SensorEvaluationContext) -> dict[str, dict[str, str]]:
    """Without a cursor (first tick): the tree ``id``/``created_at`` of the last full build, so
    turning the sensor on after a build does not rebuild the same trees."""
    built: dict[str, dict[str, str]] = {}
    for tree in TREES:
        event = context.instance.get_latest_materialization_event(FULL.key(f"{tree}_tree"))
        mat = event.asset_materialization if event else None
        if mat is not None and "tree_id" in mat.metadata:
            created = mat.metadata.get("created_at")
            built[tree] = {"id": str(mat.metadata["tree_id"].value),
                           "created_at": str(created.value) if created is not None else ""}
    return built


def changed_trees(current: dict[str, TreeVersion], seen: dict[str, dict[str, str]],
                  built: dict[str, dict[str, str]]) -> list[str]:
    """Which trees differ from the cursor (by hash), or, with no cursor, from the last build (by id)."""
    changed = []
    for tree in TREES:
        version = current[tree]
        if tree in seen:
            if seen[tree].get("sha256") != version.sha256:
                changed.append(tree)
        elif built.get(tree) != {"id": version.id, "created_at": version.created_at}:
            changed.append(tree)
    return changed


def describe_change(changed: list[str]) -> str:
    return "both" if len(changed) == len(TREES) else changed[0]


def build_choice(context: SensorEvaluationContext, paths: dict[str, Path]) -> BuildChoice:
    """``collection-tree update``'s choice; an unreadable input asks for the full build, which reports it."""
    try:
        return choose(context.instance, paths)
    except ValueError as exc:
        return BuildChoice("full", f"could not compare the inputs with the previous build ({exc})")


def input_digests(paths: dict[str, Path], known: dict[str, str] | None = None) -> dict[str, str]:
    """sha256 of each input file (``known``: digests already computed this tick)."""
    return {name: (known or {}).get(name) or file_sha256(paths[name]) for name in INPUTS}


def inputs_key(digests: dict[str, str]) -> str:
    return hashlib.sha256(";".join(f"{n}={digests[n]}" for n in INPUTS).encode()).hexdigest()[:32]


def already_handled(instance: DagsterInstance, digests: dict[str, str]) -> str | None:
    """Why no run is needed for these inputs, or None: a queued or running run was requested for
    exactly them (the other sensor's, say), or the last finished build read them (its input assets
    and its tree were materialised by one run, with these files' sha256)."""
    runs = instance.get_runs(RunsFilter(tags={INPUTS_TAG: inputs_key(digests)}, statuses=IN_FLIGHT), limit=1)
    if runs:
        trigger, status = runs[0].tags.get(TRIGGER_TAG, "a request"), runs[0].status.value.lower().replace("_", " ")
        return f"run {runs[0].run_id[:8]} ({trigger}, {status}) already builds these inputs"
    tree = instance.get_latest_materialization_event(FULL.key("collection_tree"))
    if tree is None:
        return None
    for name in INPUTS:
        event = instance.get_latest_materialization_event(FULL.key(name))
        digest = event.asset_materialization.metadata.get("sha256") if event and event.asset_materialization else None
        if event is None or event.run_id != tree.run_id or digest is None or str(digest.value) != digests[name]:
            return None
    return f"the last build (run {tree.run_id[:8]}) already read these inputs"


def request_for(choice: BuildChoice, run_key: str, tags: dict[str, str], digests: dict[str, str]) -> RunRequest:
    """The run ``choice`` names: the incremental update job (with its run config) or the full build."""
    tags = {**tags, CHOICE_TAG: f"{choice.kind}: {choice.reason}"[:200], UNATTENDED_TAG: "true",  # nobody waits
            INPUTS_TAG: inputs_key(digests)}
    if choice.kind == "update":
        return RunRequest(run_key=run_key, job_name=collection_tree_update_job.name, run_config=UPDATE_RUN_CONFIG,
                          tags=tags)
    return RunRequest(run_key=run_key, job_name=collection_tree_job.name, tags=tags)


def request_once(context: SensorEvaluationContext, paths: dict[str, Path], known: dict[str, str], what: str,
                 run_key: str, tags: dict[str, str], cursor: str) -> SensorResult | SkipReason:
    """The run for the current inputs (``known``: the digests this tick already has), unless a pending
    run or the last build already has them (``already_handled``); the cursor moves on either way."""
    try:
        digests = input_digests(paths, known)
    except OSError as exc:
        return SkipReason(f"{what}, but an input file is not ready: {exc.strerror or exc}")
    handled = already_handled(context.instance, digests)
    if handled:
        return SensorResult(skip_reason=SkipReason(f"{what}, but {handled}"), cursor=cursor)
    choice = build_choice(context, paths)
    context.log.info(f"{what}: {choice.kind}, {choice.reason}")
    return SensorResult(run_requests=[request_for(choice, run_key, tags, digests)], cursor=cursor)


@sensor(
    jobs=[collection_tree_job, collection_tree_update_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests one build when the genre or scene tree file has a new version (sha256, id, "
                "created_at): the incremental update when the trees only gained track ids and no track was "
                "removed (as collection-tree update decides), else the full build. Half-written or missing "
                "files skip the tick. Off by default: a build may call the LLM API.",
)
def tree_version_sensor(context: SensorEvaluationContext, inputs: CollectionInputs) -> SensorResult | SkipReason:
    try:
        paths = tree_paths(inputs)
    except ValueError as exc:
        return SkipReason(f"inputs misconfigured: {exc}")
    current: dict[str, TreeVersion] = {}
    for tree in TREES:
        try:
            current[tree] = read_tree_version(paths[tree])
        except NotReady as exc:
            return SkipReason(f"{tree} tree not ready: {exc}")
    seen = parse_cursor(context.cursor)
    built = {} if seen else _built_versions(context)
    cursor = json.dumps({tree: asdict(current[tree]) for tree in TREES}, sort_keys=True)
    changed = changed_trees(current, seen, built)
    if not changed:
        reason = "unchanged" if seen else "unchanged since the last build"
        return SensorResult(skip_reason=SkipReason(reason), cursor=cursor)
    which = describe_change(changed)
    # The run key names the new versions and the ones they replace: re-sending a tick is idempotent,
    # and reverting a tree to an earlier file still triggers a build.
    previous = ",".join(seen.get(tree, {}).get("sha256", "none")[:12] for tree in TREES)
    run_key = ",".join(f"{tree}={current[tree].sha256[:16]}" for tree in TREES) + f";after={previous}"
    tags = {TRIGGER_TAG: "tree_version_sensor", CHANGED_TAG: which}
    for tree in TREES:
        tags[f"collection_tree/{tree}_tree"] = f"{current[tree].id} sha256:{current[tree].sha256[:16]}"
    context.log.info(f"{which} tree changed: " + "; ".join(
        f"{t} {seen.get(t, built.get(t, {})).get('id', '?')} -> {current[t].id}" for t in changed))
    all_paths = inputs.resolved() if inputs.configured() else inputs.demo_paths()
    return request_once(context, all_paths, {f"{t}_tree": current[t].sha256 for t in TREES},
                        f"{which} tree changed", run_key, tags, cursor)


@sensor(
    jobs=[collection_tree_job, collection_tree_update_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests one build when the tracks file has a new version (sha256): the incremental update "
                "when tracks were only added (and the trees only gained track ids), else the full build, as "
                "collection-tree update decides. A file modified in the last seconds skips the tick. Off by "
                "default: a build may call the LLM API.",
)
def tracks_change_sensor(context: SensorEvaluationContext, inputs: CollectionInputs) -> SensorResult | SkipReason:
    try:
        paths = inputs.resolved() if inputs.configured() else inputs.demo_paths()
    except ValueError as exc:
        return SkipReason(f"inputs misconfigured: {exc}")
    path = paths["tracks"]
    try:
        age = time.time() - path.stat().st_mtime
        digest = file_sha256(path)
    except OSError as exc:
        return SkipReason(f"tracks file not ready: {path}: {exc.strerror or exc}")
    if age < SETTLE_SECONDS:
        return SkipReason(f"tracks file not ready: {path}: modified {max(age, 0):.1f}s ago")
    seen = parse_cursor(context.cursor).get("tracks", {}).get("sha256")
    if seen is None:  # first tick: the tracks the last build read (the tracks asset's sha256)
        event = context.instance.get_latest_materialization_event(FULL.key("tracks"))
        mat = event.asset_materialization if event else None
        seen = str(mat.metadata["sha256"].value) if mat is not None and "sha256" in mat.metadata else None
    cursor = json.dumps({"tracks": {"path": str(path), "sha256": digest}}, sort_keys=True)
    if seen == digest:
        return SensorResult(skip_reason=SkipReason("tracks file unchanged"), cursor=cursor)
    context.log.info(f"tracks file changed ({(seen or 'none')[:12]} -> {digest[:12]})")
    tags = {TRIGGER_TAG: "tracks_change_sensor", CHANGED_TAG: "tracks"}
    run_key = f"tracks={digest[:16]};after={(seen or 'none')[:12]}"
    return request_once(context, paths, {"tracks": digest}, "tracks file changed", run_key, tags, cursor)
