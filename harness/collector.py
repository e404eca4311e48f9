"""Garbage-collector policy: no cyclic collections while long-lived objects are being created.

Start-up (importing torch, transformers, pandas and datasets, composing the configuration,
loading the model) creates about a million objects that live until the process ends. Python's
cyclic collector scans them again and again while they are being created, which cost about
0.3 s of a 5 s whole run on the small reference model (benchmarks/overhead.py), and frees
nothing. So the collector is paused while they are made, and the survivors are then frozen:
moved out of the collector's generations (reference counting still frees them), so the
collections during the run only scan what the run itself allocates.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused_for_startup = False


def pause_for_startup() -> None:
    """Pause the collector until :func:`end_startup` (called by the CLI before composing the run)."""
    global _paused_for_startup
    if gc.isenabled():
        gc.disable()
        _paused_for_startup = True


def end_startup() -> None:
    """Freeze what start-up created and resume collection, if :func:`pause_for_startup` paused it."""
    global _paused_for_startup
    if _paused_for_startup:
        gc.freeze()
        gc.enable()
        _paused_for_startup = False


@contextmanager
def paused_then_frozen() -> Iterator[None]:
    """Pause collection for a block that creates long-lived objects, then freeze what it made.

    Used around loading a model (its imports and weights live as long as the process). The
    collector's previous state is restored even when the block raises.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
