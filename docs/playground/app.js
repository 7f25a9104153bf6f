// The playground page: its buttons, the loading progress, the drawings. Python runs in worker.js.

const $ = (id) => document.getElementById(id);
const STEPS_PER_FRAME = 5; // training steps between two drawings of the boundary
const SLOW_RUN_MS = 3000; // after this long, offer to stop and restart Python

// --- the worker and its requests -----------------------------------------------------------------------------

let worker = null;
let nextId = 0;
const pending = new Map(); // id -> {resolve, reject}
let busySince = null;

function startWorker() {
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.type === "progress") return showProgress(data);
    if (data.type === "ready") return onReady(data);
    if (data.type === "failed") return onFailed(data.error);
    const waiting = pending.get(data.id);
    pending.delete(data.id);
    if (pending.size === 0) busySince = null;
    if (data.error !== undefined) waiting.reject(new Error(data.error));
    else waiting.resolve(data.result);
  };
  worker.onerror = (event) => onFailed(event.message || "the worker stopped");
}

function request(op, ...args) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    busySince = busySince ?? performance.now();
    worker.postMessage({ id, op, args });
  });
}

// A run that takes long (a loop in the cell) cannot be interrupted inside Python: the worker is replaced.
setInterval(() => {
  $("restart").hidden = !(busySince !== null && performance.now() - busySince > SLOW_RUN_MS);
}, 500);

$("restart").addEventListener("click", () => {
  worker.terminate();
  for (const { reject } of pending.values()) reject(new Error("stopped: Python was restarted"));
  pending.clear();
  busySince = null;
  training.playing = false;
  setEnabled(false);
  document.body.dataset.ready = "false";
  $("loading").className = "";
  startWorker();
});

// --- loading -------------------------------------------------------------------------------------------------

const loadStarted = performance.now();

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

function showProgress({ loaded, total, stage }) {
  $("load-progress").max = total;
  $("load-progress").value = loaded;
  $("load-status").textContent = `Loading ${stage}: ${megabytes(loaded)} of ${megabytes(total)} MB`;
}

async function onReady({ seconds, stages, versions }) {
  document.body.dataset.stages = JSON.stringify(stages); // for measure.py
  const shown = ((performance.now() - loadStarted) / 1000).toFixed(1);
  $("load-progress").value = $("load-progress").max;
  $("load-status").textContent =
    `Ready: Python ${versions.python} (Pyodide ${versions.pyodide}) with the engine, loaded in ${shown} s` +
    ` (Python itself ${seconds.toFixed(1)} s).`;
  $("loading").className = "ready";
  setEnabled(true);
  document.body.dataset.ready = "true";
  await Promise.all([runExpression(), resetTraining()]);
}

function onFailed(error) {
  $("loading").className = "failed";
  $("load-status").textContent = `Python could not start: ${error}`;
}

function setEnabled(on) {
  for (const id of ["expression-run", "cell-run", "train-play", "train-step", "train-reset"]) $(id).disabled = !on;
}

// --- 1. an expression ----------------------------------------------------------------------------------------

function showError(id, message) {
  $(id).textContent = message || "";
  $(id).hidden = !message;
}

function showPage(id, page) {
  $(id).hidden = !page;
  if (page) $(id).srcdoc = page;
  else $(id).removeAttribute("srcdoc");
}

async function runExpression() {
  const text = $("expression-text").value;
  const inputs = $("expression-inputs").value;
  const fragment = new URLSearchParams({ expr: text, at: inputs }).toString();
  history.replaceState(null, "", `#${fragment}`);
  $("expression").dataset.state = "running";
  let result;
  try {
    result = await request("expression", text, inputs);
  } catch (error) {
    result = { error: error.message };
  }
  showError("expression-error", result.error);
  const lines = result.error ? [] : result.lines;
  const explained = lines.findIndex((line) => line.startsWith("grad of "));
  $("expression-output").textContent = (explained < 0 ? lines : lines.slice(0, explained)).join("\n");
  $("expression-explain").textContent = explained < 0 ? "" : lines.slice(explained).join("\n");
  $("expression-explained").hidden = explained < 0;
  showPage("expression-page", result.error ? null : result.page);
  $("expression").dataset.state = result.error ? "error" : "done";
}

function readFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("expr")) $("expression-text").value = fragment.get("expr");
  if (fragment.has("at")) $("expression-inputs").value = fragment.get("at");
}

$("expression-form").addEventListener("submit", (event) => {
  event.preventDefault();
  runExpression();
});
window.addEventListener("hashchange", () => {
  readFragment();
  if (document.body.dataset.ready === "true") runExpression();
});

// --- 2. a cell -----------------------------------------------------------------------------------------------

$("cell-run").addEventListener("click", async () => {
  $("cell").dataset.state = "running";
  $("cell-run").disabled = true;
  let result;
  try {
    result = await request("cell", $("cell-code").value);
  } catch (error) {
    result = { output: "", error: error.message, page: null };
  }
  $("cell-run").disabled = document.body.dataset.ready !== "true"; // false while Python restarts
  $("cell-output").textContent = result.output;
  showError("cell-error", result.error);
  showPage("cell-page", result.page);
  $("cell").dataset.state = result.error ? "error" : "done";
});

