// The semsearch page, shared helpers: API calls, status lines, DOM builders, the collection list.
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

// A 401 is about the key box on this page, not about HTTP headers (which the server's message names,
// for API clients): the page sends the box's key as the header itself.
function keyMessage() {
  const box = $("api-key");
  box.setAttribute("aria-invalid", "true");
  return box.value.trim()
    ? "The server refused the key in the “API key” box at the top of the page: check it, then press Enter there."
    : "This server needs an API key: type it in the “API key” box at the top of the page, then press Enter there.";
}

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) throw new Error(keyMessage());
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  $("api-key").removeAttribute("aria-invalid");
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


function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

const enc = encodeURIComponent;
const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
function bytes(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
// A file's path, shortened to what a person reads first: the last two parts.
function shortPath(p) {
  const parts = p.split("/").filter(Boolean);
  return parts.length > 2 ? "…/" + parts.slice(-2).join("/") : p;
}

// A file's path below the folder it was indexed from (``root``, which hits and listed files carry);
// the path as it is when it is not below it (or for a document id).
function relPath(path, root) {
  if (!root) return path;
  const dir = root.endsWith("/") ? root : root + "/";
  return path.startsWith(dir) && path.length > dir.length ? path.slice(dir.length) : path;
}

// Text that may wrap after a path or name separator (/ _ - .) before it has to break inside a word:
// a <wbr> after each, so the browser's last resort (overflow-wrap) is rarely needed.
function breakable(text) {
  const frag = document.createDocumentFragment();
  text.split(/(?<=[\/_.-])/).forEach((part, i) => {
    if (i) frag.appendChild(document.createElement("wbr"));
    frag.appendChild(document.createTextNode(part));
  });
  return frag;
}

// The collection list, fetched once per change; every view's collection <select> follows it.
const Collections = {
  list: [],
  listeners: [],
  async refresh() {
    this.list = (await api("GET", "/collections")).collections;
    for (const fn of this.listeners) fn(this.list);
    return this.list;
  },
  onChange(fn) { this.listeners.push(fn); },
};

// Keep a <select> in step with the collections, keeping its choice when it still exists. With a
// ``placeholder``, the list starts on it (value "") instead of on the first collection.
function followCollections(select, preferred, placeholder) {
  Collections.onChange((list) => {
    const keep = select.value || (preferred && preferred());
    const first = placeholder ? [["", placeholder]] : [];
    fillSelect(select, [...first, ...list.map((c) => [c.name, `${c.name} (${plural(c.chunks, "chunk")})`])]);
    if (keep && list.some((c) => c.name === keep)) select.value = keep;
    else if (placeholder) select.value = "";
  });
}
