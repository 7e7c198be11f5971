"""Excerpt precision on the long session: are each theme chapter's quotes really about it?

After `synthese run` on a session made by make_long_session.py, each theme's quotes (tags.json
`excerpts`) are sentences of the transcript with their own start/end times and text. Each quote's
time span is mapped onto the ground-truth passages it overlaps; the quote counts as right for the
theme when most of its overlapped time (>= 50 %) comes from passages labelled with that theme in
the dev set ('strict'), or, leniently, when any ground-truth passage it overlaps by at least
`--min-overlap-s` carries the theme ('any'). As timestamps of batched transcription are coarse,
'text' judges by words instead: the quote is right when most of its word pairs that occur in
exactly one nearby ground-truth passage come from passages with the theme. Precision@k is over
the first k quotes of every theme (micro average); 'chance' is the share of the speech time that
carries the theme, i.e. what quotes picked at random would score.

Also reported: the share of quotes that start and end on sentence boundaries (a capital or a
digit after the end of the sentence before, a terminal mark at the end, and every part a whole
sentence of the passage), the quote lengths, and the key points (are they about the theme?);
then what the document prints between « » (quotes and key points) against its targets: none
with a word the recogniser was unsure of (probability < 0.5, read from the transcript) that no
reviewer corrected or confirmed, no sentence printed twice, none from the moderator's programme,
turns or closing words (ground truth kinds programme/transition/closing), key points of themes
on their theme >= 0.9, precision@k >= --target. Reported without a target: the sentences printed
twice in nearly the same words (said again, or heard a little differently: at most a quarter of
their words differ), which the exact rule does not see.

`--text FILE.jsonl` checks the same on labelled passages that were not spoken: the passages of
FILE (e.g. ../shared/eval/themes/dev2.jsonl), grouped by source in a shuffled order, become a
transcript without audio, which is tagged and judged the same way (by time, which is exact here).

`--multivoice DIR...` judges the sessions of make_multivoice_session.py (several voices, declared
speakers, the moderator handing over the floor by name): their ground-truth passages are the
spoken segments of truth.json, a sentence of dev.jsonl carrying its row's themes, the moderator's
hand-overs and the guests' greetings as housekeeping (kind 'transition'), a real voice's FLEURS
piece as text without theme; `synthese --config DIR/config.yaml run` is run first for each (it
skips what is up to date; `--no-run` only judges), then each session and their total is reported.
With `--reviewed`, copies of the sessions are judged after a scripted review instead: a reviewer
who listened to all of it rewrites every word to what was said (the review page's corrections,
planned over the whole session) and confirms every sentence but the real voices' FLEURS pieces,
which have no text to check them against. Most sentences of the synthetic voices hold a word
Whisper base is unsure of, so unreviewed they wait for a reviewer, and the documents print few
key points to judge; reviewed, they print what staff would publish.

    .venv/bin/python bench/bench_excerpts.py --session-dir bench/data/long-session
    .venv/bin/python bench/bench_excerpts.py --text ../shared/eval/themes/dev2.jsonl
    .venv/bin/python bench/bench_excerpts.py --multivoice bench/data/multivoice/multivoix-*
    .venv/bin/python bench/bench_excerpts.py --multivoice bench/data/multivoice/multivoix-* --reviewed
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

from measure import REPO, SYNTHESE, load_truth, passages_by_source, print_table, write_results

from synthese.core.textnorm import edit_distance  # in words: "110" for "incendie" is one word wrong

TERMINAL = re.compile(r"[.!?…][»\"”)\]]*$")
OPENING = re.compile(r"^[«\"“(\[—–-]?\s*[A-ZÀ-ÖØ-Þ0-9]")
WORDS_PER_S = 2.4


def overlap_s(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def bigrams(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"\w+", text.lower().replace("’", "'"))
    return set(zip(words, words[1:]))


def text_share(text: str, theme: str, candidates: list[dict]) -> float | None:
    """Share of the quote's words that come from passages labelled with theme, by its word
    pairs found in exactly one nearby ground-truth passage (robust to coarse timestamps and to
    most recognition errors). None when no pair matches."""
    owners: dict[tuple[str, str], list[dict]] = {}
    for passage in candidates:
        for pair in bigrams(passage["text"]):
            owners.setdefault(pair, []).append(passage)
    matched = [owners[pair][0] for pair in bigrams(text) if len(owners.get(pair, [])) == 1]
    if not matched:
        return None
    return sum(theme in p["themes"] for p in matched) / len(matched)


def judge_quote(quote: dict, theme: str, truth: list[dict], min_overlap_s: float) -> dict:
    """How one quote lines up with the ground-truth passages: by time span, and by text."""
    span = (quote["start"], quote["end"])
    overlaps = [(overlap_s(*span, p["start"], p["end"]), p) for p in truth]
    overlaps = [(seconds, p) for seconds, p in overlaps if seconds > 0]
    total = sum(seconds for seconds, _ in overlaps)
    on_theme = sum(seconds for seconds, p in overlaps if theme in p["themes"])
    nearby = [p for p in truth if overlap_s(span[0] - 60, span[1] + 60, p["start"], p["end"]) > 0]
    by_text = text_share(quote["text"], theme, nearby)
    return {
        "truth_passages": [p.get("source_id") or p.get("id") for _, p in overlaps],
        # Where most of the quote's time comes from: a dev passage, the programme, a transition.
        "main_kind": max(overlaps, key=lambda o: o[0])[1].get("kind") if overlaps else None,
        "on_theme_share": round(on_theme / total, 3) if total else 0.0,
        "strict": bool(total) and on_theme / total >= 0.5,
        "any": any(theme in p["themes"] for seconds, p in overlaps if seconds >= min_overlap_s),
        "text_share": None if by_text is None else round(by_text, 3),
        "text": by_text is not None and by_text >= 0.5,
    }


def on_boundaries(quote: dict, passage: dict) -> bool:
    """The quote is whole sentences of its passage: each part is one of the passage's sentences
    (or several in a row), it opens like a sentence and ends with a terminal mark."""
    sentences = [s["text"].strip() for s in passage.get("sentences", [])]
    indices = quote.get("sentences") or []
    if not indices or any(not 0 <= i < len(sentences) for i in indices):
        return False
    parts = [part.strip() for part in quote["text"].split("[…]")]
    groups: list[list[int]] = [[indices[0]]]
    for index in indices[1:]:
        if index == groups[-1][-1] + 1:
            groups[-1].append(index)
        else:
            groups.append([index])
    if len(parts) != len(groups) or any(part != " ".join(sentences[i] for i in group)
                                        for part, group in zip(parts, groups)):
        return False
    return all(OPENING.match(part) and TERMINAL.search(part) for part in parts)


def evaluate(tags: dict, truth: dict, k: int = 3, min_overlap_s: float = 2.0) -> dict:
    """Precision@k of every theme's quotes against the ground truth, their boundaries and lengths."""
    passages = {p["id"]: p for p in tags["passages"]}
    truth_passages = truth["passages"]
    labelled_s = sum(p["end"] - p["start"] for p in truth_passages)
    themes = {}
    bounded, lengths = [], []
    for theme, quotes in tags["excerpts"].items():
        judged = []
        for quote in quotes[:k]:
            verdict = judge_quote(quote, theme, truth_passages, min_overlap_s)
            judged.append({"passage": quote["passage"], "start": quote["start"], "end": quote["end"],
                           "words": len(quote["text"].split()), **verdict,
                           # The verdict by text under its own name: "text" is the quote's.
                           "verdict_text": verdict["text"], "text": quote["text"][:120]})
        for quote in quotes:
            bounded.append(on_boundaries(quote, passages[quote["passage"]]))
            lengths.append(len(quote["text"].replace("[…]", " ").split()))
        theme_s = sum(p["end"] - p["start"] for p in truth_passages if theme in p["themes"])
        themes[theme] = {
            "excerpts": judged,
            "strict": sum(j["strict"] for j in judged),
            "any": sum(j["any"] for j in judged),
            "text": sum(j["verdict_text"] for j in judged),
            "count": len(judged),
            "chance": round(theme_s / labelled_s, 3) if labelled_s else 0.0,
        }
    key_points = tags.get("key_points", {}).get("themes", {})
    key_judged = [judge_quote(point, theme, truth_passages, min_overlap_s)["strict"]
                  for theme, points in key_points.items() for point in points]
    housekeeping = []
    for where, quote in printed(tags):
        kind = judge_quote(quote, "", truth_passages, min_overlap_s)["main_kind"]
        if kind in HOUSEKEEPING_KINDS:
            housekeeping.append({"where": where, "kind": kind, "text": quote["text"][:120]})
    count = sum(t["count"] for t in themes.values())
    quartiles = statistics.quantiles(lengths, n=4) if len(lengths) >= 2 else [0, 0, 0]
    return {
        "k": k,
        "min_overlap_s": min_overlap_s,
        "excerpts": count,
        "precision_strict": round(sum(t["strict"] for t in themes.values()) / count, 3) if count else None,
        "precision_any": round(sum(t["any"] for t in themes.values()) / count, 3) if count else None,
        "precision_text": round(sum(t["text"] for t in themes.values()) / count, 3) if count else None,
        "excerpts_strict": sum(t["strict"] for t in themes.values()),
        "quotes": len(lengths),
        "on_sentence_boundaries": round(sum(bounded) / len(bounded), 3) if bounded else None,
        "words": {"min": min(lengths, default=0), "q1": quartiles[0], "median": quartiles[1], "q3": quartiles[2],
                  "max": max(lengths, default=0),
                  "within_15_70": round(sum(15 <= n <= 70 for n in lengths) / len(lengths), 3) if lengths else None},
        "elided": sum("[…]" in q["text"] for quotes in tags["excerpts"].values() for q in quotes),
        "key_points_on_theme": round(sum(key_judged) / len(key_judged), 3) if key_judged else None,
        "key_points": len(key_judged),
        "key_points_right": sum(key_judged),
        "key_points_missed": [{"theme": theme, **judge_quote(point, theme, truth_passages, min_overlap_s),
                               "text": point["text"][:120]}
                              for theme, points in key_points.items() for point in points
                              if not judge_quote(point, theme, truth_passages, min_overlap_s)["strict"]],
        "printed": len(printed(tags)),
        "held": len(tags.get("held", [])),
        "housekeeping_printed": housekeeping,
        "duplicate_sentences": duplicate_sentences(tags),
        "nearly_the_same": nearly_the_same(tags),
        "themes_without_excerpts": [theme for theme, t in themes.items() if not t["count"]],
        "strict_misses_by_kind": dict(Counter(j["main_kind"] for t in themes.values() for j in t["excerpts"]
                                              if not j["strict"])),
        "themes": themes,
    }


