"""Render benchmark: a synthetic two-hour session (700 segments, 250 passages) as PDF, DOCX, ODT, HTML.

    .venv/bin/python bench/bench_render.py [--repeat N]

Prints the time of each step and writes bench/results/render.json. Targets on a 2-core laptop:
PDF <= 10 s, DOCX <= 3 s, ODT <= 3 s. It never fails on time: it measures.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthese.core.artefacts import Tags, Transcript  # noqa: E402
from synthese.core.config import load_config  # noqa: E402
from synthese.core.storage import write_json  # noqa: E402

SEGMENTS = 700
PASSAGES = 250
DURATION_S = 2 * 3600.0
SPEAKERS = ["François Ménard", "Claire Dubreuil", "Mathieu Lambert", "Sophie Garnier", "Nadia Benali"]

# Sentences in the register of the cycle, by theme; the synthetic transcript draws from them.
SENTENCES = {
    "sobriete": [
        "Les centres de données consomment une part croissante de l'électricité produite sur le territoire.",
        "Allonger la durée de vie des terminaux reste le premier levier pour réduire l'empreinte carbone du numérique.",
        "La matérialité des infrastructures est souvent oubliée quand on parle de dématérialisation.",
        "Il faut interroger le dimensionnement des réseaux : a-t-on besoin de capteurs partout, tout le temps ?",
        "Les émissions de gaz à effet de serre liées aux équipements dépassent celles des data centers.",
    ],
    "instrumentation": [
        "Nous avons installé des capteurs dans les écoles et les données remontent sur une plateforme unique.",
        "Sans référentiel commun, les indicateurs d'un bâtiment à l'autre ne sont pas comparables.",
        "La réutilisation des jeux de données bute sur le manque d'interopérabilité entre logiciels.",
        "Le tableau de bord n'a de sens que si les agents se l'approprient au quotidien.",
        "Les études d'impact restent rares, alors qu'elles devraient précéder chaque déploiement.",
    ],
    "gouvernance": [
        "La commande publique est un levier encore sous-utilisé par les collectivités.",
        "La loi oblige désormais les grandes communes à définir une stratégie numérique responsable.",
        "Entre règle et contrat, l'action publique cherche encore sa place face aux opérateurs.",
        "Les directives européennes changent la donne pour la régulation des plateformes.",
        "La souveraineté des données est devenue une question politique pour les élus locaux.",
    ],
    "entreprises": [
        "Les start-up proposent des solutions innovantes, mais leur modèle économique reste fragile.",
        "Les grands opérateurs structurent le marché de la ville numérique depuis dix ans.",
        "Quand un prestataire disparaît, la collectivité se retrouve avec des données dans un format propriétaire.",
        "Les investisseurs se détournent des projets dont la rentabilité n'est pas démontrée.",
    ],
    "vulnerabilites": [
        "Chaque capteur connecté est une porte d'entrée potentielle pour une cyberattaque.",
        "Les attaques par rançongiciel contre les collectivités se multiplient depuis 2020.",
        "La montée en compétence des agents est la première mesure de sécurité.",
        "La fracture numérique devient une précarité numérique quand l'accès aux droits passe par un écran.",
    ],
    "societes": [
        "Une partie des habitants n'a pas accès aux services en ligne, ou pas seule.",
        "La médiation numérique dans les quartiers a permis de recréer du lien social.",
        "La participation des citoyens à la conception des services change leur usage.",
        "Les personnes âgées se retrouvent sans interlocuteur quand le guichet ferme.",
    ],
    None: [
        "Merci pour cette intervention, je passe la parole à la salle.",
        "Je vois une question dans le fil de discussion, je vous la lis.",
        "C'est un point important, et nous y reviendrons dans la prochaine séance.",
        "Pouvez-vous préciser ce que vous entendez par là ?",
    ],
}
ENTITIES = [("Puca", "ORG"), ("Ademe", "ORG"), ("Arcep", "ORG"), ("Cnil", "ORG"), ("Banque des territoires", "ORG"),
            ("Lyon", "LOC"), ("Rennes", "LOC"), ("Grenoble", "LOC"), ("Europe", "LOC"), ("Marseille", "LOC"),
            ("Eulalie Creusé", "PER"), ("Claire Dubreuil", "PER"), ("Mathieu Lambert", "PER")]


def synthetic_session(seed: int = 7) -> tuple[dict, dict]:
    """A reproducible two-hour transcript and its tags, in the agreed artefact formats."""
    rng = random.Random(seed)
    themes = [t for t in SENTENCES if t]
    step = DURATION_S / SEGMENTS
    segments, topics = [], []
    speaker = SPEAKERS[0]
    for i in range(SEGMENTS):
        if i % 6 == 0:
            speaker = rng.choice(SPEAKERS)
        topic = rng.choice(themes + [None]) if i % 12 == 0 or not topics else topics[-1]
        text = " ".join(rng.choice(SENTENCES[topic]) for _ in range(2))
        segments.append({"id": i, "start": round(i * step, 2), "end": round((i + 1) * step - 0.4, 2),
                         "text": text, "speaker": speaker})
        topics.append(topic)
    per_passage = SEGMENTS / PASSAGES
    passages = []
    for n in range(PASSAGES):
        chunk = segments[int(n * per_passage): int((n + 1) * per_passage)]
        topic = topics[chunk[0]["id"]]
        tagged = []
        if topic:
            terms = rng.sample(["consommation énergétique", "capteur", "donnée", "contrat", "start-up",
                                "cybersécurité", "habitant", "plateforme"], 3)
            tagged.append({"id": topic, "score": round(rng.uniform(0.55, 0.95), 2),
                           "evidence": [{"kind": "keyword", "term": term} for term in terms], "source": "tagger"})
            if rng.random() < 0.3:
                other = rng.choice([t for t in themes if t != topic])
                tagged.append({"id": other, "score": 0.52, "evidence": [{"kind": "keyword", "term": "infrastructure"}],
                               "source": "tagger"})
        entities = [{"text": t, "label": lab} for t, lab in rng.sample(ENTITIES, 2)] if rng.random() < 0.3 else []
        passages.append({"id": f"p{n + 1:03d}", "key": f"p{n + 1:03d}", "start": chunk[0]["start"], "end": chunk[-1]["end"],
                         "speaker": chunk[0]["speaker"], "text": " ".join(s["text"] for s in chunk),
                         "themes": tagged, "entities": entities})
    excerpts = {t: [{"passage": p["id"], "start": p["start"], "end": p["end"], "text": p["text"]}
                    for p in sorted((p for p in passages if any(x["id"] == t for x in p["themes"])),
                                    key=lambda p: -p["themes"][0]["score"])[:3]] for t in themes}
    found: dict = {}
    for p in passages:
        for e in p["entities"]:
            found.setdefault((e["text"], e["label"]), []).append(p["id"])
    transcript = {"schema": "synthese.transcript/2", "language": "fr", "duration_s": DURATION_S,
                  "source": {"file": "bench.ogg", "sha256": "0", "kind": "audio"},
                  "model": {"name": "small", "engine": "faster-whisper 1.2.1"}, "segments": segments}
    tags = {
        "schema": "synthese.tags/2", "session_id": "seance-2", "transcript": "bench.transcript.json",
        "language": "fr", "duration_s": DURATION_S,
        "models": {"asr": transcript["model"], "nlp": "fr_core_news_md 3.8.0"},
        "codebook": {"version": "bench", "themes": []},
        "passages": passages, "excerpts": excerpts,
        "entities": [{"text": t, "label": lab, "count": len(ps), "passages": ps} for (t, lab), ps in found.items()],
        "review": {"file": "bench.review.yaml", "status": "not reviewed", "decisions_applied": 0},
    }
    return Tags.model_validate(tags), Transcript.model_validate(transcript)


def timed(step, *args):
    """Run step(*args); return its result, wall seconds and CPU seconds of this process (the CPU
    time is what a quiet 2-core laptop would wait, since rendering uses one core)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = step(*args)
    return result, (time.perf_counter() - start, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per format; the best is kept")
    args = parser.parse_args()

    from synthese.render import docx as render_docx
    from synthese.render import odt as render_odt
    from synthese.render.charts import write_charts
    from synthese.render.compose import SessionInputs, build_document
    from synthese.render.html import render_html
    from synthese.render.pdf import restricted_fetcher, write_pdf

    config = load_config(REPO / "tests" / "data" / "render_config.yaml")
    session = config.session("seance-2")
    tags, transcript = synthetic_session()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ("document", "charts", "html", "docx", "odt", "pdf")}
    pages = 0
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for _ in range(args.repeat):
            doc, seconds = timed(build_document, SessionInputs(session, tags, transcript), config)
            times["document"].append(seconds)
            _, seconds = timed(write_charts, doc.charts, out)
            times["charts"].append(seconds)
            html, seconds = timed(render_html, doc, config.templates)
            times["html"].append(seconds)
            _, seconds = timed(render_docx.write_docx, doc, out / "bench.docx", out)
            times["docx"].append(seconds)
            _, seconds = timed(render_odt.write_odt, doc, out / "bench.odt", out)
            times["odt"].append(seconds)
            fetcher = restricted_fetcher([*config.templates.folders, out])
            _, seconds = timed(write_pdf, html, out / "bench.pdf", out, fetcher)
            times["pdf"].append(seconds)
        from pypdf import PdfReader

        pages = len(PdfReader(out / "bench.pdf").pages)
        sizes = {fmt: (out / f"bench.{fmt}").stat().st_size for fmt in ("pdf", "docx", "odt")}
    best = {step: round(min(wall for wall, _ in values), 3) for step, values in times.items()}
    best_cpu = {step: round(min(cpu for _, cpu in values), 3) for step, values in times.items()}
    result = {
        "schema": "synthese.bench.render/1",
        "session": {"duration_s": DURATION_S, "segments": SEGMENTS, "passages": PASSAGES,
                    "excerpts": sum(len(v) for v in tags.excerpts.values()), "annex_paragraphs": len(doc.annex)},
        "seconds": best,
        "cpu_seconds": best_cpu,
        "load_average": list(os.getloadavg()),
        "targets_s": {"pdf": 10.0, "docx": 3.0, "odt": 3.0},
        "pdf_pages": pages,
        "sizes": sizes,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    write_json(REPO / "bench" / "results" / "render.json", result)
    print(f"{'step':9s} {'wall':>8s} {'cpu':>8s}   (load average {os.getloadavg()[0]:.1f})")
    for step, seconds in best.items():
        target = result["targets_s"].get(step)
        print(f"{step:9s} {seconds:7.2f}s {best_cpu[step]:7.2f}s" + (f"   target <= {target:.0f} s" if target else ""))
    print(f"PDF: {pages} pages, {sizes['pdf'] // 1024} KiB; DOCX: {sizes['docx'] // 1024} KiB; "
          f"ODT: {sizes['odt'] // 1024} KiB")


if __name__ == "__main__":
    main()
