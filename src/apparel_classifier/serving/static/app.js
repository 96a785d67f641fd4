// The web page: send the chosen photo to POST /predict and show the answer.
"use strict";

const $ = (id) => document.getElementById(id);

function percent(p) {
  return `${(100 * p).toFixed(1)} %`;
}

function showModel(model) {
  const train = Object.entries(model.dataset).find(([path]) => path.includes("train_images"));
  const data = train ? `, training data MD5 ${train[1].slice(0, 10)}` : "";
  $("model").textContent =
    `Answered by ${model.architecture}, weights MD5 ${model.weights_md5.slice(0, 10)}` +
    `${data}, code ${model.code_digest.slice(0, 10)}.`;
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