HOUSEKEEPING_KINDS = ("programme", "transition", "closing")  # the moderator's lines of the long session


def printed(tags: dict) -> list[tuple[str, dict]]:
    """Everything the session's document prints between « »: (where, quote) for every chapter
    quote and every key point of the session and of the themes."""
    found = [(f"quote {theme}", q) for theme, quotes in tags["excerpts"].items() for q in quotes]
    found += [("key point", q) for q in tags.get("key_points", {}).get("session", [])]
    found += [(f"key point {theme}", q) for theme, points in tags.get("key_points", {}).get("themes", {}).items()
              for q in points]
    return found


def duplicate_sentences(tags: dict) -> list[str]:
    """Sentences printed more than once in the document (quotes and key points), by their place
    in the passages or by their words."""
    passages = {p["id"]: p for p in tags["passages"]}
    seen: Counter = Counter()
    texts: dict[tuple[str, int], str] = {}
    for _, quote in printed(tags):
        for index in quote.get("sentences") or []:
            sentence = passages[quote["passage"]]["sentences"][index]["text"]
            words = " ".join(re.findall(r"\w+", sentence.lower()))
            seen[words] += 1
            texts[(quote["passage"], index)] = sentence
    return [words for words, n in seen.items() if n > 1]


NEARLY_SAME = 0.25  # share of words that differ up to which two printed sentences are one said again


