// The semsearch page: start-up, and the compare view. The other views live in manage.js (collections,
// indexing, documents), search.js (search, full text), map.js (the map) and explain.js (inside the model).
"use strict";

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

async function loadCollections() {
  try {
    await Collections.refresh();
    setStatus($("collections-status"), "");
  } catch (err) {
    setStatus($("collections-status"), "Could not list collections: " + err.message, true);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const key = $("api-key");
  key.value = localStorage.getItem(KEY) || "";
  key.addEventListener("change", () => { localStorage.setItem(KEY, key.value.trim()); loadCollections(); });
  initManage();
  initSearch();
  initMap();
  $("compare-form").addEventListener("submit", compare);
  $("explain-form").addEventListener("submit", (event) => { event.preventDefault(); explain(); });
  $("align-form").addEventListener("submit", (event) => { event.preventDefault(); align(); });
  $("input-part").addEventListener("change", drawInput);
  $("layer").addEventListener("change", drawAttention);
  $("head").addEventListener("change", drawAttention);
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { redraw(); drawMap(); }, 150);
  });
  window.addEventListener("hashchange", fromHash);
  await loadCollections();
  if (!searchFromUrl() && !location.hash) $("q").focus({ preventScroll: true });
  fromHash();
});
