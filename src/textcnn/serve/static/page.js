// The page of `textcnn serve`: POST /predict and /explain for one text, GET /report for the metrics.
"use strict";
const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await response.json().catch(() => ({detail: response.statusText}));
  if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
  return data;
}

function bars(predictions) {
  const box = $("bars");
  box.replaceChildren();
  for (const {label, probability} of predictions) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = label;
    row.dataset.probability = probability;
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    row.querySelector(".name").textContent = label;
    row.querySelector(".fill").style.width = (100 * probability).toFixed(1) + "%";
    row.querySelector(".value").textContent = probability.toFixed(3);
    box.append(row);
  }
}

function highlight(value, explanation, explained) {
  // Each token's score colours the characters it came from; tokens sharing characters add up.
  // The server counts characters as code points: slice an array of them, not UTF-16 units.
  const chars = Array.from(value);
  const text = {length: chars.length, slice: (start, end) => chars.slice(start, end).join("")};
  const perSpan = new Map();
  explanation.token_chars.forEach(([start, end], i) => {
    if (end > start) perSpan.set(start + ":" + end, (perSpan.get(start + ":" + end) || 0) + explained.token_scores[i]);
  });
  const spans = [...perSpan.entries()].map(([key, score]) => [...key.split(":").map(Number), score]).sort((a, b) => a[0] - b[0]);
  const scale = Math.max(1e-9, ...spans.map((s) => Math.abs(s[2])));
  const out = $("highlighted");
  out.replaceChildren();
  let cursor = 0;
  for (const [start, end, score] of spans) {
    if (start < cursor) continue;
    if (start > cursor) out.append(document.createTextNode(text.slice(cursor, start)));
    const span = document.createElement("span");
    span.className = "tok";
    span.textContent = text.slice(start, end);
    span.dataset.score = score;
    const alpha = (0.75 * Math.min(1, Math.abs(score) / scale)).toFixed(3);
    span.style.background = score >= 0 ? `rgba(22,163,74,${alpha})` : `rgba(220,38,38,${alpha})`;
    const ngrams = explained.items.filter((item) => item.chars[0] <= start && end <= item.chars[1]).slice(0, 3);
    span.title = `${score >= 0 ? "+" : ""}${score.toFixed(4)}` + ngrams.map((item) => `\n${item.ngram} (${item.source}) ${item.contribution.toFixed(3)}`).join("");
    out.append(span);
    cursor = end;
  }
  if (cursor < text.length) out.append(document.createTextNode(text.slice(cursor)));
}

function contributions(explained) {
  const body = $("contributions").querySelector("tbody");
  body.replaceChildren();
  for (const item of explained.items.slice(0, 10)) {
    const row = body.insertRow();
    row.className = "item";
    row.insertCell().textContent = (item.contribution >= 0 ? "+" : "") + item.contribution.toFixed(3);
    row.cells[0].className = "num";
    row.insertCell().textContent = item.source;
    row.insertCell().textContent = item.ngram;
    row.insertCell().textContent = item.width;
  }
  const shown = explained.items.slice(0, 10).reduce((sum, item) => sum + item.contribution, 0);
  const rest = explained.rest + explained.items.slice(10).reduce((sum, item) => sum + item.contribution, 0);
  $("identity").textContent = `logit ${explained.logit.toFixed(3)} = bias ${explained.bias.toFixed(3)} + these ${shown.toFixed(3)} + the rest ${rest.toFixed(3)}`;
}

async function classify(event) {
  event.preventDefault();
  const text = $("text").value;
  $("error").hidden = true;
  try {
    const [predicted, explained] = await Promise.all([
      post("predict", {texts: [text], top_k: window.numLabels || 1}),
      post("explain", {texts: [text]}),
    ]);
    const row = predicted.predictions[0];
    const labels = row.labels || [row.label];
    $("label").textContent = labels.join(", ");
    bars(row.top_k || labels.map((label, i) => ({label, probability: (row.probabilities || [row.probability])[i]})));
    const explanation = explained.explanations ? explained.explanations[0] : explained[0];
    const first = explanation.explained[0];
    $("explained-label").textContent = first.label;
    highlight(text, explanation, first);
    contributions(first);
    $("result").hidden = false;
  } catch (error) {
    $("error").textContent = "error: " + error.message;
    $("error").hidden = false;
  }
}

function show(view) {
  $("view-try").hidden = view !== "try";
  $("view-metrics").hidden = view !== "metrics";
  $("tab-try").classList.toggle("active", view === "try");
  $("tab-metrics").classList.toggle("active", view === "metrics");
  if (view === "metrics" && !$("report").dataset.loaded) {
    fetch("report").then((response) => response.text()).then((html) => {
      $("report").innerHTML = html;
      $("report").dataset.loaded = "1";
    });
  }
}

$("form").addEventListener("submit", classify);
$("tab-try").addEventListener("click", () => show("try"));
$("tab-metrics").addEventListener("click", () => show("metrics"));
fetch("metadata").then((response) => response.json()).then((meta) => {
  window.numLabels = (meta.labels || []).length;
  $("model-name").textContent = meta.name || "";
}).catch(() => {});
