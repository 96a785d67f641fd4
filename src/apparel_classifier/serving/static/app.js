// The web page: send the chosen photo to POST /predict and show the answer.
"use strict";

const $ = (id) => document.getElementById(id);

function percent(p) {
  return `${(100 * p).toFixed(1)} %`;
}

function showModel(model) {
  const train = Object.entries(model.dataset).find(([path]) => path.includes("train_images"));
  const data = train ? `, training data MD5 ${train[1].slice(0, 10)}` : "";
  const version = model.version ? ` ${model.version} (${model.role})` : "";
  $("model").textContent =
    `Answered by ${model.architecture}${version}, weights MD5 ${model.weights_md5.slice(0, 10)}` +
    `${data}, code ${model.code_digest.slice(0, 10)}.`;
}

// The monitoring panel: which models serve, and whether recent photos look like the training data.
async function showMonitoring() {
  try {
    const m = await (await fetch("/monitoring")).json();
    const drift = $("drift");
    drift.className = m.drift ? "alert" : "";
    if (m.drift === null) {
      drift.textContent = `Drift: not tested yet (${m.requests} of the ${m.window} recent photos seen, ` +
        "50 needed).";
    } else {
      const worst = m.tests.reduce((a, b) => (a.p_value < b.p_value ? a : b));
      drift.textContent = (m.drift ? "Drift: recent photos do not look like the training data" :
        "No drift: recent photos look like the training data") +
        ` (${m.requests} photos; lowest p-value ${worst.p_value.toExponential(1)}, ${worst.name}).`;
    }
    $("serving").textContent = "Serving: " + m.models.map((s) =>
      `${s.role} ${s.version} (${(s.age_seconds / 86400).toFixed(1)} days old)`).join(", ") +
      (m.canary_share > 0 ? `, canary ${(100 * m.canary_share).toFixed(0)} %` : "") +
      (m.shadow ? ", shadow on" : "") + ".";
  } catch (err) {
    $("drift").textContent = "Monitoring unavailable.";
  }
}

function showResult(body) {
  // Below the model's threshold the honest answer is "not sure", with the closest class.
  $("category").textContent = body.uncertain ? `Not sure, closest: ${body.category}` : body.category;
  $("confidence").textContent = `${percent(body.confidence)} confident`;
  const top = Object.entries(body.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 3);
  $("top").replaceChildren(...top.map(([name, p]) => {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(p);
    li.append(label, bar, pct);
    return li;
  }));
  $("result").hidden = false;
  showModel(body.model);
  showMonitoring();
}

async function classify(file) {
  $("error").hidden = true;
  $("result").hidden = true;
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  $("drop-hint").textContent = file.name;
  const form = new FormData();
  form.append("file", file);
  try {
    const response = await fetch("/predict", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || `the server answered ${response.status}`);
    showResult(body);
  } catch (err) {
    $("error").textContent = `Could not classify this file: ${err.message}`;
    $("error").hidden = false;
  }
}

$("file").addEventListener("change", (event) => {
  if (event.target.files.length) classify(event.target.files[0]);
});

const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) classify(event.dataTransfer.files[0]);
});

// Say which model answers before the first upload, too.
fetch("/model").then((r) => r.json()).then((card) => showModel({
  architecture: card.model.architecture,
  weights_md5: card.model.weights_md5,
  dataset: card.dataset.processed,
  code_digest: card.code.digest,
})).catch(() => {});

showMonitoring();
