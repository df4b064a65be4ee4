// Collections (list, create, delete), folder indexing as a job (live progress, cancel, skipped files),
// and the paged list of a collection's documents and files.
"use strict";

function renderCollections(list) {
  const table = $("collection-table");
  $("empty-guide").hidden = list.length > 0;
  table.hidden = list.length === 0;
  table.tBodies[0].replaceChildren(...list.map((c) => {
    const del = el("button", { type: "button", class: "danger", text: "Delete",
      "aria-label": `Delete collection ${c.name}`, onclick: () => deleteCollection(c.name) });
    // data-label: the column's name, shown beside the value when a phone stacks the row (style.css)
    const tr = el("tr", {},
      el("th", { scope: "row" }, breakable(c.name)),
      el("td", { class: "n", "data-label": "files", text: c.files.toLocaleString("en-US") }),
      el("td", { class: "n", "data-label": "documents", text: c.documents.toLocaleString("en-US") }),
      el("td", { class: "n", "data-label": "chunks", text: c.chunks.toLocaleString("en-US") }),
      el("td", { class: "n", "data-label": "size", text: bytes(c.size_bytes) }),
      el("td", { class: "actions" }, del));
    tr.dataset.name = c.name;
    return tr;
  }));
}

async function createCollection(event) {
  event.preventDefault();
  const status = $("collections-status");
  const name = $("new-name").value.trim();
  try {
    await api("POST", "/collections", { name });
    $("new-name").value = "";
    $("index-collection").value = "";
    await Collections.refresh();
    for (const id of ["index-collection", "sources-collection", "collection", "map-collection"]) $(id).value = name;
    setStatus(status, `Created “${name}”. Index a folder into it next.`);
    $("index-path").focus();
  } catch (err) {
    setStatus(status, err.message, true);
  }
}

async function deleteCollection(name) {
  const status = $("collections-status");
  if (!window.confirm(`Delete the collection “${name}” and everything indexed in it? This cannot be undone.`)) {
    return setStatus(status, "Nothing deleted.");
  }
  try {
    await api("DELETE", `/collections/${enc(name)}`);
    await Collections.refresh();
    setStatus(status, `Deleted “${name}”.`);
  } catch (err) {
    setStatus(status, err.message, true);
  }
}

// -- indexing jobs ---------------------------------------------------------------------------------------
let watching = null;  // the job id being polled

