"""`synthese init`: a new cycle's folder, so staff start the next cycle without the repository."""

from __future__ import annotations

import logging
from pathlib import Path

from .core.errors import SyntheseError
from .core.resources import default_templates_dir
from .core.storage import write_text

log = logging.getLogger(__name__)

CONFIG_TEMPLATE = "init/config.yaml"
WEIGHTS_TEMPLATE = "init/themes.weights.yaml"  # the codebook's calibrated keyword weights


def create_cycle_folder(folder: Path) -> Path:
    """Create `folder` with a commented config.yaml (the codebook included, with its calibrated
    keyword weights in themes.weights.yaml), transcripts/ and outputs/; return the config's path.
    An existing config.yaml or weights file is never overwritten."""
    config = folder / "config.yaml"
    weights = folder / Path(WEIGHTS_TEMPLATE).name
    for existing in (config, weights):
        if existing.exists():
            raise SyntheseError(f"{existing} already exists: `synthese init` never overwrites a configuration. "
                                "Choose a new folder, or edit that file.")
    if folder.exists() and not folder.is_dir():
        raise SyntheseError(f"{folder} is a file, not a folder. Choose a folder name for the new cycle.")
    for sub in ("transcripts", "outputs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    write_text(weights, (default_templates_dir() / WEIGHTS_TEMPLATE).read_text(encoding="utf-8"))
    write_text(config, (default_templates_dir() / CONFIG_TEMPLATE).read_text(encoding="utf-8"))
    return config
