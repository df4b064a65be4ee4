// The semsearch page: search a collection and compare two texts.
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

document.addEventListener("DOMContentLoaded", () => {
  const key = $("api-key");
  key.value = localStorage.getItem(KEY) || "";
  key.addEventListener("change", () => { localStorage.setItem(KEY, key.value.trim()); loadCollections(); });
  $("search-form").addEventListener("submit", search);
  $("compare-form").addEventListener("submit", compare);
  loadCollections();
});
