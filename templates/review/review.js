// The review page: listening, saving each decision to the review file, keeping the page in step.
// Text from the transcript is only ever set with textContent, or arrives as HTML the server
// escaped (Jinja2 autoescape) in a fragment it rendered; this script builds no markup from text.
"use strict";
(() => {
  const token = document.querySelector('meta[name="synthese-jeton"]').content;
  let version = document.querySelector('meta[name="synthese-version"]').content;
  const known = new Set([version]); // versions this page wrote or started from
  const texts = JSON.parse(document.getElementById("textes").textContent);
  const audio = document.getElementById("audio");
  const status = document.getElementById("etat");
  const alertBox = document.getElementById("alerte");
  const alertText = document.getElementById("alerte-texte");
  let words = [];
  let starts = [];
  let currentWord = null;
  let saving = 0;
  let outsideNoticed = false;
  let reviewError = document.getElementById("fichier-illisible") !== null;
  let generations = null;
  let lastJobs = null;
  let shownJobs = "";
  let pendingRefresh = false;

  function say(message) { status.textContent = message; }
  function alarm(message, withReload) {
    alertText.textContent = message;
    document.getElementById("recharger").hidden = !withReload;
    alertBox.hidden = false;
  }

  // --- listening ---------------------------------------------------------------------------------
  function indexWords() {
    words = Array.from(document.querySelectorAll("#passages .m[data-t]"));
    starts = words.map((w) => parseFloat(w.dataset.s || w.dataset.t));
    currentWord = null;
  }
  function seek(seconds, play) {
    if (!audio || Number.isNaN(seconds)) return;
    audio.currentTime = Math.max(0, seconds);
    if (play) audio.play().catch(() => {});
    highlight();
  }
  function editorOpen() { return document.querySelector("form.correction:not([hidden])") !== null; }
  function highlight() {
    if (!audio || !words.length) return;
    const t = audio.currentTime;
    let low = 0, high = starts.length - 1, found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (starts[middle] <= t + 0.02) { found = middle; low = middle + 1; } else { high = middle - 1; }
    }
    const word = found >= 0 ? words[found] : null;
    if (word === currentWord) return;
    if (currentWord) currentWord.classList.remove("courant");
    currentWord = word;
    if (!word) return;
    word.classList.add("courant");
    const follow = document.getElementById("suivre");
    if (follow && follow.checked && !audio.paused && !editorOpen()) {
      const box = word.getBoundingClientRect();
      if (box.top < 120 || box.bottom > window.innerHeight - 40) word.scrollIntoView({block: "center"});
    }
  }
  function frame() { highlight(); if (audio && !audio.paused) requestAnimationFrame(frame); }
  function command(name) {
    if (!audio) return;
    if (name === "lecture") { if (audio.paused) audio.play().catch(() => {}); else audio.pause(); }
    if (name === "reculer") seek(audio.currentTime - 5, false);
    if (name === "avancer") seek(audio.currentTime + 5, false);
  }
  if (audio) {
    audio.addEventListener("timeupdate", highlight);
    audio.addEventListener("seeked", highlight);
    audio.addEventListener("play", () => requestAnimationFrame(frame));
  }
  const KEYS = {KeyK: "lecture", KeyJ: "reculer", KeyL: "avancer"};
  document.addEventListener("keydown", (event) => {
    if (!audio || event.ctrlKey || event.metaKey) return;
    const typing = event.target.closest && event.target.closest("input, textarea, select");
    let name = null;
    if (event.key === "Escape" && !event.altKey) name = "lecture";
    else if (KEYS[event.code] && (event.altKey || (!typing && !event.shiftKey))) name = KEYS[event.code];
    if (!name) return;
    event.preventDefault();
    command(name);
  });

  // --- clicks ----------------------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const target = event.target;
    const opener = target.closest("button.corriger");
    if (opener) {
      const form = document.getElementById(opener.getAttribute("aria-controls"));
      form.hidden = !form.hidden;
      opener.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("textarea").focus();
      return;
    }
    const cancel = target.closest("form.correction button.annuler");
    if (cancel) { closeEditor(cancel.closest("form"), true); return; }
    if (target.closest("#recharger")) { window.location.reload(); return; }
    if (target.closest("#publier")) { post("/api/publish", {}); return; }
    if (target.closest("#maj")) { post("/api/refresh", {}); return; }
    const commandButton = target.closest("[data-commande]");
    if (commandButton) { command(commandButton.dataset.commande); return; }
    const timed = target.closest("[data-t]");
    if (timed && String(window.getSelection() || "") === "") seek(parseFloat(timed.dataset.t), true);
  });
  function closeEditor(form, restore) {
    form.hidden = true;
    const textarea = form.querySelector("textarea");
    if (restore) textarea.value = form.querySelector('input[name="before"]').value;
    const opener = document.querySelector(`button.corriger[aria-controls="${form.id}"]`);
    if (opener) { opener.setAttribute("aria-expanded", "false"); opener.focus(); }
    if (pendingRefresh) refreshSections();
  }

  // --- saving ----------------------------------------------------------------------------------------
  async function post(url, body) {
    saving += 1;
    say(texts.saving);
    let response, answer = {};
    try {
      response = await fetch(url, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: {"Content-Type": "application/json", "X-Synthese-Token": token},
        body: JSON.stringify(body),
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      saving -= 1;
      alarm(String(error), false);
      return null;
    }
    saving -= 1;
    if (response.ok) {
      if (answer.version) { version = answer.version; known.add(version); }
      if (answer.message) say(answer.message); else say("");
      if (answer.generations || answer.steps) showJobs(answer);
      return answer;
    }
    say("");
    alarm(answer.error || response.statusText, response.status === 409 || response.status === 422);
    return null;
  }
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.action");
    if (!form) return;
    event.preventDefault();
    const data = new FormData(form, event.submitter || undefined);
    const body = {action: form.dataset.action, version};
    for (const [name, value] of data.entries()) if (name !== "sentences") body[name] = value;
    if (form.querySelector('[name="sentences"]')) body.sentences = data.getAll("sentences").map(Number);
    const key = form.dataset.cle || null;
    const answer = await post("/api/action", body);
    if (!answer) return;
    if (form.classList.contains("correction")) closeEditor(form, false);
    await refreshSections();
    const again = key && document.querySelector(`form[data-cle="${CSS.escape(key)}"] button, form[data-cle="${CSS.escape(key)}"] input:not([type=hidden])`);
    if (again) again.focus({preventScroll: true});
  });

  // --- keeping the page in step --------------------------------------------------------------------
  async function refreshSections(names = ["avis", "voix", "passages", "chapitres", "approbation"]) {
    if (editorOpen()) { pendingRefresh = true; return; }
    pendingRefresh = false;
    const focused = document.activeElement && document.activeElement.id;
    for (const name of names) {
      let response;
      try { response = await fetch(`/fragment/${name}`, {cache: "no-store"}); } catch (error) { continue; }
      if (!response.ok) continue;
      const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = parsed.getElementById(name);
      const old = document.getElementById(name);
      if (fresh && old) old.replaceWith(document.adoptNode(fresh));
    }
    indexWords();
    highlight();
    if (focused && document.activeElement === document.body) {
      const again = document.getElementById(focused);
      if (again) again.focus({preventScroll: true});
    }
    if (names.includes("apercu") && lastJobs) { shownJobs = ""; showJobs(lastJobs); }
  }
  function showJobs(jobs) {
    lastJobs = jobs;
    const text = JSON.stringify([jobs.running, jobs.steps, jobs.outcome, jobs.error]);
    const publish = document.getElementById("publier");
    if (publish) publish.disabled = jobs.running === "publish" || (jobs.queued || []).includes("publish");
    if (text === shownJobs) return;
    shownJobs = text;
    const list = document.getElementById("etapes");
    const outcome = document.getElementById("issue");
    if (!list || !outcome) return;
    list.replaceChildren(...jobs.steps.map((step) => {
      const item = document.createElement("li");
      item.textContent = step;
      return item;
    }));
    outcome.textContent = jobs.error || jobs.outcome || (jobs.running ? `${texts["job_" + jobs.running]}…` : "");
    outcome.classList.toggle("erreur", Boolean(jobs.error));
  }
  async function poll() {
    try {
      const response = await fetch("/api/state", {cache: "no-store"});
      const state = await response.json();
      if (state.review_error) {
        if (!reviewError) { reviewError = true; refreshSections(["avis"]); }
        alarm(state.review_error, true);
      } else if (reviewError) {
        reviewError = false;
        alarm(texts.readable_again, true);
      } else if (!saving && !known.has(state.version) && !outsideNoticed) {
        outsideNoticed = true;
        alarm(texts.outside_change, true);
      }
      const jobs = state.jobs;
      showJobs(jobs);
      if (generations) {
        if (jobs.generations.tags !== generations.tags) await refreshSections();
        if (jobs.generations.render !== generations.render) await refreshSections(["approbation", "apercu"]);
      }
      generations = jobs.generations;
    } catch (error) {
      // The server stopped: what was acknowledged is in the file already.
    }
    window.setTimeout(poll, 1500);
  }
  indexWords();
  poll();
})();
