"""Stage 2, tag: a transcript split into readable passages, each tagged by the cycle's themes.

transcript.json -> passages (spaCy sentences grouped by speaker and pauses) -> themes (codebook of
config.yaml, see pipeline/themes.py) -> named entities -> excerpts per theme (maximal marginal
relevance) -> human review decisions (pipeline/review.py) -> `<stem>.tags.json`.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.artefacts import artefact, hash_of, read_json, write_json, write_text
from pipeline.config import Config, Session, TagOptions
from pipeline.errors import InputError
from pipeline.limits import loads_json, split_long_segments, split_long_turns
from pipeline.review import ReviewOutcome, apply_review, ensure_review_file, load_review, passage_key
from pipeline.themes import ThemeClassifier, ThemeScore, above_threshold, load_nlp, mean_vector, model_label
from pipeline.workspace import tag_inputs_hash

if TYPE_CHECKING:
    import numpy as np
    from spacy.tokens import Span

__all__ = ["classify_passages_file", "ensure_review_file", "tag_file", "tag_transcript_cli"]

log = logging.getLogger(__name__)

SCHEMA = "synthese.tags/1"
ENTITY_LABELS = ("PER", "ORG", "LOC")


@dataclass
class Unit:
    """A sentence (or a piece of an over-long one): the smallest thing a passage is built of."""

    span: Span
    start_char: int
    end_char: int
    first_segment: int
    last_segment: int
    words: int
    pause_before_s: float  # silence before it when it opens a segment, else 0


@dataclass
class Passage:
    span: Span
    text: str
    start: float
    end: float
    speaker: str | None


# --------------------------------------------------------------------------- passages


# A very long turn (a lecture, or a transcript without speakers) is parsed in pieces of about
# this many words, cut between segments, so memory stays flat on an ordinary laptop.
MAX_TURN_WORDS = 3000
REPEAT_OVERLAP = 0.6  # share of word pairs in common from which two passages are one said twice


def _turns(segments: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive segments of one speaker; a passage never crosses a change of speaker."""
    turns: list[list[dict[str, Any]]] = []
    words = 0
    for segment in segments:
        same_speaker = bool(turns) and turns[-1][-1].get("speaker") == segment.get("speaker")
        if same_speaker and words < MAX_TURN_WORDS:
            turns[-1].append(segment)
        else:
            turns.append([segment])
            words = 0
        words += _word_count(str(segment["text"]))
    return turns


def _word_count(text: str) -> int:
    return len(text.split())


def _units(doc: Any, turn: list[dict[str, Any]], offsets: list[int], max_words: int) -> list[Unit]:
    units = []
    for sentence in doc.sents:
        pieces = [sentence]
        if _word_count(sentence.text) > max_words:  # e.g. unpunctuated speech: cut at max_words
            pieces, start = [], sentence.start
            for i in range(sentence.start, sentence.end + 1):
                if i == sentence.end or (i > start and _word_count(doc[start:i + 1].text) > max_words):
                    pieces.append(doc[start:i])
                    start = i
        for piece in pieces:
            if not piece.text.strip():
                continue
            first = bisect.bisect_right(offsets, piece.start_char) - 1
            last = bisect.bisect_right(offsets, max(piece.end_char - 1, piece.start_char)) - 1
            opens_segment = piece.start_char == offsets[first] and first > 0
            pause = float(turn[first]["start"]) - float(turn[first - 1]["end"]) if opens_segment else 0.0
            units.append(Unit(piece, piece.start_char, piece.end_char, first, last,
                              _word_count(piece.text), max(0.0, pause)))
    return units


def _group(units: list[Unit], options: TagOptions) -> list[list[Unit]]:
    """Sentences grouped into passages of passage_min_words..passage_max_words words, cutting
    preferably at a long pause and, without one, around the middle of that range."""
    target = (options.passage_min_words + options.passage_max_words) / 2
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    words = 0
    for unit in units:
        if current and (
            words + unit.words > options.passage_max_words
            or (words >= options.passage_min_words and unit.pause_before_s >= options.pause_s)
            or words >= target
        ):
            groups.append(current)
            current, words = [], 0
        current.append(unit)
        words += unit.words
    if current:
        groups.append(current)
    # A short tail joins the passage before it when the result stays readable.
    if len(groups) > 1:
        tail = sum(u.words for u in groups[-1])
        before = sum(u.words for u in groups[-2])
        if tail < options.passage_min_words and tail + before <= options.passage_max_words:
            groups[-2].extend(groups.pop())
    return groups


