(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("collection-data").textContent);
  var T = data.tracks, leaves = data.leaves, cats = data.cats;
  var grid = document.getElementById("grid");
  var search = document.getElementById("search");
  var sortSelect = document.getElementById("sort");
  var directionButton = document.getElementById("direction");
  var shown = document.getElementById("shown-count");
  var empty = document.getElementById("empty");
  var info = document.getElementById("category-info");
  var pageInfo = document.getElementById("page-info");
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  var downloadButton = document.getElementById("download");
  var decisionCount = document.getElementById("decision-count");
  var state = { category: -1, section: -1, terms: [], sort: "tree", descending: false, page: 0, open: {} };
  var decisions = {};  // suggestion id -> "yes" | "no"
  var byLeaf = {};  // leaf index -> suggestion rows
  var col = {};
  data.suggestionColumns.forEach(function (name, i) { col[name] = i; });
  data.suggestions.forEach(function (row) {
    var leaf = row[row.length - 1];
    (byLeaf[leaf] = byLeaf[leaf] || []).push(row);
  });

  // Every track's artist and title is searchable, not only the exemplars.
  var haystacks = leaves.map(function (leaf) {
    var cat = cats[leaf.c];
    var parts = [leaf.t, leaf.d, leaf.g, leaf.sc, cat.t, leaf.s >= 0 ? cat.s[leaf.s].t : ""];
    leaf.o.forEach(function (r) { parts.push(T.a[r], T.t[r]); });
    return parts.join("\n").toLowerCase();
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function matches(i) {
    var leaf = leaves[i];
    if (state.category >= 0 && leaf.c !== state.category) { return false; }
    if (state.section >= 0 && leaf.s !== state.section) { return false; }
    var hay = haystacks[i];
    return state.terms.every(function (t) { return hay.indexOf(t) !== -1; });
  }

  var sorters = {
    name: function (l) { return l.t.toLowerCase(); },
    size: function (l) { return l.n; },
    year: function (l) { return l.yr ? l.yr[2] : null; },
    bpm: function (l) { return l.bpmMed; },
    energy: function (l) { return l.en ? l.en[0] : null; },
    mix: function (l) { return l.tr; }
  };

  function ordered() {
    var list = [];
    for (var i = 0; i < leaves.length; i += 1) { if (matches(i)) { list.push(i); } }
    var key = sorters[state.sort];
    if (key) {
      var sign = state.descending ? -1 : 1;
      list.sort(function (a, b) {
        var x = key(leaves[a]), y = key(leaves[b]);
        if (x === null || x === undefined) { return (y === null || y === undefined) ? a - b : 1; }
        if (y === null || y === undefined) { return -1; }
        if (x < y) { return -sign; }
        if (x > y) { return sign; }
        return a - b;
      });
    } else if (state.descending) {
      list.reverse();
    }
    return list;
  }

  function fact(parent, label, value) {
    var span = el("span");
    span.appendChild(el("b", null, label + " "));
    span.appendChild(document.createTextNode(value));
    parent.appendChild(span);
  }

  function facts(leaf) {
    var box = el("p", "facts");
    if (leaf.bpm) { fact(box, "BPM", leaf.bpm[0] === leaf.bpm[1] ? leaf.bpm[0] : leaf.bpm[0] + "–" + leaf.bpm[1]); }
    if (leaf.nk) {
      var keys = leaf.keys.map(function (k) { return k[0] + "×" + k[1]; }).join(" ");
      fact(box, "Keys", keys + (leaf.nk > leaf.keys.length ? " +" + (leaf.nk - leaf.keys.length) : "") +
        " (" + leaf.nk + " distinct)");
    }
    if (leaf.en) { fact(box, "Energy", leaf.en[0] + " (" + leaf.en[1] + "–" + leaf.en[2] + ")"); }
    if (leaf.tr !== null && leaf.tr !== undefined) { fact(box, "Mix", Math.round(leaf.tr * 100) + "% compatible transitions"); }
    if (leaf.yr) { fact(box, "Years", leaf.yr[0] === leaf.yr[1] ? leaf.yr[0] : leaf.yr[0] + "–" + leaf.yr[1]); }
    return box;
  }

  function trackMatches(leaf) {
    if (!state.terms.length) { return null; }
    var hits = [];
    for (var k = 0; k < leaf.o.length && hits.length < 3; k += 1) {
      var r = leaf.o[k], text = (T.a[r] + " " + T.t[r]).toLowerCase();
      if (state.terms.some(function (t) { return text.indexOf(t) !== -1; })) { hits.push(T.a[r] + " – " + T.t[r]); }
    }
    if (!hits.length) { return null; }
    return el("p", "matches", "Matching tracks: " + hits.join(" · "));
  }

  function trackTable(i) {
    var leaf = leaves[i];
    var exemplars = {};
    leaf.x.forEach(function (r) { exemplars[r] = true; });
    var wrap = el("div", "table-wrap");
    var table = el("table", "tracklist");
    var head = el("tr");
    ["#", "Artist", "Title", "Year", "BPM", "Key", "Energy", "Mix"].forEach(function (h, n) {
      head.appendChild(el("th", n === 0 || n === 3 || n === 4 || n === 6 ? "num" : null, h));
    });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    leaf.o.forEach(function (r, k) {
      var row = el("tr", exemplars[r] ? "exemplar" : null);
      row.dataset.trackId = T.id[r];
      [k + 1, T.a[r], T.t[r], T.y[r], T.b[r], T.k[r], T.e[r]].forEach(function (v, n) {
        row.appendChild(el("td", n === 0 || n === 3 || n === 4 || n === 6 ? "num" : null, v === null ? "" : v));
      });
      var mark = k === 0 ? "" : leaf.fit.charAt(k - 1);
      row.appendChild(el("td", mark === "1" ? "fit-ok" : mark === "0" ? "fit-bad" : null,
        mark === "1" ? "✓ mixes" : mark === "0" ? "✗ clash" : ""));
      body.appendChild(row);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function suggestionTable(i) {
    var rows = byLeaf[i] || [];
    if (!rows.length) { return null; }
    var wrap = el("div", "table-wrap");
    var table = el("table", "suggestions");
    var head = el("tr");
    ["Track", "Field", "Current", "Proposed", "Confidence", "Decision", ""].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    rows.forEach(function (s) {
      var id = s[col.id];
      var row = el("tr", "suggestion");
      row.dataset.id = id;
      row.appendChild(el("td", null, s[col.artist] + " – " + s[col.title]));
      row.appendChild(el("td", null, s[col.field]));
      row.appendChild(el("td", null, s[col.current]));
      row.appendChild(el("td", null, s[col.proposed]));
      row.appendChild(el("td", "num", s[col.confidence] === "" ? "" : Number(s[col.confidence]).toFixed(2)));
      var stateCell = el("td", "state");
      row.appendChild(stateCell);
      var actions = el("td");
      var accept = el("button", "accept", "Accept"), reject = el("button", "reject", "Reject");
      accept.type = reject.type = "button";
      function paint() {
        var d = decisions[id];
        row.classList.toggle("accepted", d === "yes");
        row.classList.toggle("rejected", d === "no");
        stateCell.textContent = d === "yes" ? "accepted" : d === "no" ? "rejected" : "pending";
      }
      accept.addEventListener("click", function () { decisions[id] = "yes"; paint(); updateDecisions(); });
      reject.addEventListener("click", function () { decisions[id] = "no"; paint(); updateDecisions(); });
      actions.appendChild(accept);
      actions.appendChild(reject);
      row.appendChild(actions);
      paint();
      body.appendChild(row);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function card(i) {
    var leaf = leaves[i], cat = cats[leaf.c];
    var open = !!state.open[i];
    var node = el("article", open ? "card open" : "card");
    node.dataset.id = leaf.id;
    node.dataset.index = i;
    node.appendChild(el("div", "in-cat", cat.t + (leaf.s >= 0 ? " › " + cat.s[leaf.s].t : "")));
    var head = el("div", "card-head");
    head.appendChild(el("h3", null, leaf.t));
    head.appendChild(el("span", "count", leaf.n + (leaf.n === 1 ? " track" : " tracks")));
    node.appendChild(head);
    if (leaf.g || leaf.sc) {
      var tags = el("div", "tags");
      if (leaf.g) { tags.appendChild(el("span", "tag genre", leaf.g)); }
      if (leaf.sc) { tags.appendChild(el("span", "tag scene", leaf.sc)); }
      node.appendChild(tags);
    }
    node.appendChild(el("p", "desc", leaf.d));
    node.appendChild(facts(leaf));
    var hits = trackMatches(leaf);
    if (hits) { node.appendChild(hits); }
    if (open) {
      node.appendChild(trackTable(i));
      var suggestions = suggestionTable(i);
      if (suggestions) { node.appendChild(suggestions); }
    } else if (leaf.x.length) {
      var examples = el("ol", "examples");
      leaf.x.forEach(function (r) {
        var item = el("li", null, T.a[r] + " – " + T.t[r]);
        if (T.y[r] !== null) { item.appendChild(el("span", "year", " (" + T.y[r] + ")")); }
        examples.appendChild(item);
      });
      node.appendChild(examples);
    }
    var foot = el("div", "card-foot");
    var toggle = el("button", "toggle", open ? "Close track list" : leaf.n === 1 ? "Show the track" : "Show all " + leaf.n + " tracks");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.addEventListener("click", function () {
      if (state.open[i]) { delete state.open[i]; } else { state.open[i] = true; }
      node.replaceWith(card(i));
    });
    foot.appendChild(toggle);
    if (leaf.href) {
      var link = el("a", "playlist", "Playlist (M3U8)");
      link.href = leaf.href;
      foot.appendChild(link);
    }
    if (leaf.sg) { foot.appendChild(el("span", "badge", leaf.sg + (leaf.sg === 1 ? " suggestion" : " suggestions"))); }
    node.appendChild(foot);
    return node;
  }

  function render() {
    var list = ordered();
    var size = data.pageSize, pages = Math.max(1, Math.ceil(list.length / size));
    state.page = Math.min(state.page, pages - 1);
    var fragment = document.createDocumentFragment();
    list.slice(state.page * size, (state.page + 1) * size).forEach(function (i) { fragment.appendChild(card(i)); });
    grid.replaceChildren(fragment);
    shown.textContent = list.length + (list.length === 1 ? " playlist" : " playlists");
    empty.hidden = list.length !== 0;
    pageInfo.textContent = "Page " + (state.page + 1) + " of " + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    var cat = cats[state.category];
    info.hidden = !cat;
    if (cat) {
      info.querySelector("h2").textContent = cat.t + (state.section >= 0 ? " › " + cat.s[state.section].t : "");
      info.querySelector("p").textContent = cat.d;
    }
  }

  function select(category, section) {
    state.category = category;
    state.section = section;
    state.page = 0;
    document.querySelectorAll(".cat").forEach(function (b) {
      var on = Number(b.dataset.category) === category;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    document.querySelectorAll(".sections").forEach(function (box) { box.hidden = Number(box.dataset.category) !== category; });
    document.querySelectorAll(".section").forEach(function (b) {
      var on = Number(b.dataset.category) === category && Number(b.dataset.section) === section;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    render();
  }

  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) { text = "'" + text; }  // a spreadsheet would run it as a formula
    return /[",\n\r]/.test(text) ? "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  }

  function updateDecisions() {
    var accepted = 0, rejected = 0;
    Object.keys(decisions).forEach(function (id) { if (decisions[id] === "yes") { accepted += 1; } else { rejected += 1; } });
    decisionCount.textContent = data.suggestions.length + " metadata suggestions: " + accepted + " accepted, " +
      rejected + " rejected";
    downloadButton.disabled = accepted + rejected === 0;
  }

  // The review table's columns, "accepted" set to yes/no from the decisions: what
  // `collection-tree suggestions apply --accept-csv` reads.
  function decisionsCsv() {
    var lines = [data.suggestionColumns.join(",")];
    data.suggestions.forEach(function (s) {
      var row = s.slice(0, data.suggestionColumns.length);
      var d = decisions[s[col.id]];
      row[col.accepted] = d || "";
      if (d === "no") { row[col.note] = "rejected in collection.html"; }
      lines.push(row.map(csvCell).join(","));
    });
    return lines.join("\n") + "\n";
  }

  downloadButton.addEventListener("click", function () {
    var url = URL.createObjectURL(new Blob([decisionsCsv()], { type: "text/csv" }));
    var a = el("a");
    a.href = url;
    a.download = "metadata_suggestions.decisions.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });

  document.querySelectorAll(".cat").forEach(function (b) {
    b.addEventListener("click", function () { select(Number(b.dataset.category), -1); });
  });
  document.querySelectorAll(".section").forEach(function (b) {
    b.addEventListener("click", function () {
      var section = Number(b.dataset.section);
      select(Number(b.dataset.category), state.section === section ? -1 : section);
    });
  });
  search.addEventListener("input", function () {
    state.terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    state.page = 0;
    render();
  });
  sortSelect.addEventListener("change", function () {
    state.sort = sortSelect.value;
    state.descending = state.sort === "size" || state.sort === "mix";
    directionButton.textContent = state.descending ? "↓" : "↑";
    state.page = 0;
    render();
  });
  directionButton.addEventListener("click", function () {
    state.descending = !state.descending;
    directionButton.textContent = state.descending ? "↓" : "↑";
    render();
  });
  prev.addEventListener("click", function () { state.page -= 1; render(); window.scrollTo(0, 0); });
  next.addEventListener("click", function () { state.page += 1; render(); window.scrollTo(0, 0); });
  updateDecisions();
  render();
})();
