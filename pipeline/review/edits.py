"""Changing the review file from the review page, line by line, so staff's own text survives.

The review file (`<id>.review.yaml`) is written by people: they comment it, order it, quote
their keys their own way. The review page changes it through the functions here, which find the
list to change with the YAML parser's positions and splice text only there: one line added for a
new decision, the lines of one item removed, one value replaced. Every other byte (comments,
blank lines, hand-written items, the explanations at the top) stays as it was.

Each edit is checked before it is returned: the new text must parse, and say exactly what the
old one said plus the change; otherwise ReviewEditError, and nothing is to be written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..core.errors import SyntheseError
from ..core.glossary import parse_glossary
from ..core.review_file import SECTIONS, Approved, Review, format_time, parse_review, parse_time

__all__ = ["ReviewEditError", "add_confirmation", "add_correction", "add_key_message", "reject_name",
           "remove_confirmation", "remove_corrections", "remove_glossary_entry", "remove_key_message", "set_approval",
           "set_decision", "set_glossary_entry", "set_key_message", "set_presentation", "set_question", "set_speaker",
           "version_of"]

INDENT = "  "  # items of a list the page creates: two spaces, as in the shipped review file
_PLAIN_KEY = re.compile(r"^[^\W\d_][\w .'’-]*$")
_PLAIN_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


class ReviewEditError(SyntheseError):
    """The review file could not be changed without touching what staff wrote; it is unchanged."""


def version_of(data: bytes) -> str:
    """The version of a review file the page shows: a hash of its bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


# --- what a review file says, in a form two versions can be compared in --------------------------

@dataclass(frozen=True)
class _Said:
    decisions: dict[str, tuple[tuple[str, str, tuple[int, ...]], ...]]
    speakers: tuple[tuple[str, str], ...]
    corrections: tuple[tuple[float, str, str], ...]
    confirmations: tuple[tuple[str, tuple[int, ...]], ...] = ()


def _said(review: Review) -> _Said:
    decisions: dict[str, list[tuple[str, str, tuple[int, ...]]]] = {}
    for d in review.decisions:
        decisions.setdefault(d.kind, []).append((d.passage, d.theme, d.sentences))
    return _Said({k: tuple(v) for k, v in decisions.items()}, tuple(review.speakers.items()),
                 tuple((c.at_s, c.original, c.corrected) for c in review.corrections),
                 tuple((c.passage, c.sentences) for c in review.confirmations))


_SAME = object()  # an edit that leaves the approval as it is


def _approval(approved: Approved | None) -> tuple[str, str, str] | None:
    return (approved.by, approved.at.isoformat(), approved.fingerprint) if approved else None


@dataclass(frozen=True)
class _Written:
    """What staff write for the documents: key messages (text, passages), presentations, questions
    (passage, sentences, answer)."""

    key_messages: tuple[tuple[str, tuple[str, ...]], ...] = ()
    presentations: tuple[tuple[str, str], ...] = ()
    questions: tuple[tuple[str, tuple[int, ...], str], ...] = ()


def _written(review: Review) -> _Written:
    return _Written(tuple((m.text, m.passages) for m in review.key_messages), tuple(review.presentations.items()),
                    tuple((q.passage, q.sentences, q.answer) for q in review.questions))


def _checked(old: str, new: str, name: str, expect: Callable[[_Said], _Said], *, approved: Any = _SAME,
             rejected: Callable[[dict[str, list[str]]], dict[str, list[str]]] | None = None,
             written: Callable[[_Written], _Written] | None = None) -> str:
    """`new` if it parses and says what `old` said changed as `expect`; the approval, the names
    voices were rejected for and what staff wrote for the documents stay as they were unless
    `approved`, `rejected` or `written` say how they change."""
    before_review = parse_review(old, name)
    before = _said(before_review)
    try:
        after_review = parse_review(new, name)
        after = _said(after_review)
    except SyntheseError:
        after_review, after = None, None
    wanted = _approval(before_review.approved) if approved is _SAME else approved
    wanted_rejected = rejected(before_review.rejected_names) if rejected else before_review.rejected_names
    wanted_written = written(_written(before_review)) if written else _written(before_review)
    if (after != expect(before) or after_review is None or _approval(after_review.approved) != wanted
            or after_review.rejected_names != wanted_rejected or _written(after_review) != wanted_written):
        raise ReviewEditError(f"{name}: this change could not be written without altering the rest of the "
                              "file; make it by hand in the file (it was left unchanged).")
    return new


