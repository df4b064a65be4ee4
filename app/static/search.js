// Search with every option of POST /collections/{name}/query, paged, its state in the URL (?q=...) so a
// search can be shared; open a hit (or any document or file) as full text, the passage marked.
"use strict";

// URL parameter <-> form field. Only non-default values are written, so links stay short.
const SEARCH_FIELDS = { c: "collection", q: "q", mode: "mode", k: "k", fusion: "fusion", glob: "path-glob",
  ext: "ext", meta: "metadata", after: "modified-after", where: "where", min: "min-similarity" };
const OPTION_KEYS = ["glob", "ext", "meta", "after", "where", "fusion", "min"];  // fields inside "Options"
let searchOffset = 0;
let likeId = null;  // "more like this": the document id or file path the hits are ranked by, instead of q

function searchState() {
  const params = new URLSearchParams();
  for (const [key, id] of Object.entries(SEARCH_FIELDS)) {
    const v = $(id).value.trim();
    if (v && !(key === "mode" && v === "hybrid") && !(key === "k" && v === "10")) params.set(key, v);
  }
  if ($("explain").checked) params.set("explain", "1");
  if (likeId) params.set("like", likeId);
  if (searchOffset) params.set("offset", String(searchOffset));
  return params;
}

function shareUrl() {
  return `${location.origin}${location.pathname}?${searchState()}`;
}

// "topic=baking, year=2021" -> {"topic": "baking", "year": 2021}
function parseMetadata(text) {
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at < 1) throw new Error(`Metadata: “${part}” is not key=value (e.g. topic=baking).`);
    const key = part.slice(0, at).trim(), raw = part.slice(at + 1).trim();
    out[key] = raw === "true" ? true : raw === "false" ? false : raw !== "" && !isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

function queryBody() {
  const filters = {};
  if ($("path-glob").value.trim()) filters.path_glob = $("path-glob").value.trim();
  const ext = $("ext").value.split(/[\s,]+/).map((e) => e.replace(/^\./, "")).filter(Boolean);
  if (ext.length) filters.ext = ext;
  const meta = parseMetadata($("metadata").value);
  if (Object.keys(meta).length) filters.metadata = meta;
  if ($("modified-after").value) filters.modified_after = $("modified-after").value + "T00:00:00Z";
  const where = $("where").value.trim();
  if (where) {  // the filter language (docs/filters.md); the server checks it and names what is wrong
    try { filters.where = JSON.parse(where); } catch (e) {
      throw new Error(`Where: not JSON (${e.message}); e.g. {"year": {"$gte": 2024}}.`);
    }
  }
  const body = { k: Number($("k").value) || 10, offset: searchOffset, mode: $("mode").value,
    filters, explain: $("explain").checked };
  if (likeId) body.like = likeId;
  else body.query = $("q").value;
  if ($("fusion").value) body.fusion = $("fusion").value;
  const min = $("min-similarity").value.trim();
  if (min) body.min_similarity = Number(min);
  return body;
}

function explainLine(ex) {
  return Object.entries(ex).map(([mode, v]) => (typeof v === "number" ? `${mode} ${v.toFixed(4)}`
    : `${mode} #${v.rank} ${Number(v.score).toFixed(4)}`)).join(" · ");
}

// The three numbers of a hit (README "Reading scores"): the rank score, the cosine, the bm25 where words matched.
function scoreLine(hit) {
  const parts = [span("hit-score", `score ${hit.score.toFixed(4)}`)];
  if (hit.cosine != null) parts.push(span("hit-score hit-cosine", `cosine ${hit.cosine.toFixed(4)}`));
  if (hit.keyword != null) parts.push(span("hit-score", `bm25 ${hit.keyword.toFixed(2)}`));
  return parts;
}

let likeShown = null;  // how the page names likeId: a path below its folder

function moreLike(hit) {
  likeId = hit.id;
  likeShown = hit.path ? relPath(hit.path, hit.root) : hit.id;
  searchOffset = 0;
  if ($("mode").value === "keyword") $("mode").value = "dense";  // "more like this" ranks by a vector
  runSearch();
  $("search-title").scrollIntoView({ block: "start" });
}

