"""Excerpt precision on the long session: are each theme chapter's excerpts really about it?

After `synthese run` on a session made by make_long_session.py, each theme's excerpts (tags.json
`excerpts`, best first) are passages of the transcript with start/end times. Each excerpt's time
span is mapped onto the ground-truth passages it overlaps; the excerpt counts as right for the
theme when most of its overlapped time (>= 50 %) comes from passages labelled with that theme in
the dev set ('strict'), or, leniently, when any ground-truth passage it overlaps by at least
`--min-overlap-s` carries the theme ('any'). As timestamps of batched transcription are coarse,
'text' judges by words instead: the excerpt is right when most of its word pairs that occur in
exactly one nearby ground-truth passage come from passages with the theme. Precision@k is over
the first k excerpts of every theme (micro average); 'chance' is the share of the speech time that carries the theme,
i.e. what excerpts picked at random would score.

    .venv/bin/python bench/bench_excerpts.py --session-dir bench/data/long-session
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from measure import REPO, load_truth, print_table, write_results


def overlap_s(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def bigrams(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"\w+", text.lower().replace("’", "'"))
    return set(zip(words, words[1:]))


def text_share(text: str, theme: str, candidates: list[dict]) -> float | None:
    """Share of the excerpt's words that come from passages labelled with theme, by its word
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


def judge_excerpt(passage: dict, theme: str, truth: list[dict], min_overlap_s: float) -> dict:
    """How one excerpt lines up with the ground-truth passages: by time span, and by text."""
    span = (passage["start"], passage["end"])
    overlaps = [(overlap_s(*span, p["start"], p["end"]), p) for p in truth]
    overlaps = [(seconds, p) for seconds, p in overlaps if seconds > 0]
    total = sum(seconds for seconds, _ in overlaps)
    on_theme = sum(seconds for seconds, p in overlaps if theme in p["themes"])
    nearby = [p for p in truth if overlap_s(span[0] - 60, span[1] + 60, p["start"], p["end"]) > 0]
    by_text = text_share(passage["text"], theme, nearby)
    return {
        "truth_passages": [p["source_id"] for _, p in overlaps],
        # Where most of the excerpt's time comes from: a dev passage, the programme, a transition.
        "main_kind": max(overlaps, key=lambda o: o[0])[1]["kind"] if overlaps else None,
        "on_theme_share": round(on_theme / total, 3) if total else 0.0,
        "strict": bool(total) and on_theme / total >= 0.5,
        "any": any(theme in p["themes"] for seconds, p in overlaps if seconds >= min_overlap_s),
        "text_share": None if by_text is None else round(by_text, 3),
        "text": by_text is not None and by_text >= 0.5,
    }


def evaluate(tags: dict, truth: dict, k: int = 3, min_overlap_s: float = 2.0) -> dict:
    """Precision@k of every theme's excerpts against the ground truth."""
    passages = {p["id"]: p for p in tags["passages"]}
    truth_passages = truth["passages"]
    labelled_s = sum(p["end"] - p["start"] for p in truth_passages)
    themes = {}
    for theme, quotes in tags["excerpts"].items():
        judged = []
        for excerpt_id in [q["passage"] for q in quotes][:k]:
            passage = passages[excerpt_id]
            verdict = judge_excerpt(passage, theme, truth_passages, min_overlap_s)
            judged.append({"id": excerpt_id, "start": passage["start"], "end": passage["end"], **verdict})
        theme_s = sum(p["end"] - p["start"] for p in truth_passages if theme in p["themes"])
        themes[theme] = {
            "excerpts": judged,
            "strict": sum(j["strict"] for j in judged),
            "any": sum(j["any"] for j in judged),
            "text": sum(j["text"] for j in judged),
            "count": len(judged),
            "chance": round(theme_s / labelled_s, 3) if labelled_s else 0.0,
        }
    count = sum(t["count"] for t in themes.values())
    return {
        "k": k,
        "min_overlap_s": min_overlap_s,
        "excerpts": count,
        "precision_strict": round(sum(t["strict"] for t in themes.values()) / count, 3) if count else None,
        "precision_any": round(sum(t["any"] for t in themes.values()) / count, 3) if count else None,
        "precision_text": round(sum(t["text"] for t in themes.values()) / count, 3) if count else None,
        "themes_without_excerpts": [theme for theme, t in themes.items() if not t["count"]],
        "strict_misses_by_kind": dict(Counter(j["main_kind"] for t in themes.values() for j in t["excerpts"]
                                              if not j["strict"])),
        "themes": themes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session-dir", type=Path, default=REPO / "bench" / "data" / "long-session",
                        help="folder made by make_long_session.py, after `synthese run` on it")
    parser.add_argument("--tags", type=Path, help="tags.json to judge (default: the session's own)")
    parser.add_argument("-k", type=int, default=3, help="excerpts per theme to judge (default 3)")
    parser.add_argument("--min-overlap-s", type=float, default=2.0,
                        help="overlap with a ground-truth passage that counts for 'any' (default 2 s)")
    parser.add_argument("--target", type=float, default=0.8, help="precision@k target (reported, never enforced)")
    args = parser.parse_args(argv)

    truth = load_truth(args.session_dir)
    session_id = truth["session_id"]
    tags_path = args.tags or args.session_dir / "transcripts" / session_id / f"{session_id}.tags.json"
    if not tags_path.is_file():
        sys.exit(f"{tags_path}: not found. Run the pipeline first: "
                 f".venv/bin/synthese --config {args.session_dir / 'config.yaml'} run")
    tags = json.loads(tags_path.read_text(encoding="utf-8"))
    result = evaluate(tags, truth, args.k, args.min_overlap_s)

    rows = [(theme, t["count"], f"{t['strict']}/{t['count']}", f"{t['any']}/{t['count']}",
             f"{t['text']}/{t['count']}", t["chance"],
             " ".join(f"{j['id']}({j['on_theme_share']:.0%})" for j in t["excerpts"]))
            for theme, t in result["themes"].items()]
    print_table(rows, ("theme", "n", "strict", "any", "text", "chance", "excerpts (on-theme share of time)"))
    print(f"\nprecision@{args.k}: strict {result['precision_strict']}, any {result['precision_any']}, "
          f"text {result['precision_text']} "
          f"over {result['excerpts']} excerpts (target >= {args.target}); "
          f"{truth['duration_s'] / 60:.1f} min session, review: {tags.get('review', {}).get('status')}")
    misses = ", ".join(f"{n} in {kind} passages" for kind, n in result["strict_misses_by_kind"].items())
    print(f"strict misses: {misses or 'none'} (programme: the slides read at the opening, which list the themes)")
    path = write_results("excerpts", {"session_dir": str(args.session_dir), "tags": str(tags_path),
                                      "duration_s": truth["duration_s"], "target": args.target,
                                      "tagger": tags.get("options"), "models": tags.get("models"), **result})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
