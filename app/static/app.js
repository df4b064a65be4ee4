// The semsearch page: search a collection, compare two texts, look inside the model.
// All text from the server is put on the page with textContent, never innerHTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "semsearch.apiKey";

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  return data;
}

function setStatus(el, text, isError) {
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

// "... the **matching span** ..." -> text nodes with the span in a <mark>
function snippetNode(snippet) {
  const p = document.createElement("p");
  p.className = "snippet";
  snippet.split("**").forEach((part, i) => {
    if (!part) return;
    if (i % 2 === 1) {
      const mark = document.createElement("mark");
      mark.textContent = part;
      p.appendChild(mark);
    } else {
      p.appendChild(document.createTextNode(part));
    }
  });
  return p;
}

function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

async function loadCollections() {
  const select = $("collection");
  try {
    const data = await api("GET", "/collections");
    select.replaceChildren();
    for (const c of data.collections) {
      const opt = document.createElement("option");
      opt.value = c.name;
      opt.textContent = `${c.name} (${c.chunks} chunks)`;
      select.appendChild(opt);
    }
    if (!data.collections.length) setStatus($("search-status"), "No collections yet: create one through the API (see /docs).");
    else setStatus($("search-status"), "");
  } catch (err) {
    setStatus($("search-status"), "Could not list collections: " + err.message, true);
  }
}

async function search(event) {
  event.preventDefault();
  const status = $("search-status");
  const list = $("hits");
  const name = $("collection").value;
  if (!name) return setStatus(status, "Pick a collection first.", true);
  setStatus(status, "Searching…");
  list.replaceChildren();
  try {
    const t0 = performance.now();
    const data = await api("POST", `/collections/${encodeURIComponent(name)}/query`,
      { query: $("q").value, k: 10, mode: $("mode").value });
    const ms = Math.round(performance.now() - t0);
    setStatus(status, `${data.hits.length} hit${data.hits.length === 1 ? "" : "s"} in ${ms} ms`);
    for (const hit of data.hits) {
      const li = document.createElement("li");
      const head = document.createElement("div");
      head.className = "hit-head";
      head.append(span("hit-id", hit.path || hit.id), span("hit-score", hit.score.toFixed(4)),
        span("hit-meta", `chars ${hit.start}–${hit.end}`));
      li.append(head, snippetNode(hit.snippet));
      if (hit.metadata && Object.keys(hit.metadata).length) li.append(span("hit-meta", JSON.stringify(hit.metadata)));
      list.appendChild(li);
    }
  } catch (err) {
    setStatus(status, err.message, true);
  }
}

async function compare(event) {
  event.preventDefault();
  const out = $("compare-result");
  setStatus(out, "Comparing…");
  try {
    const data = await api("POST", "/compare", { texts: [$("text-a").value, $("text-b").value] });
    out.replaceChildren(document.createTextNode("cosine similarity "), span("score-big", data.similarity.toFixed(4)));
    out.classList.remove("error");
  } catch (err) {
    setStatus(out, err.message, true);
  }
}

// -- Inside the model: POST /explain and /explain/tokens, drawn on canvases --------------------------

let trace = null;      // the last /explain response
let alignment = null;  // the last /explain/tokens response
let explainRun = 0;    // a newer request makes older answers stale

// Colour scales. sequential: 0 white .. 1 dark blue. diverging: -1 blue .. 0 white .. +1 red.
const WHITE = [255, 255, 255], BLUE = [10, 45, 140], RED = [180, 35, 20];
function mix(to, t) {
  t = Math.min(1, Math.max(0, t));
  return `rgb(${WHITE.map((w, i) => Math.round(w + (to[i] - w) * t)).join(",")})`;
}
const sequential = (v) => mix(BLUE, v);
const diverging = (v) => (v < 0 ? mix(BLUE, -v) : mix(RED, v));

const fmt = (v, digits = 3) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(digits);
const short = (label) => (label.length > 14 ? label.slice(0, 13) + "…" : label);
const tokenName = (tokens, i) => `${tokens[i]} (${i})`;

// Draw a rows x cols matrix as coloured cells with optional row labels (left) and column labels (top).
// opts: color(v), fit (width available, CSS px), minCell, maxCell, cellH (default: square cells),
// rowLabels, colLabels, marks ([row, col] cells to outline). Returns event -> [row, col] or null.
function heatmap(canvas, matrix, opts) {
  const ctx = canvas.getContext("2d");
  const font = "12px ui-monospace, monospace";
  ctx.font = font;
  const labelSpace = (labels) => (labels ? Math.max(...labels.map((l) => ctx.measureText(short(l)).width)) + 8 : 0);
  const left = labelSpace(opts.rowLabels), top = labelSpace(opts.colLabels);
  const rows = matrix.length, cols = matrix[0].length;
  let cellW = Math.min(opts.maxCell, Math.max(opts.minCell, (opts.fit - left) / cols));
  if (!opts.cellH) cellW = Math.floor(cellW);
  const cellH = opts.cellH || cellW;
  const width = Math.ceil(left + cols * cellW), height = Math.ceil(top + rows * cellH);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr;  // resizing also resets the context's state
  canvas.height = height * dpr;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = font;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      ctx.fillStyle = opts.color(matrix[r][c]);
      ctx.fillRect(left + c * cellW, top + r * cellH, cellW + 0.5, cellH);  // +0.5: no seams
    }
  }
  ctx.strokeStyle = "#f2b705";
  ctx.lineWidth = 2;
  for (const [r, c] of opts.marks || []) ctx.strokeRect(left + c * cellW + 1, top + r * cellH + 1, cellW - 2, cellH - 2);
  ctx.fillStyle = "#1d232a";
  ctx.textBaseline = "middle";
  if (opts.rowLabels && cellH >= 10) {
    ctx.textAlign = "right";
    opts.rowLabels.forEach((l, r) => ctx.fillText(short(l), left - 4, top + (r + 0.5) * cellH));
  }
  if (opts.colLabels && cellW >= 10) {
    ctx.textAlign = "left";
    opts.colLabels.forEach((l, c) => {
      ctx.save();
      ctx.translate(left + (c + 0.5) * cellW, top - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(short(l), 0, 0);
      ctx.restore();
    });
  }
  return (event) => {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (width / box.width) - left;
    const y = (event.clientY - box.top) * (height / box.height) - top;
    const r = Math.floor(y / cellH), c = Math.floor(x / cellW);
    return x >= 0 && y >= 0 && r < rows && c < cols ? [r, c] : null;
  };
}

