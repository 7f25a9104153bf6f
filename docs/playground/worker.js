// The playground's Web Worker: Python (Pyodide) and Graphviz, both WebAssembly, loaded from dist/ beside this file.
// It runs the engine, so the page stays responsive while Python loads, computes or trains.
//
// To the page: {type: "progress", loaded, total, stage}, then {type: "ready", seconds, stages, versions} or
// {type: "failed", error}; for each request {id, op, args}: {id, result} or {id, error} (one line).

const DIST = new URL("./dist/", import.meta.url);
const ENGINE_DIR = "/home/pyodide/engine";

let playground = null; // the Python module playground.py
let moons = null; // its Moons training, a Python object
const ops = {
  expression: (text, inputs) => call("expression", text, inputs),
  cell: (code) => call("run_cell", code),
  moonsReset: () => {
    if (moons) moons.destroy();
    moons = playground.Moons();
    return convert(moons.state());
  },
  moonsStep: (n) => convert(moons.step(n)),
};

function call(name, ...args) {
  return convert(playground[name](...args));
}

function convert(proxy) {
  const value = proxy.toJs({ dict_converter: Object.fromEntries });
  proxy.destroy();
  return value;
}

// A Python error's last line ("ValueError: ..."): the traceback above it is Pyodide's and ours, not the visitor's.
function oneLine(error) {
  const lines = String(error && error.message ? error.message : error).trim().split("\n");
  return lines[lines.length - 1];
}

// --- loading, with progress counted in bytes ---------------------------------------------------------------

let loaded = 0;
let total = 1;
let stage = "starting";
let lastReport = 0;

function report(force = false) {
  const now = performance.now();
  if (force || now - lastReport > 100) {
    lastReport = now;
    postMessage({ type: "progress", loaded, total, stage });
  }
}

// Every fetch (Pyodide's wasm and standard library, our zips) counts its bytes as they arrive.
const plainFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (resource, options) => {
  const response = await plainFetch(resource, options);
  if (!response.body) return response;
  const counter = new TransformStream({
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      report();
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(counter), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

// A module loaded by import() is counted whole once it has arrived (from the manifest's size).
async function importCounted(path, manifest) {
  const module = await import(new URL(path, DIST).href);
  loaded += manifest.files[path] || 0;
  report(true);
  return module;
}

async function bytes(path) {
  const response = await fetch(new URL(path, DIST));
  if (!response.ok) throw new Error(`could not load ${path}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function load() {
  const started = performance.now();
  const manifest = await (await plainFetch(new URL("manifest.json", DIST))).json();
  const skipped = new Set(["graphviz/LICENSE", "pyodide/package.json"]);
  total = Object.entries(manifest.files)
    .filter(([path]) => !skipped.has(path))
    .reduce((sum, [, size]) => sum + size, 0);
  stage = "Graphviz (WebAssembly)";
  report(true);
  const { Graphviz } = await importCounted("graphviz/graphviz.mjs", manifest);
  const graphviz = await Graphviz.load();
  const stages = { graphviz: performance.now() - started };
  stage = `Python (Pyodide ${manifest.pyodide})`;
  report(true);
  const { loadPyodide } = await importCounted("pyodide/pyodide.mjs", manifest);
  loaded += manifest.files["pyodide/pyodide.asm.mjs"] || 0; // imported by loadPyodide itself
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", DIST).href });
  stages.python = performance.now() - started - stages.graphviz;
  stage = "the engine (autodiff, nn) and its wheels";
  report(true);
  for (const wheel of manifest.wheels) {
    pyodide.unpackArchive(await bytes(`python/${wheel}`), "wheel");
  }
  pyodide.unpackArchive(await bytes("python/engine.zip"), "zip", { extractDir: ENGINE_DIR });
  pyodide.FS.writeFile(`${ENGINE_DIR}/playground.py`, await (await plainFetch("./playground.py")).text());
  pyodide.runPython(`import sys; sys.path.insert(0, ${JSON.stringify(ENGINE_DIR)})`);
  playground = pyodide.pyimport("playground");
  playground.lend_graphviz((source) => graphviz.dot(source, "svg"));
  stages.engine = performance.now() - started - stages.graphviz - stages.python;
  loaded = total;
  stage = "ready";
  report(true);
  const versions = { python: pyodide.runPython("import sys; sys.version.split()[0]"), pyodide: manifest.pyodide };
  // Seconds for each stage: loading Graphviz, loading Python, then unpacking and importing the engine.
  for (const name in stages) stages[name] /= 1000;
  postMessage({ type: "ready", seconds: (performance.now() - started) / 1000, stages, versions });
}

const ready = load().catch((error) => {
  postMessage({ type: "failed", error: oneLine(error) });
  throw error;
});

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    await ready;
    postMessage({ id, result: ops[op](...args) });
  } catch (error) {
    postMessage({ id, error: oneLine(error) });
  }
};