def split_passages(segments: Sequence[dict[str, Any]], nlp: Any, options: TagOptions) -> list[Passage]:
    """The transcript's segments as passages with start/end times taken from the segments."""
    segments = split_long_segments([s for s in segments if str(s.get("text", "")).strip()], nlp.max_length)
    turns = split_long_turns(_turns(segments), nlp.max_length)
    texts, all_offsets = [], []
    for turn in turns:
        offsets, parts, position = [], [], 0
        for segment in turn:
            part = str(segment["text"]).strip()
            offsets.append(position)
            parts.append(part)
            position += len(part) + 1
        texts.append(" ".join(parts))
        all_offsets.append(offsets)
    passages = []
    for turn, offsets, text, doc in zip(turns, all_offsets, texts, nlp.pipe(texts)):
        for group in _group(_units(doc, turn, offsets, options.passage_max_words), options):
            span = doc[group[0].span.start:group[-1].span.end]
            passages.append(Passage(
                span=span,
                text=text[group[0].start_char:group[-1].end_char].strip(),
                start=round(_time_at(turn, offsets, group[0].start_char), 2),
                end=round(_time_at(turn, offsets, group[-1].end_char), 2),
                speaker=turn[0].get("speaker"),
            ))
    return passages


def _time_at(turn: list[dict[str, Any]], offsets: list[int], char: int) -> float:
    """The moment a character of the turn's text was spoken.

    Segments can be long (batched Whisper gives up to 30 s), so a passage that starts inside one
    takes its time from the segment's word timings when there are any, else by interpolating
    over the segment's characters."""
    index = max(0, bisect.bisect_right(offsets, char) - 1)
    segment = turn[index]
    start, end = float(segment["start"]), float(segment["end"])
    text = str(segment["text"]).strip()
    within = min(max(char - offsets[index], 0), len(text))
    words = segment.get("words") or []
    if words:
        position = 0
        for word in words:
            position += len(str(word.get("word", "")).strip()) + 1
            if position > within:
                return float(word["start"]) if within < position - 1 else float(word["end"])
        return float(words[-1]["end"])
    return start + (end - start) * (within / len(text) if text else 0.0)


# --------------------------------------------------------------------------- entities


def _keep_entity(text: str, ent: Span | None = None) -> bool:
    """Drop obvious NER noise: single characters, numbers, lower-case common words, and common
    nouns or verbs capitalised at the head of a list item ("Capitaliser", "Sécurité")."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2 or text[0].islower() or text.replace(" ", "").isdigit():
        return False
    return ent is None or any(token.pos_ == "PROPN" for token in ent)


# A leading article or elision is not part of a name: "l'Anssi" is indexed as "Anssi".
LEADING_ARTICLE = re.compile(r"^(?:[ldLD]['’]|(?:la|le|les|du|des|de)\s+)")


def passage_entities(span: Span) -> list[dict[str, str]]:
    """The passage's people, organisations and places, each once, in order of appearance."""
    seen: dict[tuple[str, str], None] = {}
    for ent in span.ents:
        text = LEADING_ARTICLE.sub("", " ".join(ent.text.split())).strip(" -'’.,;:«»\"")
        if ent.label_ in ENTITY_LABELS and text and _keep_entity(text, ent):
            seen.setdefault((text, ent.label_), None)
    return [{"text": text, "label": label} for text, label in seen]


