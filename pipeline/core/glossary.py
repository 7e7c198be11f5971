"""The cycle's glossary: `glossary.yaml` beside config.yaml, words the recogniser mishears in
every session of the cycle and how they are written.

    - {heard: "data centaires", written: "data centers"}
    - {heard: "smart cité", written: "smart city"}

Each entry is applied like a correction to every session at every run (`revision.Revision.
apply_glossary`, from `review_file.revise_transcript`): whole words, whatever their case, the
written form as written, a capital kept at the start of a sentence. It is never given to
Whisper: a hint of words to write makes the recogniser write them where nobody said them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from . import limits
from .errors import ReviewError
from .revision import bare
from .staff_yaml import compose

GLOSSARY_FILE = "glossary.yaml"
USAGE = 'a list of {heard: "words as the recogniser writes them", written: "words as they are written"}'


@dataclass(frozen=True)
class GlossaryEntry:
    heard: str
    written: str
    line: int  # 1-based, for messages

    @property
    def key(self) -> tuple[str, ...]:
        """The heard words as they are compared: two entries of one key are one entry."""
        return tuple(bare(w) for w in self.heard.split())


def glossary_path(root: Path) -> Path:
    """The glossary of the cycle whose config.yaml is in `root`."""
    return root / GLOSSARY_FILE


def load_glossary(path: Path) -> list[GlossaryEntry]:
    """The entries of a glossary file; none when it is missing. A file that does not parse
    raises ReviewError with its line."""
    if not path.exists():
        return []
    try:
        limits.input_file(path, root=path.parent)
        limits.check_file_size(path, limits.MAX_CONFIG_BYTES, "glossary", "Keep the glossary to the words of the cycle.")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{path.name}: cannot read the glossary ({exc}). Save it as UTF-8 text.") from None
    return parse_glossary(text, path.name)


def parse_glossary(text: str, name: str) -> list[GlossaryEntry]:
    """The glossary's text as entries; ReviewError naming the line where it is wrong."""
    root = compose(text, name, "Fix the glossary and re-run.")
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value in ("", "~", "null")):
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise ReviewError(f"{name}, line {root.start_mark.line + 1}: the glossary must be {USAGE}. Fix it and re-run.")
    entries: list[GlossaryEntry] = []
    seen: dict[tuple[str, ...], int] = {}
    for node in root.value:
        line = node.start_mark.line + 1
        fields = {}
        if isinstance(node, yaml.MappingNode):
            fields = {str(k.value): v.value for k, v in node.value if isinstance(v, yaml.ScalarNode)}
        unknown = sorted(set(fields) - {"heard", "written", "note"})
        if not isinstance(node, yaml.MappingNode) or len(fields) != len(node.value) or unknown:
            detail = f"unknown key '{unknown[0]}'" if unknown else "each entry"
            raise ReviewError(f"{name}, line {line}: {detail}: the glossary must be {USAGE}. Fix it and re-run.")
        heard = " ".join(limits.strip_controls(str(fields.get("heard") or "")).split())
        written = " ".join(limits.strip_controls(str(fields.get("written") or "")).split())
        entry = GlossaryEntry(heard, written, line)
        if not heard or not written or not all(entry.key):
            raise ReviewError(f"{name}, line {line}: 'heard' and 'written' must both be words; the glossary must "
                              f"be {USAGE}. Fix it and re-run.")
        if entry.key in seen:
            raise ReviewError(f"{name}, line {line}: \"{heard}\" is already in the glossary (line "
                              f"{seen[entry.key]}); keep one of the two entries and re-run.")
        seen[entry.key] = line
        entries.append(entry)
    return entries