def nearly_the_same(tags: dict) -> list[tuple[str, str]]:
    """Pairs of sentences printed in the document (quotes and key points) that differ in words
    but are one sentence said again or heard a little differently: a word edit distance of at
    most a quarter of the longer's words (at least one word). Reported, no target."""
    passages = {p["id"]: p for p in tags["passages"]}
    texts = {}
    for _, quote in printed(tags):
        for index in quote.get("sentences") or []:
            sentence = passages[quote["passage"]]["sentences"][index]["text"]
            texts.setdefault(" ".join(re.findall(r"\w+", sentence.lower())), sentence)
    found = []
    items = list(texts.items())
    for position, (words_a, a) in enumerate(items):
        for words_b, b in items[position + 1:]:
            longer = max(len(words_a.split()), len(words_b.split()))
            if edit_distance(words_a.split(), words_b.split()) <= max(1.0, NEARLY_SAME * longer):
                found.append((a, b))
    return found


def unsure_printed(tags: dict, tags_path: Path | None) -> list[dict]:
    """The quotes and key points with a word the recogniser was unsure of (probability below
    0.5) that no reviewer corrected or confirmed: read from the transcript beside the tags (as
    the review file revises it), word by word within each quoted sentence's time."""
    from synthese.core.artefacts import Passage, Transcript
    from synthese.core.heard import UNSURE_P
    from synthese.core.review_file import confirmed_sentences, load_review, revise_transcript

    if tags_path is None or not tags.get("transcript"):
        return []
    transcript_path = tags_path.parent / tags["transcript"]
    if not transcript_path.is_file():
        return []
    review_path = tags_path.parent / (tags.get("review", {}).get("file") or "-")
    review = load_review(review_path) if review_path.is_file() else None
    transcript = Transcript.load(transcript_path)
    if review is not None:
        transcript = revise_transcript(transcript, review)[0]
    passages = {p["id"]: p for p in tags["passages"]}
    confirmed = confirmed_sentences(review.confirmations, [Passage.model_validate(p) for p in tags["passages"]])[0] \
        if review is not None else {}
    words = [w for s in transcript.segments for w in s.words]
    found = []
    for where, quote in printed(tags):
        for index in quote.get("sentences") or []:
            if index in confirmed.get(quote["passage"], ()):
                continue
            sentence = passages[quote["passage"]]["sentences"][index]
            unsure = [w.text for w in words if sentence["start"] - 0.05 <= w.start and w.end <= sentence["end"] + 0.05
                      and w.p is not None and w.p < UNSURE_P]
            if unsure:
                found.append({"where": where, "passage": quote["passage"], "sentence": index, "words": unsure})
                break
    return found