// --- 3. training ---------------------------------------------------------------------------------------------

const training = { playing: false, running: false, batchLosses: [], losses: [] }; // losses: [step, loss on all]

async function resetTraining() {
  training.playing = false;
  $("train-play").textContent = "Play";
  $("train-play").setAttribute("aria-pressed", "false");
  training.batchLosses = [];
  training.losses = [];
  await trainRequest("moonsReset");
}

async function trainRequest(op, ...args) {
  training.running = true;
  $("train").dataset.state = "running";
  try {
    const state = await request(op, ...args);
    training.batchLosses.push(...(state.batch_losses || []));
    training.losses.push([state.step, state.loss]);
    drawBoundary(state);
    drawLosses();
    $("train-status").textContent =
      `step ${state.step}: loss ${state.loss.toFixed(4)}, accuracy ${(100 * state.accuracy).toFixed(1)}%`;
    $("train").dataset.step = state.step;
    $("train").dataset.loss = state.loss;
    $("train").dataset.batches = training.batchLosses.length;
    showError("train-error", null);
    $("train").dataset.state = "done";
  } catch (error) {
    training.playing = false;
    showError("train-error", error.message);
    $("train").dataset.state = "error";
  } finally {
    training.running = false;
  }
}

async function play() {
  while (training.playing) {
    await trainRequest("moonsStep", STEPS_PER_FRAME);
    await new Promise((done) => setTimeout(done, 16)); // let the page draw between chunks
  }
  $("train-play").textContent = "Play";
  $("train-play").setAttribute("aria-pressed", "false");
}

$("train-play").addEventListener("click", () => {
  training.playing = !training.playing;
  $("train-play").textContent = training.playing ? "Pause" : "Play";
  $("train-play").setAttribute("aria-pressed", String(training.playing));
  if (training.playing && !training.running) play();
});
$("train-step").addEventListener("click", () => {
  if (!training.running) trainRequest("moonsStep", 1);
});
$("train-reset").addEventListener("click", async () => {
  training.playing = false;
  while (training.running) await new Promise((done) => setTimeout(done, 20));
  resetTraining();
});

// Blue where the network says label 0, orange where it says 1, white at the boundary.
function shade(logit) {
  const p = 1 / (1 + Math.exp(-logit));
  const [r0, g0, b0] = [70, 120, 200];
  const [r1, g1, b1] = [235, 140, 50];
  const t = Math.abs(p - 0.5) * 2;
  const [r, g, b] = p < 0.5 ? [r0, g0, b0] : [r1, g1, b1];
  const mix = (c) => Math.round(255 + (c - 255) * t * 0.55);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function drawBoundary({ grid, size, box, points, labels }) {
  const canvas = $("boundary");
  const ctx = canvas.getContext("2d");
  const cell = canvas.width / size;
  grid.forEach((logit, k) => {
    ctx.fillStyle = shade(logit);
    ctx.fillRect((k % size) * cell, Math.floor(k / size) * cell, cell + 0.5, cell + 0.5);
  });
  const [x0, x1, y0, y1] = box;
  points.forEach(([x, y], k) => {
    ctx.beginPath();
    ctx.arc(((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = labels[k] ? "#d9600a" : "#1f4fa0";
    ctx.fill();
    ctx.strokeStyle = "white";
    ctx.stroke();
  });
}

function drawLosses() {
  const canvas = $("loss-curve");
  const ctx = canvas.getContext("2d");
  const [w, h, pad] = [canvas.width, canvas.height, 30];
  ctx.clearRect(0, 0, w, h);
  const steps = Math.max(10, training.batchLosses.length);
  const top = Math.max(0.8, ...training.batchLosses, ...training.losses.map(([, loss]) => loss));
  const x = (step) => pad + (step / steps) * (w - pad - 8);
  const y = (loss) => h - pad - (loss / top) * (h - pad - 8);
  ctx.strokeStyle = "#999";
  ctx.beginPath();
  ctx.moveTo(pad, 8);
  ctx.lineTo(pad, h - pad);
  ctx.lineTo(w - 8, h - pad);
  ctx.stroke();
  ctx.fillStyle = "#444";
  ctx.font = "12px system-ui";
  ctx.fillText(`${top.toFixed(2)}`, 2, 16);
  ctx.fillText("0", 16, h - pad);
  ctx.fillText(`step ${steps}`, w - 60, h - 10);
  const line = (pairs, color, width) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    pairs.forEach(([s, loss], k) => (k ? ctx.lineTo(x(s), y(loss)) : ctx.moveTo(x(s), y(loss))));
    ctx.stroke();
    ctx.lineWidth = 1;
  };
  line(training.batchLosses.map((loss, k) => [k + 1, loss]), "#b9c8e8", 1);
  line(training.losses, "#1f4fa0", 2);
  ctx.fillStyle = "#1f4fa0";
  ctx.fillText("loss on all 200 points", pad + 8, 20);
  ctx.fillStyle = "#8fa3cc";
  ctx.fillText("loss of each minibatch", pad + 8, 36);
}

readFragment();
startWorker();
