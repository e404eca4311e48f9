"""Find a Hugging Face model directory: a local path first, then the Hub cache, then the Hub.

Model loading then happens from a local directory only, so transformers never reaches the
network on its own. An unreachable or forbidden Hub becomes one :class:`AdapterError` that says
what to do, and with ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) nothing is attempted
online at all, so a missing model fails at once instead of after the Hub client's retries.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import AdapterError, ConfigError

TRUTHY = {"1", "true", "yes", "on"}
MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "vocab*", "merges*"]
"""What a text classifier needs from a Hub repository (weights, config and tokenizer files)."""


def offline_mode() -> bool:
    """True when the user switched the Hugging Face libraries to offline mode."""
    return any(
        os.environ.get(var, "").strip().lower() in TRUTHY
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def looks_like_path(name: str) -> bool:
    """A name that can only be a filesystem path (a Hub id is ``owner/name`` or ``name``)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name or name.endswith(os.sep)


def resolve_model_dir(name: str, revision: str | None, where: str) -> tuple[Path, str | None]:
    """The local directory holding model ``name`` and the Hub commit it came from (if any).

    ``where`` is the config key that named the model, used in error messages.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path, None
    if path.exists() or looks_like_path(name):
        raise ConfigError(f"{where}: {name} is not a model directory (expected a folder with config.json)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        cached = Path(
            snapshot_download(name, revision=revision, allow_patterns=MODEL_FILES, local_files_only=True)
        )
        return cached, cached.name
    except HFValidationError as exc:
        raise ConfigError(
            f"{where}: {name!r} is neither an existing folder nor a valid Hub model id"
        ) from exc
    except Exception as exc:  # LocalEntryNotFoundError and friends: not in the cache
        if offline_mode():
            raise AdapterError(
                f"{where}: model {name!r} is not in the local Hugging Face cache and offline mode is on "
                f"(HF_HUB_OFFLINE=1). Download it once with `huggingface-cli download {name}` on a machine "
                "with network access, or pass the path of a local model folder."
            ) from exc
    try:
        fetched = Path(snapshot_download(name, revision=revision, allow_patterns=MODEL_FILES))
    except Exception as exc:  # network, authentication or not-found errors all end here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AdapterError(
            f"{where}: could not download model {name!r} from the Hugging Face Hub ({reason}). Check the id "
            "and your network (gated models need `huggingface-cli login`), or pass a local model folder."
        ) from exc
    return fetched, fetched.name
