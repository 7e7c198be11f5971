// The review page: listening, correcting the text where it is shown, saving each decision to the
// review file, saying what each change did, keeping the page in step with the server.
// Text from the transcript is only ever set with textContent, or arrives as HTML the server
// escaped (Jinja2 autoescape) in a fragment it rendered; this script builds no markup from text.
"use strict";
(() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const token = meta("synthese-jeton");
  const server = meta("synthese-serveur");
  const sessionId = meta("synthese-seance");
  let version = meta("synthese-version");
  let glossaryVersion = meta("synthese-glossaire");
  const known = new Set([version]); // versions this page wrote or started from
  const texts = JSON.parse(document.getElementById("textes").textContent);
  const audio = document.getElementById("audio");
  const status = document.getElementById("etat");
  const alertBox = document.getElementById("alerte");
  const alertText = document.getElementById("alerte-texte");
  const effectBox = document.getElementById("effet");
  const effectText = document.getElementById("effet-texte");
  const effectUndo = document.getElementById("effet-annuler");
  let words = [];
  let starts = [];
  let currentWord = null;
  let saving = 0;
  let outsideNoticed = false;
  let reviewError = document.getElementById("fichier-illisible") !== null;
  let generations = null;
  let lastJobs = null;
  let shownJobs = "";
  const pending = new Set(); // sections not refreshed while something is typed in them
  let alarmKind = ""; // "lasting" (reload needed) or "passing" (cleared by the next success)
  let failures = 0;
  let lastAction = null; // the number of this page's last action, whose effect it waits for
  let shownEffect = null;
  let stopAt = null; // where playing "in context" stops
  let autoPause = false;

  function say(message) { status.textContent = message; }
  function alarm(message, withReload, kind = "lasting") {
    alertText.textContent = message;
    document.getElementById("recharger").hidden = !withReload;
    alertBox.hidden = false;
    alarmKind = kind;
  }
  function clearPassingAlarm() {
    if (alarmKind === "passing") { alertBox.hidden = true; alarmKind = ""; }
  }
  function counted(forms, n) { return forms[n < 2 ? "one" : "many"].replace("{n}", String(n)); }

  // --- the sticky player never hides what a link jumps to ------------------------------------------
  const sticky = [document.querySelector(".messages"), document.getElementById("ecouter")].filter(Boolean);
  function measureSticky() {
    const heights = sticky.map((element) => element.getBoundingClientRect().height);
    const root = document.documentElement.style;
    root.setProperty("--haut-messages", `${Math.ceil(heights[0] || 0)}px`);
    root.setProperty("--haut-fixe", `${Math.ceil(heights.reduce((a, b) => a + b, 0))}px`);
  }
  if (window.ResizeObserver) new ResizeObserver(measureSticky).observe(document.body);
  window.addEventListener("resize", measureSticky);
  measureSticky();

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
  function editing() {
    const active = document.activeElement;
    return Boolean(active && active.matches && active.matches(".texte[contenteditable]"));
  }
  function typingIn(section) {
    const active = document.activeElement;
    return Boolean(active && section.contains(active) && active.matches("input[type=text], textarea, [contenteditable]"));
  }
  function highlight() {
    if (!audio || !words.length) return;
    const t = audio.currentTime;
    if (stopAt !== null && t >= stopAt && !audio.paused) { stopAt = null; autoPause = true; audio.pause(); }
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
    if (follow && follow.checked && !audio.paused && !editing()) {
      const box = word.getBoundingClientRect();
      const top = sticky.reduce((total, element) => total + element.getBoundingClientRect().height, 0);
      if (box.top < top + 20 || box.bottom > window.innerHeight - 40) word.scrollIntoView({block: "center"});
    }
  }
  function frame() { highlight(); if (audio && !audio.paused) requestAnimationFrame(frame); }
  function command(name) {
    if (!audio) return;
    if (name === "lecture") { stopAt = null; if (audio.paused) audio.play().catch(() => {}); else audio.pause(); }
    if (name === "reculer") seek(audio.currentTime - 5, false);
    if (name === "avancer") seek(audio.currentTime + 5, false);
    if (name === "incertain") nextUncertain();
  }
  // The next uncertain word after the one being heard: played with a second and a half before
  // it and stopped just after it, then selected in the text so that typing corrects it.
  function nextUncertain() {
    const uncertain = Array.from(document.querySelectorAll("#passages .m.incertain"));
    if (!uncertain.length) return;
    const now = audio.currentTime;
    const next = uncertain.find((w) => parseFloat(w.dataset.s) > now + 0.05) || uncertain[0];
    const start = parseFloat(next.dataset.s), end = parseFloat(next.dataset.e || next.dataset.s);
    const box = next.closest(".texte");
    box.focus({preventScroll: true});
    const range = document.createRange();
    range.selectNodeContents(next);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    next.scrollIntoView({block: "center"});
    stopAt = Math.max(end, start) + 0.8;
    seek(Math.max(0, start - 1.5), true);
  }
  if (audio) {
    audio.addEventListener("timeupdate", highlight);
    audio.addEventListener("seeked", highlight);
    audio.addEventListener("play", () => requestAnimationFrame(frame));
    // A pause goes back 2 s, so that playing again starts before the word that made one stop.
    audio.addEventListener("pause", () => {
      if (autoPause) { autoPause = false; return; }
      if (!audio.ended) audio.currentTime = Math.max(0, audio.currentTime - 2);
    });
    const speed = document.getElementById("vitesse");
    const saved = window.localStorage.getItem("synthese-vitesse");
    if (speed && saved && Array.from(speed.options).some((o) => o.value === saved)) speed.value = saved;
    if (speed) {
      audio.playbackRate = parseFloat(speed.value);
      speed.addEventListener("change", () => {
        audio.playbackRate = parseFloat(speed.value);
        window.localStorage.setItem("synthese-vitesse", speed.value);
      });
    }
  }
  const KEYS = {KeyK: "lecture", KeyJ: "reculer", KeyL: "avancer", KeyN: "incertain"};
  document.addEventListener("keydown", (event) => {
    if (!audio || event.ctrlKey || event.metaKey) return;
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    let name = null;
    if (event.key === "Escape" && !event.altKey) name = "lecture";
    else if (KEYS[event.code] && (event.altKey || (!typing && !event.shiftKey))) name = KEYS[event.code];
    if (!name) return;
    event.preventDefault();
    command(name);
  });

  // --- the text, corrected where it is shown ----------------------------------------------------------
  // A text not yet saved is kept in this browser (localStorage) until it is saved or restored,
  // so that a reload, a closed tab or a stopped server loses none of it.
  const draftKey = (box) => `synthese-brouillon:${sessionId}:${box.dataset.cle}`;
  function textOf(box) { return box.textContent.replace(/\s+/g, " ").trim(); }
  function setState(box, dirty, message) {
    const controls = box.nextElementSibling;
    controls.querySelector(".enregistrer").disabled = !dirty;
    controls.querySelector(".retablir").disabled = !dirty;
    controls.querySelector(".brouillon").textContent = message === undefined ? (dirty ? texts.unsaved_text : "") : message;
    box.classList.toggle("modifie", dirty);
  }
  function noteEdit(box) {
    const dirty = textOf(box) !== box.dataset.avant;
    if (dirty) {
      window.localStorage.setItem(draftKey(box), JSON.stringify({avant: box.dataset.avant, texte: textOf(box)}));
    } else {
      window.localStorage.removeItem(draftKey(box));
    }
    setState(box, dirty);
  }
  function restoreDrafts() {
    for (const box of document.querySelectorAll(".texte[contenteditable]")) {
      let draft = null;
      try { draft = JSON.parse(window.localStorage.getItem(draftKey(box)) || "null"); } catch (error) { draft = null; }
      if (!draft) continue;
      if (draft.avant !== box.dataset.avant) { window.localStorage.removeItem(draftKey(box)); continue; }
      box.textContent = draft.texte;
      setState(box, true, texts.draft_restored);
    }
  }
  function anyDirty() { return document.querySelector(".texte.modifie") !== null; }
  document.addEventListener("input", (event) => {
    const box = event.target.closest && event.target.closest(".texte[contenteditable]");
    if (box) noteEdit(box);
  });
  document.addEventListener("paste", (event) => {
    const box = event.target.closest && event.target.closest(".texte[contenteditable]");
    if (!box) return;
    event.preventDefault(); // plain text only, on one line
    const pasted = (event.clipboardData.getData("text/plain") || "").replace(/\s+/g, " ");
    document.execCommand("insertText", false, pasted);
  });
  document.addEventListener("keydown", (event) => {
    const box = event.target.closest && event.target.closest(".texte[contenteditable]");
    if (!box || event.key !== "Enter") return;
    event.preventDefault(); // a passage is one paragraph: Enter saves it
    if (textOf(box) !== box.dataset.avant) saveText(box);
  });
  // The original of a corrected word, said when the caret is in it (and on hover, by its title).
  document.addEventListener("selectionchange", () => {
    const selection = window.getSelection();
    const node = selection && selection.anchorNode;
    const element = node && (node.nodeType === 1 ? node : node.parentElement);
    const box = element && element.closest(".texte[contenteditable]");
    for (const other of document.querySelectorAll(".edition .original")) {
      if (!box || other.closest(".edition") !== box.nextElementSibling) other.textContent = "";
    }
    if (!box) return;
    const word = element.closest(".m.corrige");
    box.nextElementSibling.querySelector(".original").textContent = word ? word.title : "";
  });
  document.addEventListener("focusout", () => {
    if (pending.size) window.setTimeout(() => refreshSections(Array.from(pending)), 0);
  });
  async function saveText(box) {
    const body = {action: "correct", version, passage: box.dataset.passage, key: box.dataset.cle,
                  before: box.dataset.avant, after: textOf(box)};
    const answer = await post("/api/action", body);
    if (!answer) return;
    window.localStorage.removeItem(draftKey(box));
    setState(box, false);
    box.blur();
    await refreshSections();
  }
  // The selected words (whole words) of a passage: their places among its words.
  function selectedWords(box) {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    if (!box.contains(range.commonAncestorContainer)) return null;
    const spans = Array.from(box.querySelectorAll(".m"));
    const chosen = spans.map((span, index) => (range.intersectsNode(span) ? index : -1)).filter((i) => i >= 0);
    return chosen.length ? [chosen[0], chosen[chosen.length - 1]] : null;
  }
  const PUNCTUATION = ".,;:!?«»\"'’()[]…“”—–-";
  const leadOf = (word) => word.slice(0, word.length - word.replace(new RegExp(`^[${PUNCTUATION.replace(/[\]\\[-]/g, "\\$&")}]+`), "").length);
  const trailOf = (word) => { const m = word.match(new RegExp(`[${PUNCTUATION.replace(/[\]\\[-]/g, "\\$&")}]+$`)); return m ? m[0] : ""; };
  function mark(box, kind) {
    if (box.classList.contains("modifie")) { say(texts.unsaved_text); box.focus(); return; }
    const chosen = selectedWords(box);
    if (!chosen) { say(texts.select_first); return; }
    const shown = box.dataset.avant.split(" ");
    const [first, last] = chosen;
    const before = shown.slice(0, first), after = shown.slice(last + 1);
    let middle = [];
    if (kind === "inaudible") {
      middle = [`${leadOf(shown[first])}[inaudible]${trailOf(shown[last])}`];
    } else {
      // Nobody said these words: the sentence around them still ends and starts as it did.
      const end = trailOf(shown[last]);
      if (before.length && end && !trailOf(before[before.length - 1])) before[before.length - 1] += end;
      const opened = /^[A-ZÀ-Ý]/.test(shown[first].replace(/^[«"“(]+/, ""));
      if (opened && after.length && (!before.length || /[.!?…]$/.test(before[before.length - 1]))) {
        after[0] = after[0].charAt(0).toUpperCase() + after[0].slice(1);
      }
    }
    box.textContent = [...before, ...middle, ...after].join(" ");
    noteEdit(box);
    saveText(box);
  }

  // --- clicks ----------------------------------------------------------------------------------------
  document.addEventListener("mousedown", (event) => {
    // The marking buttons act on the selection in the text: clicking them must not clear it.
    if (event.target.closest("button.marquer")) event.preventDefault();
  });
  document.addEventListener("click", (event) => {
    const target = event.target;
    if (target.closest("#recharger")) { window.location.reload(); return; }
    if (target.closest("#publier")) { post("/api/publish", {}); return; }
    if (target.closest("#maj")) { post("/api/refresh", {}); return; }
    if (target.closest("#effet-annuler")) { undo(); return; }
    if (target.closest("#remplacer-coches")) { replaceChosen(); return; }
    if (target.closest("#remplacer-cycle")) { addToGlossary(); return; }
    const save = target.closest("button.enregistrer");
    if (save) { saveText(document.getElementById(save.dataset.texte)); return; }
    const restore = target.closest("button.retablir");
    if (restore) {
      const box = document.getElementById(restore.dataset.texte);
      window.localStorage.removeItem(draftKey(box));
      setState(box, false);
      refreshSections(["passages"], true);
      return;
    }
    const marker = target.closest("button.marquer");
    if (marker) { mark(document.getElementById(marker.dataset.texte), marker.dataset.marque); return; }
    const commandButton = target.closest("[data-commande]");
    if (commandButton) { command(commandButton.dataset.commande); return; }
    const timed = target.closest("[data-t]");
    if (!timed) return;
    const inText = timed.closest(".texte[contenteditable]");
    // In the text a click also places the caret: it plays the word unless words are being selected.
    if (!inText || String(window.getSelection() || "") === "") { stopAt = null; seek(parseFloat(timed.dataset.t), true); }
  });

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
      say("");
      alarm(texts.server_gone, true, "passing");
      return null;
    }
    saving -= 1;
    if (response.ok) {
      if (answer.version) { version = answer.version; known.add(version); }
      if (answer.glossary_version) glossaryVersion = answer.glossary_version;
      clearPassingAlarm();
      if (answer.id) {
        lastAction = answer.id;
        showEffect(texts.effect_wait, false);
        say(answer.message || "");
      } else if (answer.message) {
        say(answer.message);
      } else {
        say("");
      }
      if (answer.generations || answer.steps) showJobs(answer);
      return answer;
    }
    say("");
    if (response.status === 403 && answer.reason === "token") alarm(texts.server_restarted, true);
    else alarm(answer.error || response.statusText, response.status === 409 || response.status === 422, "passing");
    return null;
  }
  function showEffect(message, withUndo) {
    effectText.textContent = message;
    effectUndo.hidden = !withUndo;
    effectBox.hidden = false;
  }
  async function undo() {
    if (!shownEffect) return;
    const id = shownEffect;
    shownEffect = null;
    effectUndo.hidden = true;
    const answer = await post("/api/action", {action: "undo", id, version, glossary_version: glossaryVersion});
    if (answer) { say(texts.undone); await refreshSections(); }
  }
  document.addEventListener("submit", async (event) => {
    if (event.target.id === "chercher") { event.preventDefault(); search(); return; }
    const form = event.target.closest("form.action");
    if (!form) return;
    event.preventDefault();
    const data = new FormData(form, event.submitter || undefined);
    const body = {action: form.dataset.action, version, glossary_version: glossaryVersion};
    for (const [name, value] of data.entries()) if (name !== "sentences") body[name] = name === "number" ? Number(value) : value;
    if (form.querySelector('[name="sentences"]')) body.sentences = data.getAll("sentences").map(Number);
    const key = form.dataset.cle || null;
    const answer = await post("/api/action", body);
    if (!answer) return;
    await refreshSections();
    const again = key && document.querySelector(`form[data-cle="${CSS.escape(key)}"] button, form[data-cle="${CSS.escape(key)}"] input:not([type=hidden])`);
    if (again) again.focus({preventScroll: true});
  });

  // --- find and replace, the glossary -----------------------------------------------------------------
  let found = null;
  async function search() {
    const query = document.getElementById("chercher-mots").value.trim();
    if (!query) return;
    let answer;
    try {
      const response = await fetch(`/api/find?q=${encodeURIComponent(query)}`, {cache: "no-store"});
      answer = await response.json();
    } catch (error) { alarm(texts.server_gone, true, "passing"); return; }
    found = answer;
    const list = document.getElementById("occurrences-liste");
    list.replaceChildren(...answer.occurrences.map((o) => {
      const item = document.createElement("li");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.value = String(o.index);
      box.id = `occurrence-${o.index}`;
      const label = document.createElement("label");
      label.htmlFor = box.id;
      const time = document.createElement("span");
      time.className = "details";
      time.textContent = `${o.time} `;
      const said = document.createElement("mark");
      said.textContent = o.words;
      label.append(time, `${o.before ? "… " + o.before + " " : ""}`, said, `${o.after ? " " + o.after + " …" : ""}`);
      const listen = document.createElement("button");
      listen.type = "button";
      listen.className = "temps";
      listen.dataset.t = String(Math.max(0, o.seek - 1));
      listen.setAttribute("aria-label", texts.occurrence_listen.replace("{time}", o.time));
      listen.textContent = "▶";
      item.append(box, " ", label, " ", listen);
      return item;
    }));
    document.getElementById("occurrences-nombre").textContent = answer.count ? counted(texts.found_count, answer.count) : texts.none_found;
    document.getElementById("occurrences").hidden = false;
    document.querySelector("#occurrences fieldset").hidden = !answer.count;
    document.querySelector("#occurrences .boutons").hidden = !answer.count;
  }
  async function replaceChosen() {
    if (!found) return;
    const chosen = Array.from(document.querySelectorAll("#occurrences-liste input:checked")).map((b) => Number(b.value));
    if (!chosen.length) return;
    const answer = await post("/api/action", {action: "replace", version, find: found.query,
                                              replace: document.getElementById("remplacer-par").value, occurrences: chosen});
    if (!answer) return;
    await refreshSections();
    await search();
  }
  async function addToGlossary() {
    if (!found) return;
    const written = document.getElementById("remplacer-par").value.trim();
    if (!written) { document.getElementById("remplacer-par").focus(); return; }
    const answer = await post("/api/action", {action: "glossary", version, glossary_version: glossaryVersion,
                                              heard: found.query, written});
    if (!answer) return;
    await refreshSections();
  }

  // --- keeping the page in step --------------------------------------------------------------------
  async function refreshSections(names = ["avis", "voix", "passages", "glossaire", "historique", "chapitres", "retenir",
                                         "intervenants", "questions", "approbation"], force = false) {
    let passages = false;
    for (const name of names) {
      let response;
      try { response = await fetch(`/fragment/${name}`, {cache: "no-store"}); } catch (error) { continue; }
      if (!response.ok) continue;
      const html = await response.text();
      const old = document.getElementById(name);
      // Never under the caret: a section where something is being typed waits until it is left.
      if (!force && old && typingIn(old)) { pending.add(name); continue; }
      pending.delete(name);
      const focused = document.activeElement && document.activeElement.id;
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(name);
      if (fresh && old) {
        // What the reader opened (a chapter's other passages…) stays open in the new version.
        const opened = new Set([...old.querySelectorAll("details[open]")].map(detailsKey));
        old.replaceWith(document.adoptNode(fresh));
        for (const details of fresh.querySelectorAll("details")) {
          if (opened.has(detailsKey(details))) details.open = true;
        }
      }
      if (name === "passages") passages = true;
      if (focused && document.activeElement === document.body) {
        const again = document.getElementById(focused);
        if (again) again.focus({preventScroll: true});
      }
    }
    if (passages) { indexWords(); restoreDrafts(); }
    highlight();
    if (names.includes("apercu") && lastJobs) { shownJobs = ""; showJobs(lastJobs); }
  }
  function detailsKey(details) {
    // The nearest element that names itself (a quote's id, a chapter's heading), then the
    // details' kind and rank among those of its kind there: stable when quotes come and go.
    const anchor = details.parentElement ? details.parentElement.closest("[id], [aria-labelledby]") : null;
    const name = anchor ? anchor.id || anchor.getAttribute("aria-labelledby") : "";
    const among = anchor ? [...anchor.querySelectorAll("details")].filter((d) => d.className === details.className) : [];
    return `${name}|${details.className}|${among.indexOf(details)}`;
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
      if (failures >= 2) alertBox.hidden = true;
      failures = 0;
      if (state.server !== server) {
        alarm(texts.server_restarted, true);
      } else if (state.review_error) {
        if (!reviewError) { reviewError = true; refreshSections(["avis"]); }
        alarm(state.review_error, true);
      } else if (reviewError) {
        reviewError = false;
        alarm(texts.readable_again, true);
      } else if (!saving && !known.has(state.version) && !outsideNoticed) {
        outsideNoticed = true;
        alarm(texts.outside_change, true);
      }
      if (state.glossary_version && !saving) glossaryVersion = state.glossary_version;
      document.getElementById("non-publie").hidden = !state.unpublished;
      if (state.effect && state.effect.id === lastAction && shownEffect !== state.effect.id) {
        shownEffect = state.effect.id;
        showEffect(state.effect.message, state.effect.undo);
      }
      const jobs = state.jobs;
      showJobs(jobs);
      if (generations) {
        if (jobs.generations.tags !== generations.tags) await refreshSections();
        if (jobs.generations.render !== generations.render) await refreshSections(["approbation", "apercu"]);
      }
      generations = jobs.generations;
    } catch (error) {
      // The server stopped: what was acknowledged is in the file already; say so after a miss.
      failures += 1;
      if (failures >= 2) alarm(texts.server_gone, false, "passing");
    }
    window.setTimeout(poll, 1500);
  }
  indexWords();
  restoreDrafts();
  poll();
})();