def text_session(path: Path, seed: int, work: Path) -> tuple[Path, dict]:
    """Labelled passages that were not spoken, as a transcript (one segment per passage, 1 s
    between passages) and its ground truth."""
    from synthese.core.artefacts import Segment, SourceFile, Transcript

    segments, truth, clock = [], [], 0.0
    for row in passages_by_source(path, seed):
        text = " ".join(row["text"].split())
        end = clock + len(text.split()) / WORDS_PER_S
        segments.append(Segment(id=len(segments), start=round(clock, 2), end=round(end, 2), text=text))
        truth.append({"id": row["id"], "kind": "text", "start": clock, "end": end, "text": text,
                      "themes": row["themes"]})
        clock = end + 1.0
    transcript = Transcript(source=SourceFile(file=path.name, sha256="", kind="json"), language="fr",
                            duration_s=round(clock, 2), segments=segments)
    target = work / f"{path.stem}.transcript.json"
    transcript.save(target)
    return target, {"session_id": path.stem, "duration_s": clock, "passages": truth}


def multivoice_truth(truth: dict, dev_rows: list[dict]) -> dict:
    """The ground-truth passages of a session of make_multivoice_session.py, one per spoken segment
    of its truth.json: a sentence of the dev set carries its row's themes; the moderator's
    hand-overs and the guests' greetings are housekeeping (kind 'transition'); a real voice's
    FLEURS piece is text without theme."""
    from make_multivoice_session import DECLARED, GIVING_THE_FLOOR, GREETING, INTRODUCTION, THANKS, real_voice_piece, sentences

    rows_of: dict[str, list[dict]] = {}
    for row in dev_rows:
        for sentence in sentences([row]):
            rows_of.setdefault(sentence, []).append(row)
    housekeeping = {GREETING}
    for name, _, of in DECLARED.values():
        housekeeping.add(INTRODUCTION.format(name=name, of=of))
        housekeeping.update(line.format(name=name) for line in GIVING_THE_FLOOR)
        housekeeping.update(line.format(first=name.split()[0]) for line in THANKS)
    passages = []
    for segment in truth["segments"]:
        text = segment["text"]
        where = {"start": segment["start"], "end": segment["end"], "speaker": segment["speaker"], "text": text}
        if real_voice_piece(text):
            passages.append({"id": f"fleurs:{text.strip('()')}", "kind": "text", "themes": [], **where})
        elif text in housekeeping:
            passages.append({"id": "transition", "kind": "transition", "themes": [], **where})
        elif text in rows_of:
            # A sentence found in two rows (none in dev.jsonl today) takes the themes of both.
            themes = sorted({theme for row in rows_of[text] for theme in row["themes"]})
            passages.append({"id": rows_of[text][0]["id"], "kind": "text", "themes": themes, **where})
        else:
            raise SystemExit(f"{truth['session_id']}: segment at {segment['start']} s is neither a dev sentence, "
                             f"a hand-over nor a FLEURS piece: {text!r}. Make the sessions again with "
                             "bench/make_multivoice_session.py")
    return {"session_id": truth["session_id"], "duration_s": truth["duration_s"], "passages": passages}


