"""One writer per run directory: an exclusive operating-system lock held for the whole run.

Two processes started on the same run directory would both append every instance to
``samples.jsonl`` and compute metrics over the duplicates. The first process takes an exclusive
lock on ``<run dir>/.harness.lock`` (``filelock``: ``flock`` on POSIX, ``LockFileEx`` on
Windows) and writes its PID to ``.harness.lock.pid`` beside it; a second process is refused at
once with one line naming that PID. A Hydra job directory (which holds ``job.json`` beside its
run directories) is locked the same way. The operating system releases the lock when its holder
exits, however it exits, so a run killed with SIGKILL never blocks its own resume: the stale PID
file is simply overwritten by the next holder.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from harness.errors import ConfigError

LOCK_FILE = ".harness.lock"
PID_FILE = ".harness.lock.pid"
LOCK_FILES = (LOCK_FILE, PID_FILE)
"""The lock's files inside a run directory (kept when ``overwrite=true`` empties the directory)."""


class RunDirectoryInUse(ConfigError):
    """Another process holds the lock of the run (or job) directory."""


class RunDirectoryLock:
    """The exclusive lock on one run directory (a context manager; never waits)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._lock = FileLock(str(self.run_dir / LOCK_FILE), timeout=0)

    @property
    def pid_path(self) -> Path:
        """The side file holding the PID of the process that holds the lock."""
        return self.run_dir / PID_FILE

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ConfigError` naming the process that holds it."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the run directory {self.run_dir}: {exc.strerror}; "
                "choose a writable place with hydra.run.dir=<path>"
            ) from None
        try:
            self._lock.acquire()
        except Timeout:
            raise RunDirectoryInUse(
                f"{self.run_dir} is in use by another harness process ({self._holder()}); wait for it "
                "to finish or stop it, or choose another directory with hydra.run.dir=<path>"
            ) from None
        self.pid_path.write_text(f"{os.getpid()}\n", encoding="ascii")

    def release(self) -> None:
        """Remove the PID file and release the lock."""
        self.pid_path.unlink(missing_ok=True)
        self._lock.release()

    def _holder(self) -> str:
        try:
            pid = self.pid_path.read_text(encoding="ascii").strip()
        except OSError:
            pid = ""
        return f"PID {pid}" if pid.isdigit() else "PID unknown"

    def __enter__(self) -> RunDirectoryLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()