// Point at a cell: describe it in the readout line and the canvas's tooltip.
function onHover(canvas, readout, hit, describe, idle) {
  canvas.onmousemove = (event) => {
    const cell = hit(event);
    const text = cell ? describe(...cell) : idle;
    readout.textContent = text;
    canvas.title = cell ? text : "";
  };
  canvas.onmouseleave = () => { readout.textContent = idle; };
  readout.textContent = idle;
}

const fit = (canvas) => canvas.parentElement.clientWidth;

function drawInput() {
  if (!trace) return;
  const part = document.querySelector('input[name="input-part"]:checked').value;
  const label = document.querySelector('input[name="input-part"]:checked').parentElement.textContent.trim();
  const matrix = trace.embeddings[part];
  // Scale colours to the 99th percentile of |value|, so that a few outliers don't wash out the rest.
  const sorted = matrix.flat().map(Math.abs).sort((a, b) => a - b);
  const scale = sorted[Math.floor(0.99 * (sorted.length - 1))] || 1;
  const canvas = $("input-canvas");
  const hit = heatmap(canvas, matrix, { color: (v) => diverging(v / scale), fit: fit(canvas),
    minCell: 1, maxCell: 4, cellH: 18, rowLabels: trace.tokens });
  canvas.setAttribute("aria-label", `Input matrix, ${label}: ${matrix.length} tokens by ${matrix[0].length} features.`);
  $("input-shape").textContent = `${matrix.length} tokens × ${matrix[0].length} features · blue < 0 < red, ` +
    `full colour at ±${scale.toFixed(3)}`;
  onHover(canvas, $("input-readout"), hit,
    (r, c) => `${label} · ${tokenName(trace.tokens, r)} · feature ${c}: ${fmt(matrix[r][c], 4)}`,
    "Point at a cell to read its value.");
}

