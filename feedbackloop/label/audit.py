"""What every label row records about how it was made: code version and run id."""

from __future__ import annotations

import subprocess
from functools import cache

from feedbackloop import __version__
from feedbackloop.settings import PROJECT_ROOT


@cache
def code_version() -> str:
    """``<package version>+g<short commit>`` (plus ``.dirty`` for uncommitted changes) when in a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'.dirty' if dirty else ''}"
