#!/usr/bin/env bash
# Reproduce every figure in bench/README.md:  bash bench/run_all.sh
# Results go to bench/results/*.json (git-ignored). Takes about two hours on 2 cores, most of
# it transcribing four hours; the 30- and 60-minute sessions are generated once in bench/data/
# (git-ignored) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SESSION=bench/data/long-session

# Per-stage benchmarks (each script's --help says what it measures).
echo "== bench/bench_transcribe.py"
$PY bench/bench_transcribe.py --audio ../shared/eval/sample/seance-introductive.ogg \
    --reference ../shared/eval/sample/seance-introductive.txt --session seance-introductive
for script in bench/bench_tag.py bench/bench_render.py bench/bench_serve.py; do
    echo "== $script"
    $PY "$script"
done

# The long realistic session: generated once (deterministic for a given --seed).
if [[ ! -f $SESSION/ground-truth.json ]]; then
    echo "== generating the 30-minute session"
    $PY bench/make_long_session.py --minutes 30 -o "$SESSION"
fi
echo "== bench/bench_end_to_end.py"
$PY bench/bench_end_to_end.py --session-dir "$SESSION"
echo "== bench/bench_excerpts.py"
$PY bench/bench_excerpts.py --session-dir "$SESSION"
$PY bench/bench_excerpts.py --text ../shared/eval/themes/dev2.jsonl
echo "== bench/bench_passages.py"
$PY bench/bench_passages.py --session-dir "$SESSION"
echo "== bench/bench_memory.py"
$PY bench/bench_memory.py --session-dir "$SESSION"
echo "== bench/bench_diarize.py"
$PY bench/bench_diarize.py --models campplus ge2e --four-hours
echo "== bench/bench_voices.py"
$PY bench/bench_voices.py --cycle
echo "== bench/bench_review.py"
$PY bench/make_multivoice_session.py --only multivoix-2
$PY bench/bench_review.py --session-dir bench/data/multivoice/multivoix-2