function seconds(s) {
  if (s == null) return "…";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function showJob(job) {
  const done = ["succeeded", "failed", "cancelled"].includes(job.state);
  const bar = $("job-progress");
  // The bar measures bytes of the new and changed files (what takes time), not files: many small
  // files done and one big one left is not "60 %".
  const walked = job.bytes_total != null && !["waiting", "walking", "starting"].includes(job.phase);
  if (done) { bar.max = 1; bar.value = 1; }
  else if (walked && job.bytes_total) { bar.max = job.bytes_total; bar.value = job.bytes_done; }
  else bar.removeAttribute("value");  // indeterminate until the folder is walked
  const files = job.files_total != null ? `${job.files_done} / ${job.files_total} files` : `${job.files_done} files`;
  const parts = [`${job.phase === "waiting" ? "waiting" : job.state}: ${files}`,
    plural(job.chunks_embedded || 0, "chunk") + " embedded" +
      (job.chunks_committed != null ? ` (${job.chunks_committed.toLocaleString("en-US")} saved)` : "")];
  if (walked) parts.push(`${bytes(job.bytes_done)} / ${bytes(job.bytes_total)}`);
  if (job.chunks_per_second) parts.push(`${job.chunks_per_second.toFixed(1)} chunks/s`);
  if (!done) parts.push(`ETA ${seconds(job.eta_seconds)}`);
  if (!done && job.current) parts.push(job.phase === "waiting" ? job.current : shortPath(job.current));
  if (job.error) parts.push(job.error.message);
  if (done && job.report) {
    const f = job.report.files || {};
    parts.push(`${f.added || 0} added, ${f.updated || 0} updated, ${f.unchanged || 0} unchanged, ` +
      `${f.removed || 0} removed, ${f.skipped || 0} skipped` +
      (f.copies ? ` (${f.copies} stored as copies of a file with the same content)` : "") +
      (job.report.ocr_pages ? ` (${plural(job.report.ocr_pages, "page")} read by OCR)` : ""));
  }
  setStatus($("job-status"), parts.join(" · "), job.state === "failed");
  $("job-cancel").hidden = done;
  const skipped = (job.report && job.report.skipped) || [];
  $("job-skipped").hidden = skipped.length === 0;
  $("job-skipped").querySelector("summary").textContent = `Skipped files (${skipped.length})`;
  $("job-skipped").querySelector("ul").replaceChildren(...skipGroups(skipped, job.params && job.params.path));
  return done;
}

// The skipped files grouped by reason and extension, biggest group first: one line each with its count,
// the reason's detail when the group shares one, and a few of its paths (below the folder indexed).
const SKIP_EXAMPLES = 3;
function skipGroups(skipped, root) {
  const groups = new Map();
  for (const s of skipped) {
    const name = s.path.split("/").pop();
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? name.slice(dot).toLowerCase() : "no extension";
    const key = `${s.reason}\u0000${ext}`;
    if (!groups.has(key)) groups.set(key, { reason: s.reason, ext, items: [] });
    groups.get(key).items.push(s);
  }
  return [...groups.values()].sort((a, b) => b.items.length - a.items.length || a.reason.localeCompare(b.reason))
    .map((g) => {
      const details = new Set(g.items.map((s) => s.detail).filter(Boolean));
      const shown = g.items.slice(0, SKIP_EXAMPLES).map((s) => relPath(s.path, root));
      const more = g.items.length - shown.length;
      const li = el("li", { class: "skip-group" },
        el("strong", { text: g.reason.replace(/_/g, " ") }), " · ", el("code", { text: g.ext }), " · ",
        span("skip-count", plural(g.items.length, "file")));
      if (details.size === 1) li.append(`: ${[...details][0]}`);
      const paths = el("span", { class: "dim skip-paths" });
      shown.forEach((p, i) => paths.append(i ? ", " : "", el("span", { title: g.items[i].path }, breakable(p))));
      if (more > 0) paths.append(` and ${plural(more, "other")}`);
      li.append(el("br"), paths);
      return li;
    });
}

async function watchJob(id) {
  watching = id;
  $("job").hidden = false;
  while (watching === id) {
    let job;
    try {
      job = await api("GET", `/jobs/${enc(id)}`);
    } catch (err) {
      setStatus($("job-status"), err.message, true);
      return;
    }
    if (showJob(job)) {
      watching = null;
      await Collections.refresh();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

async function indexFolder(event) {
  event.preventDefault();
  const name = $("index-collection").value;
  const status = $("job-status");
  $("job").hidden = false;
  if (!name) {
    $("job-cancel").hidden = true;
    $("job-skipped").hidden = true;
    if (!Collections.list.length) return setStatus(status, "Create a collection first (New collection, above).", true);
    $("index-collection").focus();
    return setStatus(status, "Choose the collection to index into: the list left of the folder.", true);
  }
  watching = null;  // stop following an earlier job
  setStatus(status, "Starting…");
  try {
    const job = await api("POST", `/collections/${enc(name)}/index-folder`, { path: $("index-path").value.trim() });
    showJob(job);
    watchJob(job.id);
  } catch (err) {
    $("job-cancel").hidden = true;
    $("job-skipped").hidden = true;
    setStatus(status, err.message, true);
  }
}

async function cancelJob() {
  if (!watching) return;
  try {
    await api("POST", `/jobs/${enc(watching)}/cancel`);
    setStatus($("job-status"), "Cancelling after the file in progress…");
  } catch (err) {
    setStatus($("job-status"), err.message, true);
  }
}

// -- documents and files ---------------------------------------------------------------------------------
const SOURCES_PAGE = 20;
let sourcesOffset = 0;

async function listSources(offset = 0) {
  const name = $("sources-collection").value;
  const list = $("sources");
  if (!name) return list.replaceChildren(el("li", { class: "dim", text: "No collection to list yet." }));
  try {
    const kind = $("sources-kind").value;
    const page = await api("GET", `/collections/${enc(name)}/documents?kind=${kind}&offset=${offset}&limit=${SOURCES_PAGE}`);
    sourcesOffset = offset;
    list.replaceChildren(...page.items.map((item) => el("li", {},
      el("button", { type: "button", class: "link", title: item.id, "data-id": item.id,
        onclick: () => openText(name, item.kind, item.id, null) }, breakable(relPath(item.id, item.root))),
      el("span", { class: "dim", title: item.copy_of || "", text: ` ${item.kind} · ` +
        (item.copy_of ? `copy of ${relPath(item.copy_of, item.root)}` : plural(item.chunks, "chunk")) +
        (item.kind === "file" ? ` · ${bytes(item.size)}` : "") }))));
    if (!page.items.length) list.replaceChildren(el("li", { class: "dim", text: "Nothing indexed here yet." }));
    $("sources-pager").hidden = page.total <= SOURCES_PAGE;
    $("sources-page").textContent = page.total
      ? `${offset + 1}–${offset + page.items.length} of ${page.total}` : "";
    $("sources-prev").disabled = offset === 0;
    $("sources-next").disabled = offset + page.items.length >= page.total;
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
  }
}

function initManage() {
  Collections.onChange(renderCollections);
  // No silent default: a placeholder to choose from, until the user picks one (or creates one, below).
  followCollections($("index-collection"), null, "Collection to index into…");
  followCollections($("sources-collection"));
  $("create-form").addEventListener("submit", createCollection);
  $("index-form").addEventListener("submit", indexFolder);
  $("job-cancel").addEventListener("click", cancelJob);
  $("sources-form").addEventListener("submit", (event) => { event.preventDefault(); listSources(0); });
  $("sources-prev").addEventListener("click", () => listSources(Math.max(0, sourcesOffset - SOURCES_PAGE)));
  $("sources-next").addEventListener("click", () => listSources(sourcesOffset + SOURCES_PAGE));
}
