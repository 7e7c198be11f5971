"""The YAML files staff write by hand (a session's review file, the cycle's, the glossary): read
as nodes, so that every error can name its line."""

from __future__ import annotations

import yaml

from .errors import ReviewError


def compose(text: str, name: str, fix: str) -> yaml.Node | None:
    """The document's root node (None when empty); a syntax error is a ReviewError naming the
    file, its line and the problem, then `fix` ("Fix the glossary and re-run.")."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReviewError(f"{where}: YAML syntax error: {problem}. {fix}") from None
