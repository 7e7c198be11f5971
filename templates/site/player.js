/* A session's page with its replay: every time on the page (a quote's, a key point's, a turn of
   the transcript's, the index's) becomes a button that plays the replay from that moment, here.
   A link to a quote or a turn (#t-754, from the search say) sets the player at its moment without
   playing it: the player never starts by itself. Without JavaScript the times stay links to the
   replay's page, and the player plays from its own controls. */
(function () {
  "use strict";

  var box = document.querySelector("[data-player]");
  var media = box && box.querySelector("video, audio");
  if (!media) { return; }
  var label = box.getAttribute("data-listen-label") || "{time}";
  var hint = box.querySelector("[data-player-hint]");
  if (hint) { hint.hidden = false; }

  function seek(seconds, play) {
    media.currentTime = seconds;
    if (play) {
      var started = media.play();
      if (started && started.catch) { started.catch(function () {}); }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".synthese [data-start]"), function (time) {
    var seconds = parseFloat(time.getAttribute("data-start"));
    if (!isFinite(seconds)) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = ((time.className || "") + " seek").trim();
    button.setAttribute("data-start", time.getAttribute("data-start"));
    button.textContent = time.textContent;
    button.setAttribute("aria-label", label.replace("{time}", time.textContent.trim()));
    button.addEventListener("click", function () { seek(seconds, true); });
    time.parentNode.replaceChild(button, time);
  });

  function fromAddress() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    var time = target && target.querySelector("[data-start]");
    if (time) { seek(parseFloat(time.getAttribute("data-start")), false); }
  }
  fromAddress();
  window.addEventListener("hashchange", fromAddress);
}());
