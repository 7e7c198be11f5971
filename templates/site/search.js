/* The site's search (recherche.html): Pagefind's search of the index built at publish, in this
   browser; nothing is sent anywhere. Each session that matches is listed with the passages that
   match, each opening the quote or the turn of the transcript at its anchor, with its time.
   Without JavaScript the page says so and lists the sessions and themes. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-search]");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var status = document.getElementById("search-status");
  var results = document.getElementById("search-results");
  var words = form.dataset;
  var MOMENTS_SHOWN = 8;
  var PAGES_SHOWN = 20;
  var EXCERPT_WORDS = 14; // on each side of the first match
  var TIME = /(\d{2}:\d{2}:\d{2})/;
  var engine = null;
  var without = document.querySelector("[data-without-script]");
  if (without) { without.hidden = true; }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  }

  function counted(n, one, many) { return fill(n === 1 ? one : many, { n: String(n) }); }

  // Pagefind's content is escaped HTML text: read back as text, never as markup.
  function unescape(text) {
    return text.replace(/&(lt|gt|quot|#39|#x27|amp);/g, function (whole, name) {
      return { lt: "<", gt: ">", quot: "\"", "#39": "'", "#x27": "'", amp: "&" }[name];
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function load() {
    if (!engine) {
      var root = new URL(".", window.location.href);
      engine = import(new URL("pagefind/pagefind.js", root).href).then(function (pagefind) {
        return pagefind.options({ baseUrl: root.pathname }).then(function () { return pagefind; });
      });
    }
    return engine;
  }

  // The anchor a match falls in: the last element with an id that starts at or before it. A quote
  // (figure.excerpt) and a turn of the transcript (div.turn, 't-754') are moments with a time.
  function momentOf(anchor) {
    if (anchor.element === "figure" && !/^chart-/.test(anchor.id)) { return "quote"; }
    if (anchor.element === "div" && /^t-\d+(-\d+)?$/.test(anchor.id)) { return "turn"; }
    return "";
  }

  function passages(data) {
    var tokens = data.content.split(/\s+/);
    var anchors = data.anchors.slice().sort(function (a, b) { return a.location - b.location; });
    var found = {};
    var order = [];
    data.locations.forEach(function (location) {
      var index = -1;
      for (var i = 0; i < anchors.length && anchors[i].location <= location; i++) { index = i; }
      var anchor = index >= 0 ? anchors[index] : null;
      var kind = anchor ? momentOf(anchor) : "";
      var heading = null;
      var chapter = null;
      if (!kind) {  // a match in the synthesis's text: its section, by the headings before it
        for (var j = index; j >= 0; j--) {
          var element = anchors[j].element.toLowerCase();
          if (!/^h\d$/.test(element) || !anchors[j].text) { continue; }
          if (!heading) { heading = anchors[j]; }
          if (element === "h2" || element === "h1") { chapter = anchors[j]; break; }
        }
      }
      var key = kind ? anchor.id : (heading ? heading.id : "");
      if (!found[key]) {
        var start = kind ? anchor.location : (heading ? heading.location : 0);
        var end = index + 1 < anchors.length ? anchors[index + 1].location : tokens.length;
        var time = "";
        if (kind) {
          for (var k = start; k < end && k < tokens.length; k++) {
            var stamp = TIME.exec(tokens[k]);
            if (stamp) { time = stamp[1]; break; }
          }
        }
        var title = heading ? heading.text : "";
        if (chapter && chapter !== heading) { title = chapter.text + " › " + title; }
        found[key] = { id: key, kind: kind, time: time, title: title, start: start,
                       end: Math.max(end, location + 1), locations: [] };
        order.push(found[key]);
      }
      found[key].locations.push(location);
    });
    // The moments first, in the order of the page, then the sections of the synthesis.
    return order.sort(function (a, b) {
      return (a.kind ? 0 : 1) - (b.kind ? 0 : 1) || a.start - b.start;
    }).map(function (passage) { passage.tokens = tokens; return passage; });
  }

  function excerpt(passage) {
    var first = passage.locations[0];
    var from = Math.max(passage.start, first - EXCERPT_WORDS);
    var to = Math.min(passage.end, first + EXCERPT_WORDS + 1, passage.tokens.length);
    var marked = {};
    passage.locations.forEach(function (location) { marked[location] = true; });
    var paragraph = element("p", "search-excerpt");
    if (from > passage.start) { paragraph.appendChild(document.createTextNode("… ")); }
    for (var i = from; i < to; i++) {
      var word = unescape(passage.tokens[i]);
      paragraph.appendChild(marked[i] ? element("mark", "", word) : document.createTextNode(word));
      if (i + 1 < to) { paragraph.appendChild(document.createTextNode(" ")); }
    }
    if (to < passage.end) { paragraph.appendChild(document.createTextNode(" …")); }
    return paragraph;
  }

  function show(query, pages) {
    results.textContent = "";
    if (!pages.length) {
      status.textContent = fill(words.none, { query: query });
      return;
    }
    status.textContent = fill(pages.length === 1 ? words.resultsOne : words.resultsMany,
                              { n: String(pages.length), query: query });
    pages.forEach(function (data, pageIndex) {
      var section = element("section", "search-result");
      var headingId = "resultat-" + (pageIndex + 1);
      section.setAttribute("aria-labelledby", headingId);
      var heading = element("h2");
      heading.id = headingId;
      var link = element("a", "", unescape(data.meta.title || data.url));
      link.href = data.url;
      heading.appendChild(link);
      section.appendChild(heading);
      var found = passages(data);
      var meta = [data.meta.date, counted(found.length, words.matchesOne, words.matchesMany)].filter(Boolean);
      section.appendChild(element("p", "meta", meta.join(" · ")));
      var list = element("ol", "search-passages");
      found.slice(0, MOMENTS_SHOWN).forEach(function (passage) {
        var item = element("li");
        var target = element("a", "search-passage");
        target.href = data.url + (passage.id ? "#" + encodeURIComponent(passage.id) : "");
        if (passage.kind) {
          target.appendChild(element("span", "timestamp", passage.time));
          target.appendChild(document.createTextNode(" · " + (passage.kind === "quote" ? words.quote : words.turn)));
        } else {
          target.textContent = (passage.title ? unescape(passage.title) + " · " : "") + words.section;
        }
        item.appendChild(target);
        item.appendChild(excerpt(passage));
        list.appendChild(item);
      });
      section.appendChild(list);
      results.appendChild(section);
    });
  }

  function run(query) {
    query = query.trim();
    results.textContent = "";
    if (!query) { status.textContent = ""; return; }
    status.textContent = words.searching;
    load().then(function (pagefind) {
      return pagefind.search(query);
    }).then(function (search) {
      return Promise.all(search.results.slice(0, PAGES_SHOWN).map(function (result) { return result.data(); }));
    }).then(function (pages) {
      show(query, pages);
    }).catch(function () {
      engine = null;
      status.textContent = words.unavailable;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var url = new URL(window.location.href);
    url.searchParams.set("q", input.value);
    window.history.replaceState(null, "", url);
    run(input.value);
  });

  var asked = new URL(window.location.href).searchParams.get("q");
  if (asked) {
    input.value = asked;
    run(asked);
  }
}());
