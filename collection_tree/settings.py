"""Every setting the project takes from the environment, and the places a build's files go.

This is the only module that reads ``os.environ``. :class:`Settings` is a frozen object with one
field per setting, each declared with its environment variable, default and meaning (the README's
table is this list); adding a setting is one line there. ``current()`` builds it from the
environment: an entry point (the code location, a CLI command) asks once and passes it on; the
Dagster resources are bound to the same variables as ``EnvVar``s (``resources/factory.py``).

:class:`Places` derives every path from the output folder (store, LLM cache, demo collection, the
test run's corner), so moving the output folder moves everything unless a place is set on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from upath import UPath

# The checkout (or the current directory for an installed package run elsewhere).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEMO_TRACKS = 6303
DEMO_SEED = 42
TEST_RUN = "test_run"  # the test run's outputs and stored phases live in this sub-folder of each place
TREE_FILE = "curated_collection.json"
INPUTS = ("tracks", "genre_tree", "scene_tree")
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"
# Read by the Anthropic SDK; here only to redact them from messages and to tell whether a key is set.
SECRET_ENV = (ANTHROPIC_KEY_ENV, "ANTHROPIC_AUTH_TOKEN")
_OFF = ("0", "off", "false", "no", "disabled")


def setting(env: str, default: str = "", help: str = "") -> Any:
    """One setting: its environment variable, its default (when unset or empty) and what it means."""
    return field(default=default, metadata={"env": env, "help": help})


def project_dir() -> Path:
    """Where relative defaults live: the checkout when run from it, else the working directory."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT
    return Path.cwd()


def default_output_dir() -> Path:
    return project_dir() / "output"


def local_or_url(location: str) -> Path | UPath:
    """A local path as a ``Path``; ``s3://``, ``gs://``, ``memory://``... as a ``UPath``."""
    if "://" in location and not location.startswith("file://"):
        return UPath(location)
    return Path(location.removeprefix("file://"))


@dataclass(frozen=True)
class Places:
    """Where one build's files go: outputs (tree, exports, demo collection), the phase store (a path
    or a URL such as ``s3://bucket/store``) and the LLM response cache (a SQLite file, or on a URL
    such as ``s3://bucket/llm-cache`` one object per answer)."""

    output: Path
    store: str
    llm_cache: Path | UPath

    @classmethod
    def at(cls, output: str | Path, *, store: str = "", llm_cache: str = "") -> Places:
        """Everything under ``output`` unless ``store`` / ``llm_cache`` are given."""
        out = Path(output)
        return cls(output=out, store=store or str(out / "store"),
                   llm_cache=local_or_url(llm_cache) if llm_cache else out / "llm_cache.sqlite")

    @property
    def tree_file(self) -> Path:
        """The Collection Tree JSON people use (the store keeps its own copy)."""
        return self.output / TREE_FILE

    @property
    def demo(self) -> Path:
        """The demo collection is generated here on first use when no inputs are configured."""
        return self.output / "demo_collection"

    def for_test_run(self, test: bool = True) -> Places:
        """The test run's corner: outputs and stored phases in a ``test_run`` sub-folder (the LLM
        cache is shared: the same question has the same answer)."""
        if not test:
            return self
        return replace(self, output=self.output / TEST_RUN, store=self.store.rstrip("/") + "/" + TEST_RUN)