function drawAttention() {
  if (!trace) return;
  const layer = trace.layers[Number($("layer").value)];
  const head = $("head").value;
  const heads = layer.attention;  // H x T x T
  const matrix = head === "mean"
    ? heads[0].map((row, i) => row.map((_, j) => heads.reduce((s, h) => s + h[i][j], 0) / heads.length))
    : heads[Number(head)];
  const tokens = trace.tokens;
  const which = `layer ${layer.index}, ${head === "mean" ? "mean of heads" : "head " + head}`;
  const canvas = $("attention-canvas");
  const hit = heatmap(canvas, matrix, { color: sequential, fit: fit(canvas), minCell: 6, maxCell: 36,
    rowLabels: tokens, colLabels: tokens });
  canvas.setAttribute("aria-label", `Attention weights, ${which}: ${tokens.length} by ${tokens.length} tokens. ` +
    "The strongest link of each word is listed below.");
  onHover(canvas, $("attention-readout"), hit,
    (r, c) => `${which}: ${tokenName(tokens, r)} → ${tokenName(tokens, c)}: ${matrix[r][c].toFixed(3)}`,
    "Row: the token that looks; column: the token it looks at (white 0, dark blue 1; each row sums to 1).");
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  $("layer-stats").textContent = `this layer moves tokens by 1 − cos = ${mean(layer.change).toFixed(3)} on average; ` +
    `${(100 * mean(layer.ffn_active)).toFixed(0)}% of FFN units active`;
  // As in docs/transformer.md: leave out [CLS], [SEP] and self-links, where most weight "parks".
  const special = (i) => tokens[i] === "[CLS]" || tokens[i] === "[SEP]";
  const links = matrix.map((row, r) => row.map((v, c) => (special(r) || special(c) || r === c ? -1 : v)));
  $("attention-top").textContent = "Strongest link of each word (leaving out [CLS], [SEP] and itself): " +
    (strongest(links, tokens, tokens, (r, c) => links[r][c] >= 0.01) || "none");
}

// "the → cat 0.41 · cat → the 0.32 · ..." (each row's largest cell), and those cells.
function bestPerRow(matrix) {
  return matrix.map((row, r) => [r, row.indexOf(Math.max(...row))]);
}
function strongest(matrix, rowTokens, colTokens, keep = () => true) {
  return bestPerRow(matrix).filter(([r, c]) => keep(r, c))
    .map(([r, c]) => `${rowTokens[r]} → ${colTokens[c]} ${matrix[r][c].toFixed(2)}`).join(" · ");
}

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const [text, tdClass] of cells) {
    const td = document.createElement("td");
    if (tdClass) td.className = tdClass;
    td.textContent = text;
    tr.appendChild(td);
  }
  return tr;
}

function showTokens() {
  $("tokens").replaceChildren(...trace.tokens.map((token, i) => {
    const li = document.createElement("li");
    li.append(span("tok", token), span("tok-id", String(trace.ids[i])));
    return li;
  }));
}

function showPooling() {
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const first = (v) => v.slice(0, 8).map((x) => fmt(x, 4)).join(" ") + " …";
  $("pooling").tBodies[0].replaceChildren(
    row([[`pooled (mean of the ${trace.tokens.length} final token vectors)`], [trace.pooled_norm.toFixed(4), "n"],
      [first(trace.pooled), "vals"]]),
    row([["normalized: the embedding"], [norm(trace.normalized).toFixed(4), "n"], [first(trace.normalized), "vals"]]));
}

function showParameters() {
  const p = trace.parameters, e = p.embeddings, one = p.layers[0];
  const n = p.layers.length, layersTotal = p.layers.reduce((s, l) => s + l.total, 0);
  const lines = [
    ["word embeddings", e.word_embeddings], ["position embeddings", e.position_embeddings],
    ["token-type embeddings", e.token_type_embeddings], ["embedding LayerNorm", e.LayerNorm],
    ["embeddings", e.total, "total"],
    ["attention: Q, K, V, output (one layer)", one.attention], ["attention LayerNorm (one layer)", one.attention_layernorm],
    ["feed-forward (one layer)", one.ffn], ["feed-forward LayerNorm (one layer)", one.ffn_layernorm],
    [`${n} layers`, layersTotal, "total"],
    ["pooler (unused by mean pooling)", p.pooler],
    ["total", p.total, "total"],
  ];
  $("params").tBodies[0].replaceChildren(...lines.map(([name, count, cls]) =>
    row([[name], [count.toLocaleString("en-US"), "n"], [(100 * count / p.total).toFixed(1) + "%", "n"]], cls)));
}

