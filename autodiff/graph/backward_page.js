// The backward page: shows the step the reader asks for. It does no arithmetic: every number is a text
// that the engine's record of the pass put in the page's data (#backward-data).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("backward-data").textContent);
  const steps = data.steps;
  const last = steps.length - 1;
  const byId = (id) => document.getElementById(id);
  const slider = byId("step-slider");
  const counter = byId("step-counter");
  const narration = byId("narration");
  const back = byId("step-back");
  const forward = byId("step-forward");
  const play = byId("step-play");
  const graph = byId("graph");
  const svg = graph.querySelector("svg");
  const fitBox = byId("fit-width");
  const roles = data.roles || {};

  // Each drawn node's "grad ..." text (its last field), and each edge's term text (found by its words).
  const gradText = new Map();
  for (const id of data.nodes) {
    const node = byId(id);
    const texts = node ? Array.from(node.querySelectorAll("text")).filter((t) => t.textContent.startsWith("grad ")) : [];
    if (texts.length) gradText.set(id, texts[texts.length - 1]);
  }
  const termText = new Map(); // an edge that names its operand shows the name until its term appears
  for (const [id, label] of Object.entries(data.labels)) {
    const edge = byId(id);
    const text = edge && Array.from(edge.querySelectorAll("text")).find((t) => t.textContent === label);
    if (text) termText.set(id, text);
  }
  // The step at which each node is visited (its gradient is then complete) and each edge's term appears.
  const visitedAt = new Map();
  const termAt = new Map();
  steps.forEach((step, k) => {
    if (step.node) visitedAt.set(step.node, k);
    for (const id of step.edges || []) termAt.set(id, k);
  });

  const shownGrad = new Map();
  const shownDone = new Map();
  const shownTerm = new Map();
  let marked = [];
  let current = -1;
  let timer = null;

  function gradsAt(n) {
    const grads = new Map();
    for (let k = 1; k <= n; k++) {
      const step = steps[k];
      if (step.zero) for (const id of gradText.keys()) grads.set(id, "0");
      for (const [id, text] of step.grads || []) grads.set(id, text);
    }
    return grads;
  }

  function mark(id, name) {
    const element = byId(id);
    if (element) {
      element.classList.add(name);
      marked.push([element, name]);
    }
  }

  function reveal(element) {
    // Scroll the graph (only the graph, not the page) so that the visited node is in sight.
    const box = graph.getBoundingClientRect();
    const r = element.getBoundingClientRect();
    if (r.left < box.left) graph.scrollLeft -= box.left - r.left + 24;
    else if (r.right > box.right) graph.scrollLeft += r.right - box.right + 24;
    if (r.top < box.top) graph.scrollTop -= box.top - r.top + 24;
    else if (r.bottom > box.bottom) graph.scrollTop += r.bottom - box.bottom + 24;
  }

  function show(n) {
    n = Math.max(0, Math.min(last, Math.trunc(Number(n)) || 0));
    const step = steps[n];
    // Scroll first, while the layout is clean: measuring after the changes below would lay the graph out twice.
    // Before any node is visited, the root is in sight: the pass starts there.
    const target = byId(step.node || (n <= 1 ? data.root : ""));
    if (target) reveal(target);
    const grads = gradsAt(n);
    for (const [id, text] of gradText) {
      const value = grads.has(id) ? "grad " + grads.get(id) : "";
      if (shownGrad.get(id) !== value) {
        text.textContent = value;
        shownGrad.set(id, value);
      }
      const done = visitedAt.has(id) && visitedAt.get(id) <= n;
      if (shownDone.get(id) !== done) {
        byId(id).classList.toggle("done", done);
        shownDone.set(id, done);
      }
    }
    for (const [id, text] of termText) {
      const visible = termAt.get(id) <= n;
      if (shownTerm.get(id) !== visible) {
        if (roles[id]) text.textContent = visible ? data.labels[id] : roles[id];
        else text.classList.toggle("term-hidden", !visible);
        shownTerm.set(id, visible);
      }
    }
    for (const [element, name] of marked) element.classList.remove(name);
    marked = [];
    if (step.node) {
      mark(step.node, "current");
      mark(step.node + "_op", "current");
    }
    for (const id of step.edges || []) mark(id, "active");
    if (step.out) mark(step.out, "active");
    for (const [id] of step.grads || []) if (n > 1) mark(id, "updated");
    current = n;
    slider.value = String(n);
    counter.textContent = "step " + n + " of " + last;
    slider.setAttribute("aria-valuetext", counter.textContent);
    narration.textContent = step.text;
    back.disabled = n === 0;
    forward.disabled = n === last;
    if (location.hash !== "#step=" + n) {
      try {
        history.replaceState(null, "", "#step=" + n);
      } catch (error) {
        // a sandboxed frame may refuse: the address just keeps its old step
      }
    }
  }

  function setPlaying(on) {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
    if (on) {
      if (current >= last) show(0);
      timer = setInterval(() => {
        if (current >= last) setPlaying(false);
        else show(current + 1);
      }, 1200);
    }
    play.setAttribute("aria-pressed", on ? "true" : "false");
    play.innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
  }

  function stepFromHash() {
    const m = /^#step=(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  back.addEventListener("click", () => { setPlaying(false); show(current - 1); });
  forward.addEventListener("click", () => { setPlaying(false); show(current + 1); });
  play.addEventListener("click", () => setPlaying(timer === null));
  slider.addEventListener("input", () => { setPlaying(false); show(slider.value); });
  // --- the size of the graph ----------------------------------------------------------------------------
  // "fit to width" shrinks the graph to the width of its box, but never so far that its smallest text is under
  // MIN_TEXT_PX pixels: past that, the graph scrolls. It is on when the graph is wider than its box.
  const MIN_TEXT_PX = 11;
  const natural = svg ? { width: points(svg, "width"), height: points(svg, "height") } : null;
  let smallest = Infinity; // font size of the smallest text, in pixels at the natural size
  if (svg) {
    const pxPerUnit = natural.width / (svg.viewBox.baseVal.width || natural.width);
    for (const text of svg.querySelectorAll("text")) {
      smallest = Math.min(smallest, parseFloat(getComputedStyle(text).fontSize) * pxPerUnit);
    }
  }
  const minScale = Number.isFinite(smallest) ? Math.min(1, MIN_TEXT_PX / smallest) : 1;

  function points(element, name) {
    const value = element.getAttribute(name) || "";
    return parseFloat(value) * (value.endsWith("pt") ? 4 / 3 : 1);
  }

  function size() {
    if (!natural) return;
    const room = graph.clientWidth - 1;
    const scale = fitBox.checked ? Math.max(minScale, Math.min(1, room / natural.width)) : 1;
    // Whole pixels, rounded up: the smallest text stays at MIN_TEXT_PX or above.
    svg.style.width = Math.ceil(natural.width * scale) + "px";
    svg.style.height = Math.ceil(natural.height * scale) + "px";
    tellFrame();
  }

  function tellFrame() {
    // In a notebook the page is in a frame: it tells the frame the height that shows the whole graph.
    if (window.parent === window) return;
    const box = graph.getBoundingClientRect();
    const legend = document.querySelector(".legend").getBoundingClientRect();
    const below = legend.bottom - box.bottom + parseFloat(getComputedStyle(document.body).paddingBottom);
    const wanted = box.top + window.scrollY + svg.getBoundingClientRect().height + 2 + below;
    window.parent.postMessage({ autodiffBackwardPage: { height: Math.ceil(wanted) } }, "*");
  }

  if (natural) fitBox.checked = natural.width > graph.clientWidth;
  fitBox.addEventListener("change", () => { size(); show(current); });
  window.addEventListener("resize", () => { size(); show(current); });
  size();
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target === slider) return; // the slider steps with the arrow keys itself
    const to = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: last }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    setPlaying(false);
    show(to);
  });
  window.addEventListener("hashchange", () => {
    const n = stepFromHash();
    if (n !== null && n !== current) show(n);
  });
  show(stepFromHash() ?? 0);
  document.documentElement.dataset.ready = "true";
})();
