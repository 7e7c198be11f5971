"""Templates, stylesheets and wording: the defaults shipped inside the package, and a cycle's own.

The defaults are the package `synthese.templates` (the repository's templates/ folder), read with
importlib.resources, so an installed Synthèse finds them wherever it runs. A cycle may override
any of them: a file of the same name in the folder that `render.templates` names in config.yaml
wins; for the wording, the keys of its `wording.fr.yaml` replace the default ones one by one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .storage import hash_of
from .typography import french_text

WORDING_FILE = "wording.fr.yaml"
SITE_FOLDER = "site"
REVIEW_FOLDER = "review"  # the review page (`synthese review`)


def default_templates_dir() -> Path:
    """The shipped templates folder (a real folder: pip installs packages unzipped)."""
    folder = Path(str(resources.files("synthese.templates")))
    if not (folder / WORDING_FILE).is_file():
        raise ConfigError(f"{folder}: the templates shipped with Synthèse are missing. Reinstall it "
                          "(pip install --force-reinstall synthese).")
    return folder


@dataclass(frozen=True)
class TemplateSet:
    """Where templates are looked up: the cycle's folder first (if any), then the defaults."""

    override: Path | None = None

    @property
    def folders(self) -> list[Path]:
        return [f for f in (self.override, default_templates_dir()) if f is not None]

    def find(self, name: str) -> Path:
        """The file that serves `name` (e.g. 'synthese.css', 'site/style.css')."""
        for folder in self.folders:
            if (folder / name).is_file():
                return folder / name
        raise ConfigError(f"template {name!r} not found in {', '.join(map(str, self.folders))}. "
                          "Reinstall Synthèse or restore the file in your templates folder.")

    def read_text(self, name: str) -> str:
        return self.find(name).read_text(encoding="utf-8")

    def environment(self, subfolder: str = "", **options: Any):
        """A Jinja2 environment over these folders: autoescaped, strict about undefined names.

        Every value a template prints is text from a transcript or config.yaml: data, never markup.
        """
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        paths = [str(folder / subfolder) for folder in self.folders if (folder / subfolder).is_dir()]
        return Environment(loader=FileSystemLoader(paths), autoescape=True, undefined=StrictUndefined,
                           **options)

    def wording(self) -> dict[str, Any]:
        """The French wording of documents, site and review file, French typography applied."""
        return _wording(self.override)

    def hash(self, *, include_site: bool) -> str:
        """Hash of every template file that serves (names and contents). The documents do not
        depend on the site's own templates, so editing those re-publishes without re-rendering."""
        parts: list[Any] = []
        for folder in self.folders:
            # The review page's own files (review/) make no document and no page of the site.
            files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".pyc"
                           and p.relative_to(folder).parts[0] != REVIEW_FOLDER
                           and (include_site or p.relative_to(folder).parts[0] != SITE_FOLDER))
            parts += [[str(p.relative_to(folder)) for p in files], *files]
        return hash_of(*parts)


@functools.lru_cache(maxsize=4)
def _wording(override: Path | None) -> dict[str, Any]:
    wording = _read_wording(default_templates_dir() / WORDING_FILE)
    if override is not None and (override / WORDING_FILE).is_file():
        wording = {**wording, **_read_wording(override / WORDING_FILE)}
    return _typeset(wording)


def _read_wording(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the wording ({exc}). Fix the file or remove it.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the wording must be a list of `key: text` lines.")
    return data


def _typeset(value: Any) -> Any:
    if isinstance(value, str):
        return french_text(value)
    if isinstance(value, dict):
        return {key: _typeset(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typeset(item) for item in value]
    return value
