"""Environment variables, their defaults and the project's local folders.

Every setting is read from the environment through these names, so the Dagster resources
(bound with ``EnvVar``), the CLI and the tests agree on one set of defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

TRACKS_ENV = "COLLECTION_TREE_TRACKS"
GENRE_TREE_ENV = "COLLECTION_TREE_GENRE_TREE"
SCENE_TREE_ENV = "COLLECTION_TREE_SCENE_TREE"
OUTPUT_ENV = "COLLECTION_TREE_OUTPUT"
CONFIG_ENV = "COLLECTION_TREE_CONFIG"
PROFILE_ENV = "COLLECTION_TREE_PROFILE"  # "default" (ours) or "seed" (the reference's parameters)
LLM_ENV = "COLLECTION_TREE_LLM"  # "offline" | "anthropic" | unset (auto: anthropic when a key is set)
LLM_CACHE_ENV = "COLLECTION_TREE_LLM_CACHE"  # "0"/"off" disables the response cache
ANTHROPIC_BASE_URL_ENV = "ANTHROPIC_BASE_URL"
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"
LLM_TIMEOUT_ENV = "COLLECTION_TREE_LLM_TIMEOUT"  # seconds one API request may take (default 120)
LLM_MAX_RETRIES_ENV = "COLLECTION_TREE_LLM_MAX_RETRIES"  # SDK retries of a failed request (default 4)
INPUT_ENVS = {"tracks": TRACKS_ENV, "genre_tree": GENRE_TREE_ENV, "scene_tree": SCENE_TREE_ENV}

DEFAULT_LLM_TIMEOUT_S = 120.0
DEFAULT_LLM_MAX_RETRIES = 4

# The checkout (or the current directory for an installed package run elsewhere).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEMO_TRACKS = 6303
DEMO_SEED = 42


def project_dir() -> Path:
    """Where relative defaults live: the checkout when run from it, else the working directory."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT
    return Path.cwd()


def output_dir() -> Path:
    return Path(os.environ.get(OUTPUT_ENV) or project_dir() / "output")


def demo_dir() -> Path:
    """The demo collection is generated here on first use when no inputs are configured."""
    return output_dir() / "demo_collection"


def default_dagster_home() -> Path:
    return project_dir() / ".dagster_home"


def configured_inputs() -> dict[str, str]:
    """The three input paths as configured (empty strings when unset)."""
    return {name: os.environ.get(env) or "" for name, env in INPUT_ENVS.items()}


def _number(env: str, default: float, kind: type, minimum: float) -> float:
    raw = (os.environ.get(env) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{env}: expected a {kind.__name__} >= {minimum:g}, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{env}: expected a {kind.__name__} >= {minimum:g}, got {raw!r}")
    return value


def llm_timeout_s() -> float:
    """Seconds one API request may take before the SDK gives up on it (and retries)."""
    return float(_number(LLM_TIMEOUT_ENV, DEFAULT_LLM_TIMEOUT_S, float, 0.001))


def llm_max_retries() -> int:
    """How often the SDK retries a failed request (429, 5xx, 529, timeouts, connection errors)."""
    return int(_number(LLM_MAX_RETRIES_ENV, DEFAULT_LLM_MAX_RETRIES, int, 0))
