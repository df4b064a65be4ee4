// The map: GET /collections/{name}/map, every chunk a point (coloured by folder or file), the search's own
// point (a star) and its top hits (numbered rings). Hover or tap to read a chunk, click (or tap it again,
// or Enter) to open it; with the canvas focused the arrow keys step through the hits, then the points.
"use strict";

const PALETTE = ["#2457c5", "#c44e1b", "#2a8a3e", "#8c3fb8", "#b8860b", "#0f8a8a", "#c2185b", "#5d6b00",
  "#6d4c41", "#455a64"];
const MapView = { data: null, name: "", order: [], selected: -1, xy: [], query: null };

function mapGroups(points, by) {
  const counts = new Map();
  for (const p of points) counts.set(p[by], (counts.get(p[by]) || 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const colour = new Map(top.slice(0, PALETTE.length - 1).map(([g], i) => [g, PALETTE[i]]));
  return { colour: (p) => colour.get(p[by]) || PALETTE[PALETTE.length - 1], top, named: colour };
}

function drawMap() {
  const m = MapView.data, canvas = $("map-canvas");
  if (!m) return;
  const width = Math.max(200, canvas.parentElement.clientWidth), height = Math.round(Math.min(480, width * 0.7));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr; canvas.height = height * dpr;
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  const hits = m.query ? m.query.hits : [];
  const all = [...m.points, ...hits, ...(m.query ? [m.query] : [])];
  if (!m.points.length) return;
  const xs = all.map((p) => p.x), ys = all.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 18, sx = (width - 2 * pad) / (x1 - x0 || 1), sy = (height - 2 * pad) / (y1 - y0 || 1);
  const at = (p) => [pad + (p.x - x0) * sx, height - pad - (p.y - y0) * sy];
  const by = $("map-colour").value;
  const groups = mapGroups(m.points, by);
  MapView.xy = m.points.map(at);
  m.points.forEach((p, i) => {
    ctx.fillStyle = groups.colour(p);
    ctx.beginPath(); ctx.arc(MapView.xy[i][0], MapView.xy[i][1], 3, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.font = "bold 11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  MapView.hitXY = hits.map(at);
  canvas.dataset.hits = JSON.stringify(MapView.hitXY.map(([x, y]) => [Math.round(x), Math.round(y)]));
  hits.forEach((h, i) => {
    const [x, y] = MapView.hitXY[i];
    ctx.strokeStyle = "#1d232a"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#1d232a"; ctx.fillText(String(h.rank), x + 9, y - 7);
  });
  if (m.query) {
    const [qx, qy] = at(m.query);
    MapView.query = [qx, qy];
    star(ctx, qx, qy);
    canvas.dataset.queryX = qx.toFixed(1);
    canvas.dataset.queryY = qy.toFixed(1);
  } else {
    MapView.query = null;
  }
  const sel = MapView.order[MapView.selected];
  if (sel) {
    const [x, y] = sel.kind === "hit" ? MapView.hitXY[sel.i] : MapView.xy[sel.i];
    ctx.strokeStyle = "#f2b705"; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.arc(x, y, 10, 0, 2 * Math.PI); ctx.stroke();
  }
  $("map-legend").replaceChildren(...groups.top.slice(0, PALETTE.length - 1).map(([g, n]) => el("li", {},
    el("span", { class: "swatch", style: `background:${groups.named.get(g)}` }), `${by === "id" ? shortPath(g) : g} (${n})`)),
  ...(groups.top.length >= PALETTE.length ? [el("li", {}, el("span", { class: "swatch",
    style: `background:${PALETTE[PALETTE.length - 1]}` }), "other")] : []));
}

function star(ctx, x, y) {
  ctx.fillStyle = "#f2b705"; ctx.strokeStyle = "#1d232a"; ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 ? 5 : 12, a = -Math.PI / 2 + (i * Math.PI) / 5;
    ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
  }
  ctx.closePath(); ctx.fill(); ctx.stroke();
}

function mapItem(sel) {
  const m = MapView.data;
  return sel.kind === "hit" ? m.query.hits[sel.i] : m.points[sel.i];
}

function describePoint(p) {
  const where = `${shortPath(p.id)} · chars ${p.start}–${p.end}`;
  const rank = p.rank ? `hit #${p.rank} (${p.score.toFixed(4)}) · ` : "";
  return `${rank}${where}: ${p.preview.replace(/\s+/g, " ").slice(0, 200)}`;
}

// The nearest hit, point or the query within 10 px of the pointer (null: none).
function mapTarget(event) {
  const box = $("map-canvas").getBoundingClientRect();
  const x = event.clientX - box.left, y = event.clientY - box.top;
  const d = (xy) => Math.hypot(xy[0] - x, xy[1] - y);
  let best = null, bestD = 10;
  // Hits before the points under them (a hit is also a point), the query when it is the nearest.
  (MapView.hitXY || []).forEach((xy, i) => { if (d(xy) < bestD) { best = { kind: "hit", i }; bestD = d(xy) - 1; } });
  MapView.xy.forEach((xy, i) => { if (d(xy) < bestD) { best = { kind: "point", i }; bestD = d(xy); } });
  if (MapView.query && d(MapView.query) < bestD) best = { kind: "query" };
  return best;
}

function readTarget(t) {
  const out = $("map-readout");
  if (!t) { out.textContent = MapView.data ? "Point at a dot to read its chunk." : ""; return; }
  if (t.kind === "query") {
    const hits = MapView.data.query.hits;
    out.textContent = `Your query “${MapView.data.query.text}”` +
      (hits.length ? `; its best hit is #1 ${shortPath(hits[0].id)}` : "; no hits");
    return;
  }
  out.textContent = describePoint(mapItem(t));
}

function openPoint(t) {
  if (!t || t.kind === "query") return;
  const p = mapItem(t);
  openText(MapView.name, p.kind, p.id, { start: p.start, end: p.end });
}

async function loadMap(event) {
  if (event) event.preventDefault();
  const name = $("map-collection").value, status = $("map-status");
  if (!name) return setStatus(status, "Create a collection and index a folder first.", true);
  const params = new URLSearchParams();
  const q = $("q").value.trim();
  if (q && !likeId && $("collection").value === name) {  // a "more like this" list has no query to place
    params.set("q", q);
    params.set("k", String(Math.min(100, Number($("k").value) || 10)));
    params.set("mode", $("mode").value);
    if ($("path-glob").value.trim()) params.set("path_glob", $("path-glob").value.trim());
    for (const e of $("ext").value.split(/[\s,]+/).filter(Boolean)) params.append("ext", e.replace(/^\./, ""));
  }
  setStatus(status, "Projecting…");
  try {
    const m = await api("GET", `/collections/${enc(name)}/map?${params}`);
    MapView.data = m; MapView.name = name; MapView.selected = -1;
    $("map-wrap").hidden = m.points.length === 0;
    const hits = m.query ? m.query.hits : [];
    MapView.order = [...hits.map((_, i) => ({ kind: "hit", i })),
      ...m.points.map((_, i) => ({ kind: "point", i })).sort((a, b) => m.points[a.i].x - m.points[b.i].x)];
    drawMap();
    readTarget(null);
    const share = m.explained_variance.map((v) => (100 * v).toFixed(0) + "%").join(" + ");
    setStatus(status, m.points.length
      ? `${plural(m.sampled, "chunk")} of ${m.total.toLocaleString("en-US")} drawn (PCA, axes keep ${share} of the variance)` +
        (m.query ? ` · ★ “${m.query.text}” with its top ${hits.length}` : " · search first to place a query here")
      : "This collection is empty: index a folder first.");
    $("map-hits").replaceChildren(...hits.map((h, i) => el("li", {}, el("button", { type: "button", class: "link",
      text: `${shortPath(h.id)} (${h.score.toFixed(4)})`, onclick: () => openPoint({ kind: "hit", i }) }))));
  } catch (err) {
    setStatus(status, err.message, true);
  }
}

function initMap() {
  followCollections($("map-collection"));
  $("map-form").addEventListener("submit", loadMap);
  $("map-colour").addEventListener("change", drawMap);
  const canvas = $("map-canvas");
  let tapped = null;
  canvas.addEventListener("pointermove", (event) => { if (MapView.data) readTarget(mapTarget(event)); });
  canvas.addEventListener("pointerdown", (event) => {
    if (!MapView.data) return;
    const t = mapTarget(event);
    readTarget(t);
    // A mouse click opens at once; a finger's first tap reads (there is no hover), the second opens.
    const same = t && tapped && t.kind === tapped.kind && t.i === tapped.i;
    if (event.pointerType === "mouse" || same) openPoint(t);
    tapped = t;
  });
  canvas.addEventListener("keydown", (event) => {
    if (!MapView.data || !MapView.order.length) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (step) {
      event.preventDefault();
      const n = MapView.order.length;
      MapView.selected = MapView.selected < 0 ? (step > 0 ? 0 : n - 1) : (MapView.selected + step + n) % n;
      drawMap();
      readTarget(MapView.order[MapView.selected]);
    } else if (event.key === "Enter" && MapView.selected >= 0) {
      event.preventDefault();
      openPoint(MapView.order[MapView.selected]);
    }
  });
}