function fillSelect(select, options) {
  const keep = select.value;
  select.replaceChildren(...options.map(([value, text]) => {
    const opt = document.createElement("option");
    opt.value = value;
    opt.textContent = text;
    return opt;
  }));
  if (options.some(([value]) => value === keep)) select.value = keep;
}

function setHash(key, value) {
  const params = new URLSearchParams(location.hash.slice(1));
  params.set(key, value);
  history.replaceState(null, "", "#" + params.toString());
}

async function explain() {
  const run = ++explainRun;
  const status = $("explain-status");
  const text = $("explain-text").value;
  setStatus(status, "Tracing…");
  try {
    const t0 = performance.now();
    const data = await api("POST", "/explain", { text });
    if (run !== explainRun) return;
    trace = data;
    setHash("explain", text);
    const heads = trace.layers[0].attention.length;
    fillSelect($("layer"), trace.layers.map((l) => [String(l.index), String(l.index)]));
    fillSelect($("head"), [["mean", "mean of heads"], ...Array.from({ length: heads }, (_, h) => [String(h), String(h)])]);
    $("explain-out").hidden = false;  // before drawing: the canvases size themselves to it
    showTokens();
    drawInput();
    drawAttention();
    showPooling();
    showParameters();
    setStatus(status, `${trace.tokens.length} tokens through ${trace.layers.length} layers in ` +
      `${Math.round(performance.now() - t0)} ms` + (trace.truncated ? " (truncated to the model's window)" : ""));
  } catch (err) {
    if (run !== explainRun) return;
    trace = null;
    $("explain-out").hidden = true;
    setStatus(status, err.message, true);
  }
}

function drawAlignment() {
  if (!alignment) return;
  const { tokens_a: a, tokens_b: b, similarity: matrix } = alignment;
  const canvas = $("align-canvas");
  const hit = heatmap(canvas, matrix, { color: sequential, fit: fit(canvas), minCell: 6, maxCell: 36,
    rowLabels: a, colLabels: b, marks: bestPerRow(matrix) });
  canvas.setAttribute("aria-label", `Cosine similarity of final token vectors: ${a.length} by ${b.length} tokens. ` +
    "The best match of each token is listed below.");
  onHover(canvas, $("align-readout"), hit,
    (r, c) => `${tokenName(a, r)} ↔ ${tokenName(b, c)}: cosine ${matrix[r][c].toFixed(3)}`,
    "Rows: tokens of the traced text; columns: tokens of the other (white 0, dark blue 1; outlined: best match).");
  $("align-top").textContent = "Best match: " + strongest(matrix, a, b);
}

async function align() {
  const status = $("align-status");
  const a = $("explain-text").value, b = $("align-text").value;
  setStatus(status, "Aligning…");
  try {
    alignment = await api("POST", "/explain/tokens", { a, b });
    setHash("compare", b);
    $("align-out").hidden = false;
    drawAlignment();
    setStatus(status, `cosine of every final token vector of “${a}” with every one of “${b}”`);
  } catch (err) {
    alignment = null;
    $("align-out").hidden = true;
    setStatus(status, err.message, true);
  }
}

function redraw() {
  drawInput();
  drawAttention();
  drawAlignment();
}

// #explain=TEXT[&compare=OTHER] runs the trace (and the alignment) on load: links can be shared.
function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("explain")) {
    $("explain-text").value = params.get("explain");
    explain();
  }
  if (params.has("compare")) {
    $("align-text").value = params.get("compare");
    align();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const key = $("api-key");
  key.value = localStorage.getItem(KEY) || "";
  key.addEventListener("change", () => { localStorage.setItem(KEY, key.value.trim()); loadCollections(); });
  $("search-form").addEventListener("submit", search);
  $("compare-form").addEventListener("submit", compare);
  $("explain-form").addEventListener("submit", (event) => { event.preventDefault(); explain(); });
  $("align-form").addEventListener("submit", (event) => { event.preventDefault(); align(); });
  $("input-part").addEventListener("change", drawInput);
  $("layer").addEventListener("change", drawAttention);
  $("head").addEventListener("change", drawAttention);
  let resizeTimer;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redraw, 150); });
  window.addEventListener("hashchange", fromHash);
  loadCollections();
  fromHash();
});