def tags_of_session(session_dir: Path, session_id: str) -> Path:
    return session_dir / "transcripts" / session_id / f"{session_id}.tags.json"


def judge_session(tags_path: Path, truth: dict, k: int, min_overlap_s: float, unsure: bool = True) -> dict:
    """evaluate() and the unconfirmed unsure words of one tagged session."""
    tags = json.loads(tags_path.read_text(encoding="utf-8"))
    result = evaluate(tags, truth, k, min_overlap_s)
    result["unsure_printed"] = unsure_printed(tags, tags_path if unsure else None)
    result["review_status"] = tags.get("review", {}).get("status")
    result["tagger"], result["models"] = tags.get("options"), tags.get("models")
    return result


def targets_table(result: dict, k: int, target: float) -> None:
    """What the document prints between « », against its targets."""
    targets = [
        ("quotes and key points with unconfirmed unsure words", len(result["unsure_printed"]), "0",
         not result["unsure_printed"]),
        ("sentences printed twice in the document", len(result["duplicate_sentences"]), "0",
         not result["duplicate_sentences"]),
        ("housekeeping printed (moderator's programme, turns, closing)", len(result["housekeeping_printed"]), "0",
         not result["housekeeping_printed"]),
        ("key points of themes on their theme (strict)", result["key_points_on_theme"], ">= 0.9",
         (result["key_points_on_theme"] or 0) >= 0.9),
        (f"precision@{k} (strict)", result["precision_strict"], f">= {target}",
         (result["precision_strict"] or 0) >= target),
    ]
    print(f"\n{result['printed']} printed between « » (quotes and key points), {result['held']} quotes held back "
          "until a reviewer checks them")
    # A ratio over nothing printed is no figure: said as such, neither met nor missed.
    print_table([(name, "none printed" if value is None else value, goal,
                  "-" if value is None else "met" if met else "NOT MET") for name, value, goal, met in targets],
                ("measure", "value", "target", ""))
    for item in result["unsure_printed"] + result["housekeeping_printed"]:
        print(f"  {item}")
    for words in result["duplicate_sentences"]:
        print(f"  printed twice: {words}")
    print(f"sentences printed twice in nearly the same words (no target): {len(result['nearly_the_same'])}")
    for a, b in result["nearly_the_same"]:
        print(f"  « {a} » / « {b} »")


def misses(result: dict) -> list[str]:
    """The quotes judged (first k of each theme) and the key points that are off their theme."""
    found = [f"quote {theme}: {j['on_theme_share']:.0%} of its time on the theme ({j['main_kind']}; "
             f"truth {', '.join(map(str, j['truth_passages']))}): {j['text']}"
             for theme, t in result["themes"].items() for j in t["excerpts"] if not j["strict"]]
    found += [f"key point {m['theme']}: {m['on_theme_share']:.0%} of its time on the theme ({m['main_kind']}; "
              f"truth {', '.join(map(str, m['truth_passages']))}): {m['text']}" for m in result["key_points_missed"]]
    return found


