"""Summary tables (CSV), written atomically: a killed job leaves the old file or none,
never a half-written one."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def write_csv(frame: pd.DataFrame, path) -> None:
    """Write ``frame`` (without its index) to ``path`` through a temporary file in the same
    folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        frame.to_csv(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