// A file's path as the user knows it: below the folder indexed (its full path on hover and in the viewer).
function hitItem(name, hit) {
  const shown = hit.path ? relPath(hit.path, hit.root) : hit.id;
  const open = el("button", { type: "button", class: "link hit-id", title: hit.id, "data-id": hit.id,
    onclick: () => openText(name, hit.kind, hit.id, hit) }, breakable(shown));
  const like = el("button", { type: "button", class: "secondary small like", text: "More like this",
    "aria-label": `More like ${shown}`, onclick: () => moreLike(hit) });
  const li = el("li", {}, el("div", { class: "hit-head" }, open, ...scoreLine(hit),
    span("hit-meta", `chars ${hit.start}–${hit.end}`), like), snippetNode(hit.snippet));
  if (hit.metadata && hit.metadata.ocr) li.append(span("hit-meta", `recognised text (OCR)${hit.metadata.page ? `, page ${hit.metadata.page}` : ""}`));
  if (hit.metadata && Object.keys(hit.metadata).length) li.append(span("hit-meta", JSON.stringify(hit.metadata)));
  if (hit.copies) {  // the same content at other paths, stored once: the paths on hover
    const others = hit.also_at.map((p) => relPath(p, hit.root));
    const more = hit.copies > others.length ? `\n… and ${hit.copies - others.length} more` : "";
    li.append(el("p", { class: "hit-meta also-at", title: others.join("\n") + more,
      text: `also at ${hit.copies} other path${hit.copies === 1 ? "" : "s"}` }));
  }
  if (hit.explain) li.append(el("p", { class: "hit-meta", text: explainLine(hit.explain) }));
  return li;
}

let lastHits = [];  // the page's hits, for the map

async function runSearch({ push = true } = {}) {
  const status = $("search-status");
  const list = $("hits");
  const name = $("collection").value;
  if (!name) return setStatus(status, "Create a collection and index a folder first (see Collections above).", true);
  if (!likeId && !$("q").value.trim()) return setStatus(status, "Type what you are looking for.", true);
  $("like-banner").hidden = !likeId;
  if (likeId) {
    $("like-text").textContent = `More like “${likeShown || likeId}” (itself left out). `;
    $("like-text").title = likeId;
  }
  let body;
  try { body = queryBody(); } catch (err) { return setStatus(status, err.message, true); }
  if (push) history.pushState(null, "", "?" + searchState() + location.hash);
  setStatus(status, "Searching…");
  list.replaceChildren();
  try {
    const t0 = performance.now();
    const data = await api("POST", `/collections/${enc(name)}/query`, body);
    const ms = Math.round(performance.now() - t0);
    lastHits = data.hits;
    list.start = data.offset + 1;
    list.replaceChildren(...data.hits.map((hit) => hitItem(name, hit)));
    const range = data.hits.length ? `hits ${data.offset + 1}–${data.offset + data.hits.length}` : "no hits";
    const advice = data.min_similarity != null ? ` — none with a cosine of ${data.min_similarity} or more`
      : " — try another mode, or fewer filters";
    setStatus(status, `${range} of ${data.total_candidates} candidates in ${ms} ms` +
      (data.hits.length || data.offset ? "" : advice));
    $("hits-pager").hidden = false;
    $("hits-page").textContent = data.hits.length ? `page ${Math.floor(data.offset / body.k) + 1}` : "";
    $("hits-prev").disabled = data.offset === 0;
    $("hits-next").disabled = data.hits.length < body.k || data.offset + body.k >= data.total_candidates;
    showFacets(name, body);
  } catch (err) {
    lastHits = [];
    $("hits-pager").hidden = true;
    $("facets").hidden = true;
    setStatus(status, err.message, true);
  }
}

// -- facets: how many of the best 100 hits' files and documents have each value; a click narrows ------------
const FACETS = [  // field, heading, what a click on a value does to the form
  ["ext", "Type", (v) => { $("ext").value = v; }],
  ["folder", "Folder", (v) => { $("path-glob").value = v === "." ? "*" : `${v}/**`; }],
  ["year", "Modified", (v) => { $("modified-after").value = `${v}-01-01`; }],
];

async function showFacets(name, body) {
  const box = $("facets");
  const request = { query: body.query, like: body.like, mode: body.mode, k: 100, top: 8, filters: body.filters };
  if (body.like) delete request.query;
  const parts = [];
  for (const [field, heading, narrow] of FACETS) {
    let got;
    try { got = await api("POST", `/collections/${enc(name)}/facets`, { ...request, field }); } catch { continue; }
    if (got.values.length < 2) continue;  // one value narrows nothing
    const items = got.values.map((v) => el("li", {}, el("button", { type: "button", class: "link",
      title: `Only these (${v.count} of the best ${got.hits} hits' files and documents)`,
      onclick: () => { narrow(String(v.value)); searchOffset = 0; runSearch(); } },
      `${field === "year" ? `${v.value} and later` : v.value} (${v.count})`)));
    parts.push(el("h3", { text: heading }), el("ul", {}, ...items));
  }
  box.replaceChildren(...parts);
  box.hidden = !parts.length;
}