@dataclass(frozen=True)
class Settings:
    """The project's settings. Empty means unset: the default applies."""

    tracks: str = setting("COLLECTION_TREE_TRACKS", "", "tracks file, CSV or Parquet (DESIGN section 1)")
    genre_tree: str = setting("COLLECTION_TREE_GENRE_TREE", "", "genre tree JSON")
    scene_tree: str = setting("COLLECTION_TREE_SCENE_TREE", "", "scene tree JSON")
    config: str = setting("COLLECTION_TREE_CONFIG", "", "optional `config.json`: `creative_model`, `mechanical_model`")
    output: str = setting("COLLECTION_TREE_OUTPUT", "", "output folder: the tree, the exports, the phase store, "
                                                        "the LLM cache and the demo collection (default `output/`)")
    store: str = setting("COLLECTION_TREE_STORE", "", "the phase store as a URL (`s3://...` works through "
                                                      "universal-pathlib; default `<output>/store`)")
    llm_cache_path: str = setting("COLLECTION_TREE_LLM_CACHE_PATH", "", "the LLM response cache file "
                                                                        "(default `<output>/llm_cache.sqlite`), or "
                                                                        "a URL (`s3://bucket/llm-cache`: one "
                                                                        "object per answer)")
    llm_cache: str = setting("COLLECTION_TREE_LLM_CACHE", "on", "`off` disables the LLM response cache")
    profile: str = setting("COLLECTION_TREE_PROFILE", "default", "parameter profile: `default` (ours) or `seed` "
                                                                  "(the reference's values exactly)")
    llm: str = setting("COLLECTION_TREE_LLM", "auto", "`offline`, `anthropic`, `anthropic-batch`, or `auto` "
                                                      "(anthropic when a key is set)")
    unattended_llm: str = setting("COLLECTION_TREE_UNATTENDED_LLM", "anthropic-batch",
                                  "how builds nobody waits for (the `weekly_rebuild` schedule, the sensors) use "
                                  "the API: `anthropic-batch` (Message Batches: half price, minutes to hours) or "
                                  "`anthropic` (as interactive builds)")
    anthropic_base_url: str = setting("ANTHROPIC_BASE_URL", "", "the Anthropic API's URL, e.g. the loopback fake "
                                                                "server (default: the API's own)")
    music_root: str = setting("COLLECTION_TREE_MUSIC_ROOT", "", "folder that relative track `location`s are under "
                                                                "(playlists, Rekordbox; default the tracks file's)")
    rebuild_cron: str = setting("COLLECTION_TREE_REBUILD_CRON", "0 3 * * 1", "cron of the `weekly_rebuild` schedule")
    timezone: str = setting("COLLECTION_TREE_TIMEZONE", "UTC", "its time zone (IANA name)")
    llm_timeout: str = setting("COLLECTION_TREE_LLM_TIMEOUT", "120", "seconds one API request may take before the "
                                                                     "SDK gives up on it (and retries)")
    llm_max_retries: str = setting("COLLECTION_TREE_LLM_MAX_RETRIES", "4", "SDK retries of a failed request (429, "
                                                                         "5xx, 529, timeouts, connection errors)")
    overrides: str = setting("COLLECTION_TREE_OVERRIDES", "", "the user's edits applied to every build "
                                                              "(`phases/overrides.py`; default "
                                                              "`<output>/overrides.json`)")
    dagster_home: str = setting("DAGSTER_HOME", "", "the Dagster instance, so run history persists between "
                                                    "commands (default `.dagster_home/`)")
    # Not a setting: whether the SDK will find a key (``auto`` picks the Anthropic API then). Never the key.
    anthropic_key_set: bool = field(default=False, compare=False)
    # The fields whose value came from the environment (the resources bind those as EnvVar).
    env_set: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {f.name: env[f.metadata["env"]].strip() for f in cls.settings()
                  if env.get(f.metadata["env"], "").strip()}
        return cls(**values, anthropic_key_set=bool(env.get(ANTHROPIC_KEY_ENV)), env_set=frozenset(values))

    @classmethod
    def settings(cls) -> list[Any]:
        """The declared settings (dataclass fields with an environment variable), in order."""
        return [f for f in fields(cls) if "env" in f.metadata]

    @classmethod
    def env_name(cls, name: str) -> str:
        """The environment variable of setting ``name`` (for messages: "set COLLECTION_TREE_...")."""
        return next(f.metadata["env"] for f in cls.settings() if f.name == name)

    def with_values(self, **values: str) -> Settings:
        """A copy with some settings given in code (they no longer count as from the environment)."""
        return replace(self, **values, env_set=self.env_set - set(values))

    # -- derived ---------------------------------------------------------------------------------
    def output_dir(self) -> Path:
        return Path(self.output) if self.output else default_output_dir()

    def overrides_file(self) -> Path:
        """``overrides.json``: the user's edits (issue 15 part 4); a missing file means none."""
        return Path(self.overrides) if self.overrides else self.output_dir() / "overrides.json"

    def places(self) -> Places:
        return Places.at(self.output_dir(), store=self.store, llm_cache=self.llm_cache_path)

    @property
    def llm_cache_enabled(self) -> bool:
        return self.llm_cache.strip().lower() not in _OFF

    def input_paths(self) -> dict[str, str]:
        """The configured input files (``tracks``, ``genre_tree``, ``scene_tree``), only those set."""
        return {name: getattr(self, name) for name in INPUTS if getattr(self, name)}

    def llm_timeout_s(self) -> float:
        return float(self._number("llm_timeout", float, 0.001))

    def llm_retries(self) -> int:
        return int(self._number("llm_max_retries", int, 0))

    def _number(self, name: str, kind: type, minimum: float) -> float:
        raw = getattr(self, name)
        problem = f"{self.env_name(name)}: expected a {kind.__name__} >= {minimum:g}, got {raw!r}"
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(problem) from None
        if value < minimum:
            raise ValueError(problem)
        return value

    def dagster_home_dir(self) -> Path:
        return Path(self.dagster_home) if self.dagster_home else project_dir() / ".dagster_home"


def current() -> Settings:
    """The settings of this process's environment, read now."""
    return Settings.from_env()


def use_dagster_home(settings: Settings) -> Path:
    """Create the Dagster instance folder and point this process at it (``DagsterInstance.get()``
    reads ``DAGSTER_HOME``): the CLI and ``dagster dev`` then share one run history."""
    home = settings.dagster_home_dir()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def secret_values() -> list[str]:
    """The API credentials set in the environment, so messages can be scrubbed of them."""
    return [os.environ[name] for name in SECRET_ENV if os.environ.get(name)]
