// Inside the model: POST /explain and /explain/tokens, drawn on canvases. Each matrix reads out the cell
// under the pointer (mouse, pen or touch) or under a keyboard cursor (focus the matrix, arrow keys).
"use strict";


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
  const hit = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (width / box.width) - left;
    const y = (event.clientY - box.top) * (height / box.height) - top;
    const r = Math.floor(y / cellH), c = Math.floor(x / cellW);
    return x >= 0 && y >= 0 && r < rows && c < cols ? [r, c] : null;
  };
  hit.rows = rows;
  hit.cols = cols;
  return hit;
}

// Read a cell: the pointer (mouse, pen, touch: pointer events cover all three) or, once the canvas has
// focus, a cursor moved with the arrow keys (Home/End: first/last column). The readout line says it.
function onHover(canvas, readout, hit, describe, idle) {
  let cursor = null;
  const show = (cell) => {
    const text = cell ? describe(...cell) : idle;
    readout.textContent = text;
    canvas.title = cell ? text : "";
  };
  canvas.onpointermove = (event) => show(hit(event));
  canvas.onpointerdown = (event) => { cursor = hit(event); show(cursor); };
  canvas.onpointerleave = (event) => { if (event.pointerType === "mouse") show(cursor); };
  canvas.onkeydown = (event) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    let [r, c] = cursor || [0, 0];
    if (event.key in moves && cursor) { r += moves[event.key][0]; c += moves[event.key][1]; }
    else if (event.key === "Home") c = 0;
    else if (event.key === "End") c = hit.cols - 1;
    else if (!(event.key in moves)) return;
    event.preventDefault();
    cursor = [Math.min(hit.rows - 1, Math.max(0, r)), Math.min(hit.cols - 1, Math.max(0, c))];
    show(cursor);
  };
  canvas.onblur = () => { cursor = null; };
  show(null);
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
    "Point at a cell, or focus the matrix and use the arrow keys, to read a value.");
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