# --- YAML scalars as the page writes them ----------------------------------------------------------

def _quoted(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escapes are YAML's)."""
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _key(text: str) -> str:
    text = " ".join(text.split())
    return text if _PLAIN_KEY.match(text) and text.lower() not in _YAML_WORDS else _quoted(text)


def _id(text: str) -> str:
    return text if _PLAIN_ID.match(text) and text.lower() not in _YAML_WORDS else _quoted(text)


# --- positions in the text -------------------------------------------------------------------------

def _sections(text: str, name: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ReviewEditError(f"{name}: the top level is not a list of sections one per line; edit it by hand.")
    return {str(k.value): (k, v) for k, v in root.value}


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Just after the newline that ends the line holding `index` (or the end of the text)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _content_end(node: yaml.Node) -> int:
    """Where the node's own text ends: a block collection's end mark lies past the comments and
    blank lines that follow it, so take its last value's end."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    return node.end_mark.index


def _source(text: str, node: yaml.Node) -> str:
    return text[node.start_mark.index:_content_end(node)]


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null", "Null", "NULL")


def _after_colon(text: str, key: yaml.Node) -> int:
    """The index just after the ':' that follows a section's key."""
    index = key.end_mark.index
    while index < len(text) and text[index] in " \t":
        index += 1
    if index >= len(text) or text[index] != ":":
        raise ReviewEditError("the review file has a key this page cannot place; edit it by hand.")
    return index + 1


def _append_section(text: str, section_text: str) -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return text + section_text


def _fill_empty(text: str, key: yaml.Node, value: yaml.Node, lines: Sequence[str]) -> str:
    """`accept:` or `accept: ~` (nothing yet) given its first lines; a comment on the key's line
    stays there."""
    if value.end_mark.index > value.start_mark.index and value.start_mark.line == key.start_mark.line:
        text = text[:value.start_mark.index] + text[value.end_mark.index:]
    end = _line_end(text, _after_colon(text, key))
    insert = "".join(f"{line}\n" for line in lines)
    if not text[:end].endswith("\n"):
        insert = "\n" + insert
    return text[:end] + insert + text[end:]


def _replace_flow(text: str, node: yaml.Node, lines: Sequence[str], empty: str) -> str:
    """A flow collection (`[a, b]`, `{}`) rewritten as block lines, or `empty` when none is left."""
    start, end = node.start_mark.index, node.end_mark.index
    if not lines:
        return text[:start] + empty + text[end:]
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return text[:start] + "".join(f"\n{line}" for line in lines) + text[end:]


def _delete_lines(text: str, first: yaml.Node, last: yaml.Node) -> str:
    return text[:_line_start(text, first.start_mark.index)] + text[_line_end(text, _content_end(last)):]


def _insert_after(text: str, node: yaml.Node, line: str) -> str:
    end = _line_end(text, _content_end(node))
    prefix = "" if text[:end].endswith("\n") else "\n"
    return text[:end] + prefix + line + "\n" + text[end:]


def _dash_indent(text: str, item: yaml.Node) -> str:
    before = text[_line_start(text, item.start_mark.index):item.start_mark.index]
    dash = before.rfind("-")
    return before[:dash] if dash >= 0 and not before[:dash].strip() else INDENT


def _fields(node: yaml.Node) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (v.value if isinstance(v, yaml.ScalarNode) else None) for k, v in node.value}


# --- lists of items ----------------------------------------------------------------------------------

def _append_item(text: str, name: str, section: str, item: str) -> str:
    sections = _sections(text, name)
    if section not in sections:
        return _append_section(text, f"{section}:\n{INDENT}- {item}\n")
    key, value = sections[section]
    if _is_empty(value):
        return _fill_empty(text, key, value, [f"{INDENT}- {item}"])
    if not isinstance(value, yaml.SequenceNode):
        raise ReviewEditError(f"{name}: '{section}' is not a list; fix it by hand.")
    if value.flow_style or not value.value:
        lines = [f"{INDENT}- {_source(text, n)}" for n in value.value] + [f"{INDENT}- {item}"]
        return _replace_flow(text, value, lines, "[]")
    last = value.value[-1]
    return _insert_after(text, last, f"{_dash_indent(text, last)}- {item}")


def _remove_items(text: str, name: str, section: str, doomed: Callable[[dict[str, Any]], bool]) -> str:
    sections = _sections(text, name)
    if section not in sections or not isinstance(sections[section][1], yaml.SequenceNode):
        return text
    return _remove_at(text, name, section, [i for i, n in enumerate(sections[section][1].value) if doomed(_fields(n))])


def _remove_at(text: str, name: str, section: str, indices: Sequence[int]) -> str:
    """The items of a section's list at these places removed, their lines with them."""
    sections = _sections(text, name)
    key, value = sections[section]
    removed = [n for i, n in enumerate(value.value) if i in set(indices)]
    if not removed:
        return text
    kept = [n for n in value.value if n not in removed]
    if value.flow_style:
        return _replace_flow(text, value, [f"{INDENT}- {_source(text, n)}" for n in kept], "[]")
    for node in reversed(removed):
        text = _delete_lines(text, node, node)
    if not kept:
        colon = _after_colon(text, key)
        text = text[:colon] + " []" + text[colon:]
    return text


# --- the edits the page makes ------------------------------------------------------------------------

THEME_KINDS = ("accept", "reject", "add")
EXCERPT_KINDS = ("pin", "exclude")


def set_decision(text: str, name: str, *, family: Sequence[str], kind: str | None, passage_key: str, theme: str,
                 same_passage: Callable[[str], bool], sentences: Sequence[int] = ()) -> str:
    """Make `kind` the one decision of its family (THEME_KINDS or EXCERPT_KINDS) on a passage and
    a theme: the family's other decisions on them are removed (`same_passage` tells whether a
    key written in the file names the passage); kind None only removes them."""
    if kind is not None and kind not in family:
        raise ReviewEditError(f"unknown decision {kind!r}")
    new = text

    def doomed(fields: dict[str, Any]) -> bool:
        return fields.get("theme") == theme and isinstance(fields.get("passage"), str) \
            and same_passage(fields["passage"])

    for section in family:
        new = _remove_items(new, name, section, doomed)
    item = ""
    if kind is not None:
        extra = f", sentences: [{', '.join(str(i) for i in sorted(set(sentences)))}]" if sentences else ""
        item = f"{{passage: {_quoted(passage_key)}, theme: {_id(theme)}{extra}}}"
        new = _append_item(new, name, kind, item)
    chosen = tuple(sorted(set(sentences))) if kind == "pin" else ()

    def expect(said: _Said) -> _Said:
        decisions = {}
        for section, items in said.decisions.items():
            kept = tuple(d for d in items if section not in family or not (d[1] == theme and same_passage(d[0])))
            if kept:
                decisions[section] = kept
        if kind is not None:
            decisions[kind] = (*decisions.get(kind, ()), (" ".join(passage_key.split()), theme, chosen))
        return _Said(decisions, said.speakers, said.corrections, said.confirmations)

    return _checked(text, new, name, expect)


def _set_mapping_line(text: str, name: str, section: str, label: str, value: str | None, what: str) -> str:
    """`section: {label: value}` set (or the label's line removed when value is None), line by
    line: the new text, unchecked."""
    sections = _sections(text, name)
    new = text
    line = f"{INDENT}{_key(label)}: {_quoted(value)}" if value else ""
    if section not in sections:
        if value:
            new = _append_section(text, f"{section}:\n{line}\n")
        return new
    key, node = sections[section]
    if _is_empty(node):
        if value:
            new = _fill_empty(text, key, node, [line])
    elif not isinstance(node, yaml.MappingNode):
        raise ReviewEditError(f"{name}: '{section}' is not a list of `{what}` lines; fix it by hand.")
    elif node.flow_style or not node.value:
        pairs = [(k, v) for k, v in node.value if str(k.value).strip() != label]
        lines = [f"{INDENT}{_source(text, k)}: {_source(text, v)}" for k, v in pairs]
        if value:
            places = [i for i, (k, _) in enumerate(node.value) if str(k.value).strip() == label]
            lines.insert(places[0] if places else len(lines), line)
        new = _replace_flow(text, node, lines, "{}")
    else:
        found = [(k, v) for k, v in node.value if str(k.value).strip() == label]
        if found and value:
            k, v = found[0]
            if not isinstance(v, yaml.ScalarNode):
                raise ReviewEditError(f"{name}: the value of {label!r} in '{section}' is not plain text; fix it by hand.")
            new = text[:v.start_mark.index] + _quoted(value) + text[v.end_mark.index:]
            for k, v in reversed(found[1:]):  # a label given twice: its first line wins, the others go
                new = _delete_lines(new, k, v)
        elif found:
            for k, v in reversed(found):
                new = _delete_lines(new, k, v)
            if len(found) == len(node.value):
                colon = _after_colon(new, key)
                new = new[:colon] + " {}" + new[colon:]
        elif value:
            indent = " " * node.value[0][0].start_mark.column
            new = _insert_after(text, node.value[-1][1], f"{indent}{_key(label)}: {_quoted(value)}")
    return new


def set_speaker(text: str, name: str, label: str, person: str | None) -> str:
    """Name a voice (`speakers: {label: person}`), or forget its name when person is empty."""
    label = " ".join(label.split())
    person = " ".join((person or "").split()) or None
    new = _set_mapping_line(text, name, "speakers", label, person, "voice: name")

    def expect(said: _Said) -> _Said:
        speakers = dict(said.speakers)  # a renamed voice keeps its place in the list
        if person:
            speakers[label] = person
        else:
            speakers.pop(label, None)
        return _Said(said.decisions, tuple(speakers.items()), said.corrections, said.confirmations)

    return _checked(text, new, name, expect)


def add_correction(text: str, name: str, at_s: float, original: str, corrected: str) -> str:
    """Append a correction: the words as transcribed near `at_s`, and as they were said."""
    original, corrected = " ".join(original.split()), " ".join(corrected.split())
    if not original:
        raise ReviewEditError("a correction needs the words as transcribed")
    at = format_time(at_s)
    item = f"{{at: {_quoted(at)}, original: {_quoted(original)}, corrected: {_quoted(corrected)}}}"
    new = _append_item(text, name, "corrections", item)
    seconds = float(int(max(0.0, at_s)))

    def expect(said: _Said) -> _Said:
        return _Said(said.decisions, said.speakers, (*said.corrections, (seconds, original, corrected)),
                     said.confirmations)

    return _checked(text, new, name, expect)


def add_confirmation(text: str, name: str, passage_key: str, sentences: Sequence[int]) -> str:
    """Append a confirmation: the passage's sentences whose words a reviewer checked against
    the recording (they may then be quoted although the recogniser was unsure of some)."""
    chosen = tuple(sorted(set(sentences)))
    if not chosen or any(i < 0 for i in chosen):
        raise ReviewEditError("a confirmation needs the numbers of the sentences checked")
    item = f"{{passage: {_quoted(passage_key)}, sentences: [{', '.join(str(i) for i in chosen)}]}}"
    new = _append_item(text, name, "confirm", item)

    def expect(said: _Said) -> _Said:
        return _Said(said.decisions, said.speakers, said.corrections,
                     (*said.confirmations, (" ".join(passage_key.split()), chosen)))

    return _checked(text, new, name, expect)


def remove_confirmation(text: str, name: str, passage_key: str, sentences: Sequence[int]) -> str:
    """Take a confirmation out of the file (undone): the last item that says it."""
    chosen = tuple(sorted(set(sentences)))
    key = " ".join(passage_key.split())
    sections = _sections(text, name)
    said = parse_review(text, name).confirmations
    found = [i for i, c in enumerate(said) if (" ".join(c.passage.split()), c.sentences) == (key, chosen)]
    if "confirm" not in sections or not isinstance(sections["confirm"][1], yaml.SequenceNode) or not found:
        raise ReviewEditError(f"{name}: the confirmation to undo is no longer in the file; reload the page.")
    new = _remove_at(text, name, "confirm", [found[-1]])

    def expect(before: _Said) -> _Said:
        return _Said(before.decisions, before.speakers, before.corrections,
                     tuple(c for i, c in enumerate(before.confirmations) if i != found[-1]))

    return _checked(text, new, name, expect)


def remove_corrections(text: str, name: str, corrections: Sequence[tuple[float, str, str]]) -> str:
    """Take corrections out of the file (undone): for each (at_s, original, corrected), the
    last item that says it. Nothing else moves, so undoing what was just added gives the file
    back as it was."""
    sections = _sections(text, name)
    if "corrections" not in sections or not isinstance(sections["corrections"][1], yaml.SequenceNode):
        raise ReviewEditError(f"{name}: no list of corrections to take this one from; reload the page.")
    said = [_correction_said(n) for n in sections["corrections"][1].value]
    doomed: list[int] = []
    for wanted in corrections:
        wanted = (float(int(wanted[0])), " ".join(wanted[1].split()), " ".join(wanted[2].split()))
        found = [i for i, item in enumerate(said) if item == wanted and i not in doomed]
        if not found:
            raise ReviewEditError(f"{name}: the correction to undo is no longer in the file; reload the page.")
        doomed.append(found[-1])
    new = _remove_at(text, name, "corrections", doomed)

    def expect(before: _Said) -> _Said:
        return _Said(before.decisions, before.speakers,
                     tuple(c for i, c in enumerate(before.corrections) if i not in doomed), before.confirmations)

    return _checked(text, new, name, expect)


def set_approval(text: str, name: str, *, by: str, at: dt.datetime, fingerprint: str) -> str:
    """Record an approval: the one line `approved: {by, at, fingerprint}`, replacing a previous
    approval where it was, else added at the end of the file."""
    by = " ".join(by.split())
    if not by:
        raise ReviewEditError("an approval needs the name of who approves")
    at_text = at.isoformat(timespec="minutes")
    line = f"approved: {{by: {_quoted(by)}, at: {_quoted(at_text)}, fingerprint: {_quoted(fingerprint)}}}"
    sections = _sections(text, name)
    if "approved" in sections:
        key, value = sections["approved"]
        start = _line_start(text, key.start_mark.index)
        if text[start:key.start_mark.index].strip():
            raise ReviewEditError(f"{name}: 'approved' is not at the start of its line; fix it by hand.")
        end = _line_end(text, _content_end(value) if not _is_empty(value) else _after_colon(text, key))
        new = text[:start] + line + "\n" + text[end:]
    else:
        new = _append_section(text, line + "\n")
    return _checked(text, new, name, lambda said: said, approved=(by, dt.datetime.fromisoformat(at_text).isoformat(),
                                                                   fingerprint))


def reject_name(text: str, name: str, label: str, person: str) -> str:
    """Say that a voice is not a person it was recognised as: `person` added to the voice's
    names under `rejected_names:` (`label: ["Name", …]`), so it is never given to it again."""
    label, person = " ".join(label.split()), " ".join(person.split())
    if not label or not person:
        raise ReviewEditError("a rejected name needs the voice and the name")
    sections = _sections(text, name)
    before = parse_review(text, name).rejected_names
    names = [*before.get(label, [])]
    if person not in names:
        names.append(person)
    line = f"{INDENT}{_key(label)}: [{', '.join(_quoted(n) for n in names)}]"
    if "rejected_names" not in sections:
        new = _append_section(text, f"rejected_names:\n{line}\n")
    else:
        key, value = sections["rejected_names"]
        if _is_empty(value):
            new = _fill_empty(text, key, value, [line])
        elif not isinstance(value, yaml.MappingNode):
            raise ReviewEditError(f"{name}: 'rejected_names' is not a list of `voice: [names]` lines; fix it by hand.")
        elif value.flow_style or not value.value:
            lines = [f"{INDENT}{_source(text, k)}: {_source(text, v)}" for k, v in value.value
                     if str(k.value).strip() != label]
            new = _replace_flow(text, value, [*lines, line], "{}")
        else:
            found = [(k, v) for k, v in value.value if str(k.value).strip() == label]
            if found:
                k, v = found[-1]
                flow = "[" + ", ".join(_quoted(n) for n in names) + "]"
                new = text[:v.start_mark.index] + flow + text[_content_end(v):]
            else:
                indent = " " * value.value[0][0].start_mark.column
                new = _insert_after(text, value.value[-1][1], f"{indent}{_key(label)}: "
                                    f"[{', '.join(_quoted(n) for n in names)}]")

    def rejected(old: dict[str, list[str]]) -> dict[str, list[str]]:
        return {**old, label: names}

    return _checked(text, new, name, lambda said: said, rejected=rejected)


def _correction_said(node: yaml.Node) -> tuple[float, str, str] | None:
    fields = _fields(node)
    at = parse_time(str(fields.get("at") or ""))
    if at is None:
        return None
    return (float(int(at)), " ".join(str(fields.get("original") or "").split()),
            " ".join(str(fields.get("corrected") or "").split()))


# --- what staff write for the documents: « À retenir », presentations, questions -----------------------

def _message_item(message: str, passages: Sequence[str]) -> str:
    if not passages:
        return _quoted(message)
    return f"{{text: {_quoted(message)}, passages: [{', '.join(_quoted(p) for p in passages)}]}}"


def _clean_message(message: str, passages: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    message = " ".join(message.split())
    if not message:
        raise ReviewEditError("a key message needs its text")
    return message, tuple(dict.fromkeys(" ".join(p.split()) for p in passages if p.split()))


def add_key_message(text: str, name: str, message: str, passages: Sequence[str] = ()) -> str:
    """Append a message to retain (`key_messages:`), with the keys of the passages that support
    it (an accepted proposal: its passage)."""
    message, keys = _clean_message(message, passages)
    new = _append_item(text, name, "key_messages", _message_item(message, keys))

    def written(before: _Written) -> _Written:
        return dataclasses.replace(before, key_messages=(*before.key_messages, (message, keys)))

    return _checked(text, new, name, lambda said: said, written=written)


def _key_message_node(text: str, name: str, index: int, expected: str) -> yaml.Node:
    """The item of `key_messages:` at `index`, when it still says `expected` (else the page is stale)."""
    sections = _sections(text, name)
    said = parse_review(text, name).key_messages
    value = sections.get("key_messages", (None, None))[1]
    if not isinstance(value, yaml.SequenceNode) or not 0 <= index < len(said) or len(value.value) != len(said) \
            or said[index].text != " ".join(expected.split()):
        raise ReviewEditError(f"{name}: that message is no longer in the file as shown; reload the page.")
    return value


def set_key_message(text: str, name: str, index: int, expected: str, message: str,
                    passages: Sequence[str] | None = None) -> str:
    """Rewrite the message at `index` of `key_messages:` (which says `expected`): its text, and
    its passages when given (else they stay)."""
    value = _key_message_node(text, name, index, expected)
    before = parse_review(text, name).key_messages[index]
    message, keys = _clean_message(message, before.passages if passages is None else passages)
    node = value.value[index]
    if value.flow_style:
        items = [_source(text, n) if i != index else _message_item(message, keys) for i, n in enumerate(value.value)]
        new = _replace_flow(text, value, [f"{INDENT}- {item}" for item in items], "[]")
    else:
        new = text[:node.start_mark.index] + _message_item(message, keys) + text[_content_end(node):]

    def written(said: _Written) -> _Written:
        messages = list(said.key_messages)
        messages[index] = (message, keys)
        return dataclasses.replace(said, key_messages=tuple(messages))

    return _checked(text, new, name, lambda said: said, written=written)


def remove_key_message(text: str, name: str, index: int, expected: str) -> str:
    """Take the message at `index` of `key_messages:` (which says `expected`) out of the file."""
    _key_message_node(text, name, index, expected)
    new = _remove_at(text, name, "key_messages", [index])

    def written(said: _Written) -> _Written:
        return dataclasses.replace(said, key_messages=tuple(m for i, m in enumerate(said.key_messages) if i != index))

    return _checked(text, new, name, lambda said: said, written=written)


def set_presentation(text: str, name: str, person: str, sentence: str | None) -> str:
    """The one sentence that presents a speaker in « Les intervenants » (`presentations:
    {person: sentence}`), or none when empty."""
    person = " ".join(person.split())
    sentence = " ".join((sentence or "").split()) or None
    if not person:
        raise ReviewEditError("a presentation needs the speaker's name")
    new = _set_mapping_line(text, name, "presentations", person, sentence, "name: sentence")

    def written(said: _Written) -> _Written:
        presentations = dict(said.presentations)
        if sentence:
            presentations[person] = sentence
        else:
            presentations.pop(person, None)
        return dataclasses.replace(said, presentations=tuple(presentations.items()))

    return _checked(text, new, name, lambda said: said, written=written)


def set_question(text: str, name: str, passage_key: str, asked: bool, same_passage: Callable[[str], bool]) -> str:
    """Mark a passage as a question from the audience (`questions:`), or unmark it: every item
    that names it (`same_passage` tells whether a key written in the file does) is removed."""
    key = " ".join(passage_key.split())
    sections = _sections(text, name)
    items = sections["questions"][1].value if "questions" in sections and isinstance(
        sections["questions"][1], yaml.SequenceNode) else []

    def names(node: yaml.Node) -> str:
        passage = node.value if isinstance(node, yaml.ScalarNode) else _fields(node).get("passage")
        return passage if isinstance(passage, str) else ""

    doomed = [i for i, node in enumerate(items) if same_passage(names(node))]
    new = _remove_at(text, name, "questions", doomed) if doomed else text
    if asked:
        new = _append_item(new, name, "questions", _quoted(key))

    def written(said: _Written) -> _Written:
        kept = tuple(q for i, q in enumerate(said.questions) if i not in doomed)
        return dataclasses.replace(said, questions=(*kept, (key, (), "")) if asked else kept)

    return _checked(text, new, name, lambda said: said, written=written)


# --- the cycle's glossary: a list at the top of glossary.yaml ----------------------------------------------

def _glossary_checked(old: str, new: str, name: str, expect: list[tuple[str, str]]) -> str:
    try:
        after = [(e.heard, e.written) for e in parse_glossary(new, name)]
    except SyntheseError:
        after = None
    if after != expect:
        raise ReviewEditError(f"{name}: this change could not be written without altering the rest of the "
                              "file; make it by hand in the file (it was left unchanged).")
    return new


def set_glossary_entry(text: str, name: str, heard: str, written: str) -> str:
    """Write `heard` as `written` in every session of the cycle: a new entry at the end of the
    glossary, or the written form of the entry for those words replaced."""
    from ..core.glossary import GlossaryEntry

    heard, written = " ".join(heard.split()), " ".join(written.split())
    entries = parse_glossary(text, name)
    key = GlossaryEntry(heard, written, 0).key
    if not heard or not written or not all(key):
        raise ReviewEditError("a glossary entry needs the words heard and the words written")
    same = [i for i, e in enumerate(entries) if e.key == key]
    item = f"{{heard: {_quoted(heard)}, written: {_quoted(written)}}}"
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if same:
        node = root.value[same[0]]
        value = next(v for k, v in node.value if str(k.value) == "written")
        new = text[:value.start_mark.index] + _quoted(written) + text[value.end_mark.index:]
        expect = [(e.heard, written if i == same[0] else e.written) for i, e in enumerate(entries)]
        return _glossary_checked(text, new, name, expect)
    expect = [*((e.heard, e.written) for e in entries), (heard, written)]
    if root is None or _is_empty(root):  # only comments, or `~`: the first entry after them
        start, end = (root.start_mark.index, root.end_mark.index) if root is not None else (len(text), len(text))
        prefix = "" if not text[:start] or text[:start].endswith("\n") else "\n"
        new = text[:start] + prefix + f"- {item}" + ("\n" if end >= len(text) else "") + text[end:]
    elif not isinstance(root, yaml.SequenceNode):
        raise ReviewEditError(f"{name}: the glossary is not a list; fix it by hand.")
    elif root.flow_style or not root.value:
        lines = [f"- {_source(text, n)}" for n in root.value] + [f"- {item}"]
        start, end = root.start_mark.index, root.end_mark.index
        new = text[:start] + "\n".join(lines) + text[end:]
    else:
        last = root.value[-1]
        new = _insert_after(text, last, f"{_dash_indent(text, last)}- {item}")
    return _glossary_checked(text, new, name, expect)


def remove_glossary_entry(text: str, name: str, heard: str) -> str:
    """Take the entry for these heard words out of the glossary (its line with it)."""
    from ..core.glossary import GlossaryEntry

    entries = parse_glossary(text, name)
    key = GlossaryEntry(" ".join(heard.split()), "x", 0).key
    doomed = [i for i, e in enumerate(entries) if e.key == key]
    if not doomed:
        raise ReviewEditError(f"{name}: \"{heard}\" is no longer in the glossary; reload the page.")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = root.value[doomed[0]]
    if root.flow_style:
        kept = [f"- {_source(text, n)}" for i, n in enumerate(root.value) if i != doomed[0]]
        new = text[:root.start_mark.index] + ("\n".join(kept) or "[]") + text[root.end_mark.index:]
    else:
        new = _delete_lines(text, node, node)
        if len(root.value) == 1:  # the last entry: the list stays, empty
            at = _line_start(text, node.start_mark.index)
            new = new[:at] + "[]\n" + new[at:]
    expect = [(e.heard, e.written) for i, e in enumerate(entries) if i != doomed[0]]
    return _glossary_checked(text, new, name, expect)


assert set(THEME_KINDS + EXCERPT_KINDS) <= set(SECTIONS)
