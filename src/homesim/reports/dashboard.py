"""The service's dashboard: one self-contained page (inline CSS and JS, no external resources).

It lists jobs (`GET /v1/jobs`, polled) and follows every running job's server-sent events
(`GET /v1/jobs/{id}/events`) to move its progress bar live; it draws the report's key plots
(`GET /v1/dashboard/plots`: F1 per stage, learning curves, A/B metrics — `reports/live.py`), polled and
asked again whenever a followed job ends, redrawn only when their version changes; it lists model
versions and their champions (`GET /v1/models`) and links to the reports (`GET /v1/reports`). Reports and
plots are asked for only when the service's `/openapi.json` lists them, so an API without them causes no
failed request. The script reads every response
defensively (a list, or an object holding one under `items`/`jobs`/`models`/`reports`; progress as a
fraction, a percentage or done/total), builds the DOM with `textContent` only (nothing from the server is
parsed as HTML), and reports failures on the page rather than in the console.
"""

from __future__ import annotations

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>homesim dashboard</title>
<style>
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2f6fb2; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; }
header { background: #102a43; color: #fff; padding: 14px 28px; display: flex; gap: 18px;
  align-items: baseline; }
header h1 { margin: 0; font-size: 20px; }
#status { color: #bcccdc; font-size: 13px; }
main { padding: 6px 28px 30px; max-width: 1440px; }
h2 { margin: 22px 0 8px; font-size: 17px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: middle;
  overflow-wrap: anywhere; }