def synthese_run(config: Path) -> None:
    done = subprocess.run([str(SYNTHESE), "-q", "--config", str(config), "run"], check=False)
    if done.returncode:
        sys.exit(f"`synthese --config {config} run` failed (exit {done.returncode})")


def rewritten(shown: list[str], segments: list[dict]) -> tuple[list[str], list[tuple[int, int, int, int]]]:
    """The session's words as said, aligned to the words shown: the text a perfect reviewer
    writes, and the stretches that differ ((i1, i2) in `shown`, (j1, j2) in the text). A real
    voice's FLEURS piece, which has no text, stays as heard. Words are matched whatever their
    case and punctuation, which are then written as said too (one word at a time)."""
    import difflib

    from bench_review import bare
    from make_multivoice_session import real_voice_piece

    said: list[str] = []
    for segment in sorted(segments, key=lambda s: s["start"]):
        text = segment["text"]
        if real_voice_piece(text):
            said.append("\x00")
            continue
        for word in text.split():
            if said and said[-1] != "\x00" and re.fullmatch(r"[.,;:!?…]+", word):
                said[-1] += word  # "numérique ." in a text is typed "numérique."
            else:
                said.append(word)

    target: list[str] = []
    blocks = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, [bare(w) for w in shown], [bare(w) for w in said],
                                                      autojunk=False).get_opcodes():
        if op == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2)):
                if shown[i] != said[j]:
                    blocks.append((i, i + 1, len(target), len(target) + 1))
                target.append(said[j])
        elif "\x00" in said[j1:j2]:
            target += shown[i1:i2]
        else:
            blocks.append((i1, i2, len(target), len(target) + j2 - j1))
            target += said[j1:j2]
    return target, blocks


def review_perfectly(folder: Path, raw: dict) -> None:
    """Review a multi-voice session as a reviewer who listened to all of it: every word shown
    rewritten to what was said (one plan of corrections over the whole session, as the review
    page writes them), then every sentence confirmed, but for the real voices' FLEURS pieces,
    which have no text to check them against; then `synthese run`."""
    from make_multivoice_session import real_voice_piece

    from synthese.core.config import load_config
    from synthese.review.edits import add_confirmation, add_correction
    from synthese.review.view import plan_corrections, read_state
    from synthese.workspace import Workspace

    config_path = folder / "config.yaml"
    synthese_run(config_path)
    ws = Workspace(load_config(config_path))
    session = ws.config.session(raw["session_id"])
    state = read_state(ws, session)
    target, blocks = rewritten([t.text for t in state.tokens], raw["segments"])
    name = state.review_path.name
    text = state.review_path.read_text(encoding="utf-8") if state.review_path.is_file() else ""
    if blocks:
        for correction in plan_corrections(state, target, blocks):
            text = add_correction(text, name, correction.at_s, correction.original, correction.corrected)
        state.review_path.write_text(text, encoding="utf-8")
        synthese_run(config_path)
    fleurs = [(s["start"], s["end"]) for s in raw["segments"] if real_voice_piece(s["text"])]
    tags = json.loads(tags_of_session(folder, raw["session_id"]).read_text(encoding="utf-8"))
    for passage in tags["passages"]:
        if not any(overlap_s(passage["start"], passage["end"], *piece) > 0 for piece in fleurs):
            text = add_confirmation(text, name, passage["key"], range(len(passage["sentences"])))
    state.review_path.write_text(text, encoding="utf-8")
    synthese_run(config_path)


