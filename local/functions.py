"""Load a function's handler module by its folder, as Lambda would (each folder has its own
`app.py`, so they cannot all be imported as `app`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

FUNCTIONS: Final = Path(__file__).resolve().parent.parent / "functions"


def module(name: str) -> ModuleType:
    """functions/<name>/app.py, imported once as `<name>_app`."""
    qualified = f"{name}_app"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, FUNCTIONS / name / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no function named {name!r} in {FUNCTIONS}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = loaded
    spec.loader.exec_module(loaded)
    return loaded