function searchFromUrl() {
  const params = new URLSearchParams(location.search);
  likeId = params.get("like");
  likeShown = null;  // a shared link names the full path
  $("like-banner").hidden = !likeId;
  if (!params.has("q") && !likeId) return false;
  for (const [key, id] of Object.entries(SEARCH_FIELDS)) {
    if (key === "c") continue;  // set once the collections are known
    $(id).value = params.get(key) || (key === "mode" ? "hybrid" : key === "k" ? "10" : "");
  }
  $("explain").checked = params.get("explain") === "1";
  if (OPTION_KEYS.some((key) => params.get(key))) $("options").open = true;
  searchOffset = Math.max(0, Number(params.get("offset")) || 0);
  if (params.get("c") && [...$("collection").options].some((o) => o.value === params.get("c"))) {
    $("collection").value = params.get("c");
  }
  runSearch({ push: false });
  return true;
}

async function share() {
  const url = shareUrl();
  try {
    await navigator.clipboard.writeText(url);
    setStatus($("search-status"), "Link copied: " + url);
  } catch {
    setStatus($("search-status"), "Link to this search: " + url);
  }
}

// -- full text -------------------------------------------------------------------------------------------
// The text with the chunk [start, end) marked and, inside it, the best span; the span is scrolled to.
async function openText(name, kind, id, where) {
  const viewer = $("viewer"), pre = $("viewer-text"), status = $("viewer-status");
  viewer.hidden = false;
  $("viewer-title").textContent = id;
  setStatus(status, "Loading…");
  pre.replaceChildren();
  try {
    const doc = await api("GET", `/collections/${enc(name)}/text?kind=${kind}&id=${enc(id)}`);
    const t = doc.text;
    const start = where ? Math.min(where.start, t.length) : 0, end = where ? Math.min(where.end, t.length) : 0;
    const spanned = where && where.span_start != null;  // a search hit; a map point has its chunk only
    const s0 = spanned ? Math.max(start, where.span_start) : start;
    const s1 = spanned ? Math.max(s0, Math.min(end, where.span_end)) : start;
    const chunk = el("mark", { class: "chunk" }, t.slice(start, s0), el("mark", { class: "span" }, t.slice(s0, s1)),
      t.slice(s1, end));
    pre.append(t.slice(0, start), ...(where ? [chunk] : []), t.slice(end));
    const notes = [`${doc.kind} · ${plural(doc.chars, "character")} · ${plural(doc.chunks.length, "chunk")}`];
    if (where) notes.push(`passage at characters ${where.start}–${where.end} marked`);
    if (doc.truncated) notes.push(`showing the first ${plural(t.length, "character")}`);
    const ocrPages = doc.metadata && doc.metadata.ocr_pages;
    if (ocrPages) notes.unshift(`recognised text (OCR) of ${plural(ocrPages, "page")}: words may be misread`);
    if (doc.origin === "chunks" && (doc.stale || !ocrPages)) notes.push(doc.stale
      ? "the file changed since it was indexed: this is the indexed text"
      : "rebuilt from the indexed chunks (the file is outside the allowed roots)");
    setStatus(status, notes.join(" · "));
    viewer.focus({ preventScroll: true });
    (where ? (spanned ? chunk.querySelector(".span") : chunk) : viewer).scrollIntoView({ block: "center" });
  } catch (err) {
    setStatus(status, err.message, true);
    viewer.focus();
  }
}

function initSearch() {
  followCollections($("collection"), () => new URLSearchParams(location.search).get("c"));
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    searchOffset = 0;
    likeId = null;  // a typed query replaces "more like this"
    runSearch();
  });
  $("like-clear").addEventListener("click", () => {
    likeId = null;
    searchOffset = 0;
    $("like-banner").hidden = true;
    if ($("q").value.trim()) runSearch();
    else { $("hits").replaceChildren(); $("hits-pager").hidden = true; history.pushState(null, "", "?" + searchState()); }
    $("q").focus();
  });
  $("hits-prev").addEventListener("click", () => {
    searchOffset = Math.max(0, searchOffset - (Number($("k").value) || 10));
    runSearch();
  });
  $("hits-next").addEventListener("click", () => { searchOffset += Number($("k").value) || 10; runSearch(); });
  $("share").addEventListener("click", share);
  $("viewer-close").addEventListener("click", () => { $("viewer").hidden = true; $("q").focus(); });
  window.addEventListener("popstate", searchFromUrl);
}