th { background: #f0f4f8; font-weight: 600; }
.bar { position: relative; width: 160px; flex: none; height: 16px; background: #e4e7eb; border-radius: 8px;
  overflow: hidden; }
.fill { height: 100%; width: 0; background: var(--accent); transition: width .3s; }
.fill.failed { background: #d64545; } .fill.succeeded { background: #3ebd93; }
.pct { margin-left: 8px; font-variant-numeric: tabular-nums; }
.cell-progress { display: flex; align-items: center; }
.badge { padding: 1px 7px; border-radius: 8px; font-size: 12px; background: #d9e2ec; }
.badge.running { background: #bae3ff; } .badge.succeeded, .badge.champion { background: #c6f7e2; }
.badge.failed, .badge.rejected { background: #ffd8d8; } .badge.queued, .badge.pending { background: #fff3c4; }
tr.champion td { background: #effcf6; }
.empty { color: var(--muted); font-style: italic; }
ul#reports { padding-left: 18px; } a { color: var(--accent); }
#plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 14px; }
#plots figure { margin: 0; min-width: 0; }
#plots img { max-width: 100%; height: auto; border: 1px solid var(--line); display: block; }
#plots figcaption { color: var(--muted); font-size: 12px; }
#plots h3 { margin: 4px 0; font-size: 14px; }
</style>
</head>
<body>
<header><h1>homesim dashboard</h1><span id="status">loading…</span></header>
<main>
<section id="jobs-section">
  <h2>Jobs</h2>
  <table id="jobs"><thead><tr><th>job</th><th>kind</th><th>status</th><th>progress</th><th>message</th>
  <th>created</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="jobs-empty">no jobs yet</p>
</section>
<section id="plots-section">
  <h2>Plots</h2>
  <div id="plots"></div>
  <p class="empty" id="plots-empty">no run or cycle report yet</p>
</section>
<section id="models-section">
  <h2>Models</h2>
  <table id="models"><thead><tr><th>model type</th><th>version</th><th>status</th><th>metrics</th>
  <th>created</th></tr></thead><tbody></tbody></table>
  <p class="empty" id="models-empty">no registered models yet</p>
</section>
<section id="reports-section">
  <h2>Reports</h2>
  <ul id="reports"></ul>
  <p class="empty" id="reports-empty">no reports yet</p>
</section>
</main>
<script>
"use strict";
const TERMINAL = new Set(["succeeded", "success", "done", "completed", "complete", "failed", "error",
  "cancelled", "canceled"]);
const jobs = new Map();     // job id -> merged job object
const streams = new Map();  // job id -> EventSource
const problems = new Map(); // what -> message shown in the header
let plotsVersion = null;    // the version of the plots drawn (the service's digest of their inputs)
let paths = null;           // the API's paths, from its OpenAPI document (asked once)

function asList(value, keys) {
  if (Array.isArray(value)) return value;
  if (value && typeof value === "object") {
    for (const key of keys) if (Array.isArray(value[key])) return value[key];
  }
  return [];
}
function text(value) { return value === null || value === undefined ? "" : String(value); }
function el(tag, content, cls) {
  const node = document.createElement(tag);
  if (content !== undefined) node.textContent = text(content);
  if (cls) node.className = cls;
  return node;
}
function badge(value) {
  const state = text(value) || "unknown";
  return el("span", state, "badge " + state.toLowerCase().replace(/[^a-z0-9]+/g, "-"));
}
function showStatus() {
  const node = document.getElementById("status");
  node.textContent = problems.size ? Array.from(problems.values()).join(" · ")
    : "updated " + new Date().toLocaleTimeString();
}
async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}
function jobId(job) { return text(job.id ?? job.job_id ?? job.uid); }
function jobStatus(job) { return text(job.status ?? job.state).toLowerCase(); }
function fraction(job) {
  const p = job.progress;
  const ratio = (done, total) => (typeof done === "number" && typeof total === "number" && total > 0)
    ? done / total : null;
  let f = null;
  if (typeof p === "number") f = p > 1 ? p / 100 : p;
  else if (p && typeof p === "object") {
    f = typeof p.fraction === "number" ? p.fraction
      : typeof p.percent === "number" ? p.percent / 100 : ratio(p.done, p.total);
  }
  if (f === null) f = typeof job.fraction === "number" ? job.fraction : ratio(job.done, job.total);
  if (f === null && ["succeeded", "success", "done", "completed", "complete"].includes(jobStatus(job))) f = 1;
  return f === null ? null : Math.max(0, Math.min(1, f));
}
function message(job) {
  const p = job.progress;
  const m = job.message ?? job.error ?? (p && typeof p === "object" ? p.message ?? p.stage : undefined);
  if (m !== undefined && m !== null && typeof m !== "object") return text(m);
  const detail = p && typeof p === "object" ? p.detail : undefined;
  if (detail && typeof detail === "object") {
    const parts = Object.entries(detail).filter(([, v]) => v !== null && typeof v !== "object").slice(0, 4);
    if (parts.length) return parts.map(([k, v]) => k + " " + v).join(", ");
  }
  const done = p && typeof p === "object" ? p.done : job.done;
  const total = p && typeof p === "object" ? p.total : job.total;
  return typeof done === "number" && typeof total === "number" ? done + " / " + total : "";
}
function jobRow(job) {
  const row = el("tr");
  row.dataset.jobId = jobId(job);
  row.append(el("td", jobId(job)), el("td", job.kind ?? job.type ?? job.name));
  const status = el("td"); status.append(badge(jobStatus(job))); row.append(status);
  const cell = el("td"); const wrap = el("div", undefined, "cell-progress");
  const bar = el("div", undefined, "bar");
  const fill = el("div", undefined, "fill " + jobStatus(job));
  const f = fraction(job);
  fill.style.width = f === null ? "0%" : (100 * f).toFixed(1) + "%";
  bar.append(fill);
  wrap.append(bar, el("span", f === null ? "—" : Math.round(100 * f) + "%", "pct"));
  cell.append(wrap); row.append(cell);
  row.append(el("td", message(job)), el("td", job.created ?? job.created_at ?? job.submitted ?? ""));
  return row;
}
function renderJobs() {
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...Array.from(jobs.values()).map(jobRow));
  document.getElementById("jobs-empty").hidden = jobs.size > 0;
}
function mergeJob(id, update) {
  const current = jobs.get(id) || { id: id };
  const inner = update && typeof update === "object" && update.job && typeof update.job === "object"
    ? update.job : update;
  if (inner && typeof inner === "object") Object.assign(current, inner);
  else if (typeof inner === "number") current.progress = inner;
  jobs.set(id, current);
  return current;
}
function subscribe(id) {
  if (streams.has(id) || typeof EventSource === "undefined") return;
  const source = new EventSource("/v1/jobs/" + encodeURIComponent(id) + "/events");
  streams.set(id, source);
  const close = () => { source.close(); streams.delete(id); refreshPlots(); };
  const onEvent = (event) => {
    let update;
    try { update = JSON.parse(event.data); } catch (_) { update = { message: event.data }; }
    // a `progress` event may carry the progress itself ({done, total, …}) rather than a job
    if (event.type === "progress" && update && typeof update === "object" && !("progress" in update)
        && !("status" in update)) update = { progress: update };
    if (event.type !== "message" && update && typeof update === "object" && !update.status && !update.state
        && TERMINAL.has(event.type)) update.status = event.type;
    const job = mergeJob(id, update);
    renderJobs();
    if (TERMINAL.has(jobStatus(job))) close();
  };
  source.onmessage = onEvent;
  for (const type of ["progress", "status", "update", "job", "done", "completed", "succeeded", "failed"]) {
    source.addEventListener(type, onEvent);
  }
  // The server ends the stream when the job ends; never let the browser reconnect on its own.
  source.onerror = () => { close(); };
}
async function refreshJobs() {
  try {
    const list = asList(await getJSON("/v1/jobs"), ["items", "jobs", "data"]);
    const seen = new Set();
    for (const job of list) {
      if (!job || typeof job !== "object") continue;
      const id = jobId(job);
      seen.add(id);
      // a job followed live keeps its streamed state: a poll may be older than the last event
      if (!streams.has(id)) mergeJob(id, job);
    }
    for (const id of Array.from(jobs.keys())) if (!seen.has(id) && !streams.has(id)) jobs.delete(id);
    renderJobs();
    for (const [id, job] of jobs) if (!TERMINAL.has(jobStatus(job))) subscribe(id);
    problems.delete("jobs");
  } catch (error) { problems.set("jobs", "jobs: " + error.message); }
  showStatus();
}
function aliases(model) {
  const a = model.aliases;
  if (Array.isArray(a)) return a.map(text);
  if (a && typeof a === "object") return Object.keys(a).filter((k) => a[k]);
  return typeof a === "string" && a ? [a] : [];
}
function metricsText(metrics) {
  if (!metrics || typeof metrics !== "object") return "";
  return Object.entries(metrics).filter(([, v]) => typeof v === "number").slice(0, 5)
    .map(([k, v]) => k + " " + (Number.isInteger(v) ? v : v.toFixed(3))).join(", ");
}
async function refreshModels() {
  try {
    const list = asList(await getJSON("/v1/models"), ["items", "models", "data"])
      .filter((m) => m && typeof m === "object");
    const body = document.querySelector("#models tbody");
    const rows = list.map((model) => {
      const labels = aliases(model);
      const status = text(model.status);
      if (status && !labels.includes(status)) labels.unshift(status);
      const row = el("tr", undefined, labels.includes("champion") ? "champion" : "");
      const badges = el("td");
      for (const label of labels) { badges.append(badge(label), document.createTextNode(" ")); }
      row.append(el("td", model.model_type ?? model.type ?? model.name),
        el("td", model.version ?? model.number), badges, el("td", metricsText(model.metrics)),
        el("td", model.created ?? model.created_at ?? ""));
      return row;
    });
    body.replaceChildren(...rows);
    document.getElementById("models-empty").hidden = rows.length > 0;
    problems.delete("models");
  } catch (error) { problems.set("models", "models: " + error.message); }
  showStatus();
}
function reportHref(item) {
  if (item && typeof item === "object" && (item.url || item.href)) return text(item.url || item.href);
  const name = typeof item === "string" ? item : text(item && (item.name ?? item.path));
  return "/reports/" + name.split("/").map(encodeURIComponent).join("/");
}
async function serves(path) {
  // Report lists and plots are optional in an API: ask its OpenAPI document rather than risk a failed
  // request (a console error).
  if (paths === null) {
    try {
      const spec = await getJSON("/openapi.json");
      paths = spec && typeof spec.paths === "object" && spec.paths ? spec.paths : {};
    } catch (_) { paths = {}; }
  }
  return Boolean(paths[path] && paths[path].get);
}
async function refreshReports() {
  if (!(await serves("/v1/reports"))) {
    document.getElementById("reports-empty").textContent = "this service does not list reports";
    return;
  }
  try {
    const list = asList(await getJSON("/v1/reports"), ["items", "reports", "data"]);
    const items = list.map((item) => {
      const li = el("li");
      const name = typeof item === "string" ? item : text(item && (item.name ?? item.path ?? item.url));
      const link = el("a", name); link.href = reportHref(item);
      li.append(link); return li;
    });
    document.getElementById("reports").replaceChildren(...items);
    document.getElementById("reports-empty").hidden = items.length > 0;
    problems.delete("reports");
  } catch (error) { problems.set("reports", "reports: " + error.message); }
  showStatus();
}
function plotFigure(plot) {
  const figure = el("figure");
  figure.dataset.key = text(plot.key);
  const img = el("img");
  img.alt = text(plot.title);
  // only our own PNG data URIs are drawn
  if (typeof plot.src === "string" && plot.src.startsWith("data:image/png;base64,")) img.src = plot.src;
  figure.append(el("h3", plot.title), img, el("figcaption", plot.caption));
  return figure;
}
async function refreshPlots() {
  if (!(await serves("/v1/dashboard/plots"))) {
    document.getElementById("plots-empty").textContent = "this service does not draw plots";
    return;
  }
  try {
    const answer = await getJSON("/v1/dashboard/plots");
    if (answer && answer.version !== plotsVersion) {  // redraw only when a job wrote new inputs
      const list = asList(answer, ["plots"]).filter((p) => p && typeof p === "object");
      document.getElementById("plots").replaceChildren(...list.map(plotFigure));
      document.getElementById("plots-empty").hidden = list.length > 0;
      plotsVersion = answer.version;
    }
    problems.delete("plots");
  } catch (error) { problems.set("plots", "plots: " + error.message); }
  showStatus();
}
refreshJobs(); refreshPlots(); refreshModels(); refreshReports();
setInterval(refreshJobs, 5000);
setInterval(refreshPlots, 10000);
setInterval(refreshModels, 15000);
setInterval(refreshReports, 30000);
</script>
</body>
</html>
"""


def dashboard_html() -> str:
    """The dashboard page, served by the API at `GET /dashboard`."""
    return _PAGE