def entity_index(passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entity with how often it occurs and where, most frequent first."""
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for passage in passages:
        for ent in passage["entities"]:
            entry = index.setdefault((ent["text"], ent["label"]),
                                     {"text": ent["text"], "label": ent["label"], "count": 0, "passages": []})
            entry["count"] += 1
            entry["passages"].append(passage["id"])
    return sorted(index.values(), key=lambda e: (-e["count"], e["text"].lower(), e["label"]))


# --------------------------------------------------------------------------- excerpts


def _word_pairs(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"\w+", text.lower())
    return set(zip(words, words[1:]))


def _repeats(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    """Whether two passages say the same thing in mostly the same words (a text read twice, a
    caption repeated): word vectors cannot tell, distinct passages on one topic reach 0.95."""
    return bool(a and b) and len(a & b) / len(a | b) >= REPEAT_OVERLAP


def select_excerpts(passages: list[dict[str, Any]], vectors: dict[str, np.ndarray], theme_ids: Sequence[str],
                    options: TagOptions, outcome: ReviewOutcome) -> dict[str, list[str]]:
    """Per theme, pinned passages first, then the most relevant passages that do not repeat the
    ones already chosen (maximal marginal relevance over passage vectors).

    A passage is quoted in one chapter only: chapters are filled together, best (theme,
    passage) pair first, so a passage that touches several themes (an introduction listing
    them all) goes to the theme it fits best and the others quote something of their own.
    Reviewers' pins are kept wherever they are. A passage that repeats one already quoted is
    not quoted again.
    """
    pairs = {p["id"]: _word_pairs(p.get("text", "")) for p in passages}
    chosen = {theme_id: [pid for pid in outcome.pinned.get(theme_id, [])
                         if pid not in outcome.excluded.get(theme_id, set())] for theme_id in theme_ids}
    quoted = {pid for pids in chosen.values() for pid in pids}
    relevance = {theme_id: {p["id"]: t["score"] for p in passages for t in p["themes"]
                            if t["id"] == theme_id and p["id"] not in outcome.excluded.get(theme_id, set())}
                 for theme_id in theme_ids}

    def no_longer_candidate(quoted_pid: str) -> None:
        for candidates in relevance.values():
            for pid in [pid for pid in candidates if pid == quoted_pid or _repeats(pairs[pid], pairs.get(quoted_pid, set()))]:
                del candidates[pid]

    for pid in quoted:
        no_longer_candidate(pid)

    def mmr(theme_id: str, pid: str) -> float:
        redundancy = max((float(vectors[pid] @ vectors[c]) for c in chosen[theme_id]), default=0.0)
        return options.mmr_lambda * relevance[theme_id][pid] - (1 - options.mmr_lambda) * redundancy

    while True:
        open_pairs = [(theme_id, pid) for theme_id in theme_ids if len(chosen[theme_id]) < options.excerpts_per_theme
                      for pid in relevance[theme_id]]
        if not open_pairs:
            return chosen
        theme_id, best = max(open_pairs, key=lambda pair: (mmr(*pair), -int(pair[1][1:])))
        chosen[theme_id].append(best)
        no_longer_candidate(best)


# --------------------------------------------------------------------------- the stage


def _theme_entry(score: ThemeScore) -> dict[str, Any]:
    return {"id": score.theme_id, "score": score.score, "evidence": list(score.evidence), "source": "tagger"}


def codebook(config: Config) -> dict[str, Any]:
    themes = [{"id": t.id, "label": t.label, "description": t.description, "keywords": t.all_keywords}
              for t in config.themes]
    version = hash_of([t.model_dump(mode="json") for t in config.themes])[:12]
    return {"version": version, "themes": themes}


def _read_transcript(path: Path) -> dict[str, Any]:
    data = read_json(path, "synthese.transcript/")
    segments = data.get("segments")
    if not isinstance(segments, list) or any(not isinstance(s, dict) or "text" not in s for s in segments):
        raise InputError(f"{path}: 'segments' must be a list of {{start, end, text}} objects. "
                         "Re-run the transcribe stage to rebuild it.")
    return data


def tag_file(transcript_path: Path, config: Config, *, out_dir: Path, stem: str, inputs_hash: str,
             review_path: Path, session: Session | None) -> Path:
    """Tag one transcript and write `<stem>.tags.json` atomically into out_dir; return its path.

    Human decisions in review_path are applied; the review file itself is never written here.
    """
    import numpy as np

    options = config.tag
    transcript = _read_transcript(transcript_path)
    decisions = load_review(review_path)  # before any work: a broken file stops the stage
    theme_ids = [t.id for t in config.themes]
    machine = _machine_tags(transcript_path, transcript, config, out_dir / f".{stem}.tagger-cache.json")
    passages, all_scores, warnings = machine["passages"], machine["scores"], list(machine["warnings"])
    vectors = {pid: np.asarray(vector, dtype=np.float32) for pid, vector in machine["vectors"].items()}

    outcome = apply_review(passages, decisions, theme_ids, all_scores)
    warnings.extend(f"review decision not applied: {o}" for o in outcome.orphaned)
    excerpts = select_excerpts(passages, vectors, theme_ids, options, outcome)

    data = artefact(
        SCHEMA, inputs_hash, options.model_dump(mode="json"),
        session_id=session.id if session else None,
        transcript=_relative(transcript_path, out_dir),
        language=transcript.get("language", "fr"),
        duration_s=transcript.get("duration_s"),
        models={"asr": transcript.get("model"), "nlp": machine["nlp"]},
        codebook=codebook(config),
        passages=passages,
        excerpts=excerpts,
        entities=entity_index(passages),
        review={"file": review_path.name, "status": "reviewed" if outcome.applied else "not reviewed",
                "decisions_applied": outcome.applied, "orphaned": outcome.orphaned},
        warnings=warnings,
    )
    target = out_dir / f"{stem}.tags.json"
    write_json(target, data)
    log.info("%s: %d passages, %d tagged, review %s", target.name, len(passages),
             sum(1 for p in passages if p["themes"]), data["review"]["status"])
    return target


def _machine_tags(transcript_path: Path, transcript: dict[str, Any], config: Config, cache: Path) -> dict[str, Any]:
    """Passages with the tagger's themes, scores and vectors, before any human decision.

    Kept in a cache beside the tags, keyed by what they depend on (transcript, options, codebook),
    so that a review edit re-applies decisions in a second instead of reloading spaCy and
    re-tagging every passage."""
    options = config.tag
    key = hash_of(transcript_path, options.model_dump(mode="json"), codebook(config))
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached
    except (OSError, ValueError):
        pass
    nlp = load_nlp(options.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, options)
    warnings: list[str] = []
    found = split_passages(transcript["segments"], nlp, options)
    if not found:
        message = f"{transcript_path.name}: the transcript has no text, so there are no passages to tag."
        log.warning(message)
        warnings.append(message)

    passages: list[dict[str, Any]] = []
    scores: dict[str, dict[str, float]] = {}
    vectors: dict[str, list[float]] = {}
    for number, passage in enumerate(found, start=1):
        pid = f"p{number:03d}"
        tokens = list(passage.span)
        theme_scores = classifier.score(tokens)
        scores[pid] = {s.theme_id: s.score for s in theme_scores}
        vectors[pid] = [float(x) for x in mean_vector(tokens)]
        passages.append({
            "id": pid,
            "key": passage_key(passage.start, passage.text),
            "start": passage.start,
            "end": passage.end,
            "speaker": passage.speaker,
            "text": passage.text,
            "themes": [_theme_entry(s) for s in above_threshold(theme_scores, options)],
            "entities": passage_entities(passage.span),
        })
    machine = {"key": key, "nlp": model_label(nlp), "passages": passages, "scores": scores,
               "vectors": vectors, "warnings": warnings}
    write_text(cache, json.dumps(machine, ensure_ascii=False))
    return machine


def _relative(path: Path, folder: Path) -> str:
    """The transcript's name as seen from the tags file's folder (usually just its file name)."""
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def tag_transcript_cli(transcript: Path, config: Config, *, output_dir: Path | None) -> Path:
    """`synthese tag TRANSCRIPT.json [-o DIR]`: tag one transcript file outside `synthese run`."""
    if transcript.suffix.lower() in (".vtt", ".srt", ".txt", ".docx"):
        raise InputError(f"{transcript.name}: `synthese tag` reads a .transcript.json file. Import this one first "
                         f"with `synthese transcribe {transcript}`, then tag the .transcript.json it writes.")
    if not transcript.is_file():
        raise InputError(f"{transcript}: file not found. Pass a <session>.transcript.json file.")
    out_dir = output_dir or transcript.parent
    name = transcript.name
    stem = name[: -len(".transcript.json")] if name.endswith(".transcript.json") else transcript.stem
    session = next((s for s in config.sessions if s.id == stem), None)
    review_path = out_dir / f"{stem}.review.yaml"
    ensure_review_file(review_path)
    inputs_hash = tag_inputs_hash(transcript, review_path, config)
    return tag_file(transcript, config, out_dir=out_dir, stem=stem, inputs_hash=inputs_hash,
                    review_path=review_path, session=session)


def classify_passages_file(passages: Path, output: Path, config: Config) -> Path:
    """Evaluation mode: JSONL rows {"id", "text"} in, rows {"id", "themes", "scores"} out.

    Each row is classified as it is (no re-segmentation); `themes` are the ids whose score
    reaches the threshold, best first, and `scores` holds every theme's score.
    """
    rows = []
    try:
        lines = passages.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{passages}: file not found. Pass a JSONL file of {{\"id\", \"text\"}} rows.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{passages}: cannot read it ({exc}). Save it as UTF-8 JSONL.") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = loads_json(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{passages.name}, line {number}: not valid JSON ({exc.msg}). Fix that line.") from None
        except ValueError as exc:
            raise InputError(f"{passages.name}, line {number}: {exc}. Fix that line.") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "id" not in row:
            raise InputError(f"{passages.name}, line {number}: each row needs \"id\" and \"text\". Fix that line.")
        rows.append(row)
    options = config.tag
    nlp = load_nlp(options.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, options)
    out_lines = []
    for row, doc in zip(rows, nlp.pipe([r["text"] for r in rows])):
        scores = classifier.score(list(doc))
        tagged = above_threshold(scores, options)
        out_lines.append(json.dumps({"id": row["id"], "themes": [s.theme_id for s in tagged],
                                     "scores": {s.theme_id: s.score for s in scores}}, ensure_ascii=False))
    write_text(output, "".join(f"{line}\n" for line in out_lines))
    log.info("%s: %d passages classified", output.name, len(out_lines))
    return output
