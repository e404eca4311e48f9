"""Keep third-party libraries' progress bars and log lines off the harness's console."""

from __future__ import annotations

import os
import sys


def quiet_libraries() -> None:
    """Keep the libraries' own progress bars and log lines off the console.

    The harness shows one progress bar per scenario and its summary table; the bars of
    ``datasets`` ("Generating train split"), of huggingface_hub and of transformers' weight
    loading, and transformers' warnings, would interleave with them. Each library reads an
    environment variable when it is imported; one already imported is told directly. A value the
    user set in the environment wins. Other libraries' log records reach the run's log file, not
    the console (``hydra.job_logging`` in conf/config.yaml).
    """
    for variable in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(variable, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