def run_multivoice(folders: list[Path], k: int, min_overlap_s: float, target: float, run: bool,
                   reviewed: bool = False) -> int:
    """Run the pipeline on each multi-voice session folder (unless told not to), judge each, and
    report each session and their total; `reviewed`: on a copy of each, after review_perfectly."""
    import shutil
    import tempfile

    from make_long_session import DEV_SET, load_dev_set

    dev_rows = load_dev_set(DEV_SET)
    sessions = {}
    copies = Path(tempfile.mkdtemp(prefix="bench-reviewed-")) if reviewed else None
    for folder in folders:
        truth_path, config = folder / "truth.json", folder / "config.yaml"
        if not truth_path.is_file() or not config.is_file():
            sys.exit(f"{folder}: no truth.json or config.yaml. Make the sessions first: "
                     ".venv/bin/python bench/make_multivoice_session.py")
        raw = json.loads(truth_path.read_text(encoding="utf-8"))
        if not raw.get("introductions") or not raw.get("declared"):
            sys.exit(f"{folder}: made without declared speakers or introductions: "
                     "run bench/make_multivoice_session.py again (without --no-introductions)")
        if copies is not None:
            print(f"{raw['session_id']}: reviewed by the script, on a copy…", flush=True)
            folder = Path(shutil.copytree(folder, copies / folder.name, ignore=shutil.ignore_patterns("outputs")))
            review_perfectly(folder, raw)
        elif run:
            print(f"{raw['session_id']}: synthese run…", flush=True)
            synthese_run(config)
        tags_path = tags_of_session(folder, raw["session_id"])
        if not tags_path.is_file():
            sys.exit(f"{tags_path}: not found. Run the pipeline first: .venv/bin/synthese --config {config} run")
        sessions[raw["session_id"]] = {"folder": str(folder), "tags": str(tags_path),
                                       **judge_session(tags_path, multivoice_truth(raw, dev_rows), k, min_overlap_s),
                                       "duration_s": raw["duration_s"]}

    def ratio(right: int, count: int) -> float | None:
        return round(right / count, 3) if count else None

    rows = []
    for session_id, r in sessions.items():
        rows.append((session_id, f"{r['duration_s'] / 60:.1f}", r["printed"], r["held"], len(r["unsure_printed"]),
                     len(r["duplicate_sentences"]), len(r["housekeeping_printed"]),
                     f"{r['key_points_right']}/{r['key_points']}", f"{r['excerpts_strict']}/{r['excerpts']}",
                     r["precision_any"], r["precision_text"]))
    every = list(sessions.values())
    total = {
        "printed": sum(r["printed"] for r in every),
        "held": sum(r["held"] for r in every),
        "unsure_printed": [{"session": s, **item} for s, r in sessions.items() for item in r["unsure_printed"]],
        "duplicate_sentences": [f"{s}: {words}" for s, r in sessions.items() for words in r["duplicate_sentences"]],
        "housekeeping_printed": [{"session": s, **item} for s, r in sessions.items()
                                 for item in r["housekeeping_printed"]],
        "nearly_the_same": [pair for r in every for pair in r["nearly_the_same"]],
        "key_points": sum(r["key_points"] for r in every),
        "key_points_right": sum(r["key_points_right"] for r in every),
        "excerpts": sum(r["excerpts"] for r in every),
        "excerpts_strict": sum(r["excerpts_strict"] for r in every),
        "duration_s": sum(r["duration_s"] for r in every),
    }
    total["key_points_on_theme"] = ratio(total["key_points_right"], total["key_points"])
    total["precision_strict"] = ratio(total["excerpts_strict"], total["excerpts"])
    rows.append(("total", f"{total['duration_s'] / 60:.1f}", total["printed"], total["held"],
                 len(total["unsure_printed"]), len(total["duplicate_sentences"]),
                 len(total["housekeeping_printed"]), f"{total['key_points_right']}/{total['key_points']}",
                 f"{total['excerpts_strict']}/{total['excerpts']}", "", ""))
    print()
    print_table(rows, ("session", "min", "printed", "held", "unsure", "twice", "housekeeping",
                       "key points on theme", f"p@{k} strict", "any", "text"))
    print(f"\n{len(sessions)} multi-voice sessions, {total['duration_s'] / 60:.1f} min; "
          f"review: {', '.join(sorted({str(r['review_status']) for r in every}))}")
    targets_table(total, k, target)
    found = [f"{s}: {line}" for s, r in sessions.items() for line in misses(r)]
    print("off their theme: " + ("none" if not found else ""))
    for line in found:
        print(f"  {line}")
    path = write_results("excerpts-multivoice-reviewed" if reviewed else "excerpts-multivoice",
                         {"sessions": sessions, "total": total, "k": k, "target": target,
                          "min_overlap_s": min_overlap_s, "reviewed": reviewed})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session-dir", type=Path, default=REPO / "bench" / "data" / "long-session",
                        help="folder made by make_long_session.py, after `synthese run` on it")
    parser.add_argument("--tags", type=Path, help="tags.json to judge (default: the session's own)")
    parser.add_argument("--text", type=Path, help="judge on these labelled passages instead (JSONL), not spoken")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="config for --text")
    parser.add_argument("--seed", type=int, default=7, help="order of the sources for --text")
    parser.add_argument("-k", type=int, default=3, help="quotes per theme to judge (default 3)")
    parser.add_argument("--min-overlap-s", type=float, default=2.0,
                        help="overlap with a ground-truth passage that counts for 'any' (default 2 s)")
    parser.add_argument("--target", type=float, default=0.8, help="precision@k target (reported, never enforced)")
    parser.add_argument("--multivoice", type=Path, nargs="+", metavar="DIR",
                        help="judge these sessions of make_multivoice_session.py instead (after `synthese run`)")
    parser.add_argument("--no-run", action="store_true", help="with --multivoice: judge without running the pipeline")
    parser.add_argument("--reviewed", action="store_true",
                        help="with --multivoice: judge copies of the sessions reviewed by a script that rewrites "
                             "every word to what was said and confirms every sentence but the FLEURS pieces")
    args = parser.parse_args(argv)

    if args.multivoice:
        return run_multivoice(args.multivoice, args.k, args.min_overlap_s, args.target, run=not args.no_run,
                              reviewed=args.reviewed)
    if args.text:
        import tempfile

        from synthese.core.artefacts import Transcript
        from synthese.core.config import load_config
        from synthese.tag.tagging import tag

        work = Path(tempfile.mkdtemp(prefix="bench-excerpts-"))
        transcript_path, truth = text_session(args.text, args.seed, work)
        tags_obj = tag(Transcript.load(transcript_path), load_config(args.config))
        tags_path = tags_obj.save(work / f"{args.text.stem}.tags.json")
        name = f"excerpts-{args.text.stem}"
    else:
        truth = load_truth(args.session_dir)
        session_id = truth["session_id"]
        tags_path = args.tags or tags_of_session(args.session_dir, session_id)
        if not tags_path.is_file():
            sys.exit(f"{tags_path}: not found. Run the pipeline first: "
                     f".venv/bin/synthese --config {args.session_dir / 'config.yaml'} run")
        name = "excerpts"
    tags = json.loads(tags_path.read_text(encoding="utf-8"))
    result = evaluate(tags, truth, args.k, args.min_overlap_s)

    rows = [(theme, t["count"], f"{t['strict']}/{t['count']}", f"{t['any']}/{t['count']}",
             f"{t['text']}/{t['count']}", t["chance"],
             " ".join(f"{j['passage']}({j['on_theme_share']:.0%},{j['words']}w)" for j in t["excerpts"]))
            for theme, t in result["themes"].items()]
    print_table(rows, ("theme", "n", "strict", "any", "text", "chance", "quotes (on-theme share of time, words)"))
    print(f"\nprecision@{args.k}: strict {result['precision_strict']}, any {result['precision_any']}, "
          f"text {result['precision_text']} "
          f"over {result['excerpts']} quotes (target >= {args.target}); "
          f"{truth['duration_s'] / 60:.1f} min, review: {tags.get('review', {}).get('status')}")
    words = result["words"]
    print(f"quotes on sentence boundaries: {result['on_sentence_boundaries']} of {result['quotes']}; words "
          f"min {words['min']}, quartiles {words['q1']:g}/{words['median']:g}/{words['q3']:g}, max {words['max']} "
          f"({words['within_15_70']} within 15–70); {result['elided']} with « […] »")
    print(f"key points of themes about their theme (strict): {result['key_points_on_theme']} "
          f"of {result['key_points']}")
    result["unsure_printed"] = unsure_printed(tags, None if args.text else tags_path)
    targets_table(result, args.k, args.target)
    by_kind = ", ".join(f"{n} in {kind} passages" for kind, n in result["strict_misses_by_kind"].items())
    print(f"strict misses: {by_kind or 'none'}")
    path = write_results(name, {"session_dir": None if args.text else str(args.session_dir), "tags": str(tags_path),
                                "text": str(args.text) if args.text else None,
                                "duration_s": truth["duration_s"], "target": args.target,
                                "tagger": tags.get("options"), "models": tags.get("models"), **result})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
