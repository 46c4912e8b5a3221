// The page of `tweedie explore`: it draws what the server (or a static folder written by
// `tweedie explore --static DIR`) computes; it computes nothing exact itself. Every number shown in the
// tables is printed with all its digits (JavaScript's shortest round-trip form), as the command line's
// `tweedie explore --state` prints it.
"use strict";

const isStatic = window.TWEEDIE_STATIC === true;
const cache = new Map();
const waiting = new Map();

// Static folders hold data/NAME.js files that call tweedieData(NAME, value): script tags load from
// file:// pages, where fetch() may not.
window.tweedieData = function (name, value) {
  const resolve = waiting.get(name);
  if (resolve) {
    waiting.delete(name);
    resolve(value);
  }
};

function fetchView(name) {
  if (!isStatic) {
    return fetch("api/" + name).then(async (response) => {
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      return body;
    });
  }
  return new Promise((resolve, reject) => {
    waiting.set(name, resolve);
    const script = document.createElement("script");
    script.src = "data/" + name + ".js";
    script.onload = () => script.remove();
    script.onerror = () => {
      waiting.delete(name);
      script.remove();
      reject(new Error("data/" + name + ".js is missing from this static folder"));
    };
    document.head.appendChild(script);
  });
}

let busy = 0;
function setBusy(delta) {
  busy += delta;
  document.body.dataset.busy = String(busy);
  const status = document.getElementById("status");
  if (!status.classList.contains("error")) status.textContent = busy > 0 ? "Computing…" : "Ready.";
}

function showError(error) {
  const status = document.getElementById("status");
  status.classList.add("error");
  status.textContent = "Error: " + error.message;
}

async function view(name) {
  if (cache.has(name)) return cache.get(name);
  setBusy(1);
  try {
    const value = await fetchView(name);
    cache.set(name, value);
    return value;
  } finally {
    setBusy(-1);
  }
}

const state = { model: null, tIndex: 0, sampler: "heun", stepsIndex: 0, density: null, run: null, curve: null };
const tokens = { density: 0, run: 0, curve: 0 };

function exact(x) {
  return x === null || x === undefined ? "n/a" : String(x);
}

function setFigure(id, value) {
  document.getElementById(id).textContent = exact(value);
}

// Arrows of the score field as one line trace: a shaft and two barbs per arrow, separated by nulls.
// Lengths grow as √|s| up to 0.9 of the arrow spacing; directions are exact.
function arrowTrace(density, model) {
  const n = Math.round(Math.sqrt(density.arrow_x.length));
  const cell = (model.x_range[1] - model.x_range[0]) / (n - 1);
  let largest = 0;
  for (let i = 0; i < density.score_x.length; i++) {
    largest = Math.max(largest, Math.hypot(density.score_x[i], density.score_y[i]));
  }
  const xs = [], ys = [];
  for (let i = 0; i < density.arrow_x.length; i++) {
    const sx = density.score_x[i], sy = density.score_y[i], size = Math.hypot(sx, sy);
    if (!(size > 0) || !(largest > 0)) continue;
    const length = 0.9 * cell * Math.sqrt(size / largest);
    const ux = sx / size, uy = sy / size;
    const x0 = density.arrow_x[i], y0 = density.arrow_y[i], x1 = x0 + length * ux, y1 = y0 + length * uy;
    const barb = 0.3 * length, c = Math.cos(0.45), s = Math.sin(0.45);
    xs.push(x0, x1, null, x1 - barb * (c * ux - s * uy), x1, x1 - barb * (c * ux + s * uy), null);
    ys.push(y0, y1, null, y1 - barb * (s * ux + c * uy), y1, y1 - barb * (-s * ux + c * uy), null);
  }
  return {
    type: "scatter", mode: "lines", x: xs, y: ys, hoverinfo: "skip", name: "score",
    line: { color: "rgba(255,255,255,0.85)", width: 1.2 },
    visible: document.getElementById("show-arrows").checked,
  };
}

// Where each trajectory is at the grid time nearest t (the samples, at σ = 0, count as time 0).
function positionsAt(run, t) {
  const times = run.times.concat([0]);
  let best = 0;
  for (let k = 1; k < times.length; k++) if (Math.abs(times[k] - t) < Math.abs(times[best] - t)) best = k;
  return { x: run.trajectories_x.map((p) => p[best]), y: run.trajectories_y.map((p) => p[best]) };
}

function drawPlane() {
  const model = state.model, density = state.density, run = state.run;
  if (!model || !density) return;
  let top = -Infinity;
  for (const row of density.log_density) for (const v of row) if (v !== null && v > top) top = v;
  const bottom = top - 14;
  const traces = [
    {
      type: "heatmap", x: density.x, y: density.y, z: density.log_density, zmin: bottom, zmax: top,
      colorscale: "Viridis", colorbar: { title: { text: "log p_t" } }, name: "log p_t",
      hovertemplate: "x = %{x:.4f}<br>y = %{y:.4f}<br>log p_t = %{z:.8g}<extra></extra>",
    },
    {
      type: "contour", x: density.x, y: density.y, z: density.log_density, showscale: false, hoverinfo: "skip",
      contours: { coloring: "none", start: bottom, end: top, size: (top - bottom) / 12 },
      line: { color: "rgba(255,255,255,0.5)", width: 1 }, name: "contours",
    },
    arrowTrace(density, model),
  ];
  const showTrajectories = document.getElementById("show-trajectories").checked;
  const showSamples = document.getElementById("show-samples").checked;
  if (run) {
    const xs = [], ys = [];
    for (let i = 0; i < run.trajectories_x.length; i++) {
      xs.push(...run.trajectories_x[i], null);
      ys.push(...run.trajectories_y[i], null);
    }
    const at = positionsAt(run, density.t);
    traces.push(
      {
        type: "scatter", mode: "markers", x: run.samples_x, y: run.samples_y, name: "samples",
        marker: { size: 3, color: "rgba(230,230,230,0.55)" }, hoverinfo: "skip", visible: showSamples,
      },
      {
        type: "scatter", mode: "lines", x: xs, y: ys, name: "trajectories", hoverinfo: "skip",
        line: { color: "rgba(255,140,0,0.6)", width: 1 }, visible: showTrajectories,
      },
      {
        type: "scatter", mode: "markers", x: at.x, y: at.y, name: "at t", hoverinfo: "skip",
        marker: { size: 6, color: "#ff8c00", line: { color: "#000", width: 0.5 } }, visible: showTrajectories,
      });
  }
  traces.push({
    type: "scatter", mode: "markers", x: model.means_x, y: model.means_y, name: "means μ_k",
    marker: { symbol: "x-thin", size: 9, line: { color: "#e0245e", width: 2 } },
    hovertemplate: "μ = (%{x}, %{y})<extra></extra>",
  });
  const layout = {
    margin: { l: 50, r: 10, t: 30, b: 40 }, showlegend: false,
    title: { text: "t = " + exact(density.t) + ", σ_t = " + density.sigma.toPrecision(4), font: { size: 14 } },
    xaxis: { range: model.x_range, constrain: "domain", zeroline: false },
    yaxis: { range: model.y_range, scaleanchor: "x", zeroline: false },
  };
  Plotly.react("density-plot", traces, layout, { responsive: true, displaylogo: false });
}

function drawFigures() {
  const run = state.run;
  if (!run) return;
  setFigure("value-calls", run.model_calls);
  setFigure("value-tv", run.total_variation);
  setFigure("value-tv-floor", run.total_variation_floor);
  setFigure("value-kl", run.kl);
  setFigure("value-kl-se", run.kl_standard_error);
  document.getElementById("kl-kind").textContent = "KL: " + run.kl_kind;
  const labels = state.model.weights.map((_, k) => "k = " + k);
  Plotly.react("weights-plot", [
    { type: "bar", x: labels, y: state.model.weights, name: "π (exact)", marker: { color: "#888" } },
    { type: "bar", x: labels, y: run.mode_weights, name: run.sampler, marker: { color: "#ff8c00" } },
  ], {
    margin: { l: 40, r: 10, t: 28, b: 50 }, barmode: "group", title: { text: "mode weights", font: { size: 13 } },
    legend: { orientation: "h", y: -0.25 }, xaxis: { showticklabels: labels.length <= 16 },
  }, { displaylogo: false, displayModeBar: false });
}

function drawCurve() {
  const curve = state.curve;
  if (!curve) return;
  const calls = curve.points.map((p) => p.model_calls);
  const traces = [
    { type: "scatter", mode: "lines+markers", x: calls, y: curve.points.map((p) => p.total_variation), name: "mode TV" },
    {
      type: "scatter", mode: "lines", x: calls, y: curve.points.map((p) => p.total_variation_floor),
      name: "TV floor", line: { dash: "dot", color: "#888" },
    },
  ];
  if (curve.points.some((p) => p.kl !== null)) {
    traces.push({ type: "scatter", mode: "lines+markers", x: calls, y: curve.points.map((p) => p.kl), name: "KL" });
  }
  const current = curve.points.find((p) => p.steps === state.model.steps[state.stepsIndex]);
  if (current) {
    traces.push({
      type: "scatter", mode: "markers", x: [current.model_calls], y: [current.total_variation], name: "now",
      marker: { size: 11, color: "rgba(0,0,0,0)", line: { color: "#e0245e", width: 2 } },
    });
  }
  Plotly.react("curve-plot", traces, {
    margin: { l: 50, r: 10, t: 28, b: 80 }, title: { text: "error vs model calls: " + curve.sampler, font: { size: 13 } },
    xaxis: { type: "log", title: { text: "model calls per sample" }, tickvals: [1, 2, 5, 10, 20, 50, 100, 200] },
    yaxis: { type: "log", exponentformat: "power" }, legend: { orientation: "h", y: -0.45 },
  }, { displaylogo: false, displayModeBar: false });
}

async function updateDensity() {
  const token = ++tokens.density;
  const t = state.model.times[state.tIndex];
  setFigure("value-t", t);
  try {
    const density = await view("density-" + state.tIndex);
    if (token !== tokens.density) return;
    state.density = density;
    setFigure("value-alpha", density.alpha);
    setFigure("value-sigma", density.sigma);
    drawPlane();
  } catch (error) {
    showError(error);
  }
}

async function updateRun() {
  const token = ++tokens.run;
  const steps = state.model.steps[state.stepsIndex];
  document.getElementById("steps-label").textContent = "N = " + steps;
  try {
    const run = await view("run-" + state.sampler + "-" + steps);
    if (token !== tokens.run) return;
    state.run = run;
    drawPlane();
    drawFigures();
    drawCurve();
  } catch (error) {
    showError(error);
  }
}

async function updateCurve() {
  const token = ++tokens.curve;
  try {
    const curve = await view("curve-" + state.sampler);
    if (token !== tokens.curve) return;
    state.curve = curve;
    drawCurve();
  } catch (error) {
    showError(error);
  }
}

async function start() {
  setBusy(1);
  try {
    const model = await view("model");
    state.model = model;
    document.getElementById("subtitle").textContent = model.name + ": " + model.components + " components ("
      + model.covariance_type + "), schedule " + model.schedule + "; figures over " + model.sample_count
      + " samples, seed " + model.seed + (model.static ? " (static copy)" : "");
    const tSlider = document.getElementById("t-slider");
    tSlider.max = String(model.times.length - 1);
    state.tIndex = Math.round(0.3 * (model.times.length - 1));
    tSlider.value = String(state.tIndex);
    const stepsSlider = document.getElementById("steps-slider");
    stepsSlider.max = String(model.steps.length - 1);
    state.stepsIndex = Math.max(0, model.steps.indexOf(8));
    stepsSlider.value = String(state.stepsIndex);
    const select = document.getElementById("sampler-select");
    for (const name of model.samplers) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    }
    state.sampler = model.samplers.includes("heun") ? "heun" : model.samplers[0];
    select.value = state.sampler;
    tSlider.addEventListener("input", () => { state.tIndex = Number(tSlider.value); updateDensity(); });
    stepsSlider.addEventListener("input", () => { state.stepsIndex = Number(stepsSlider.value); updateRun(); });
    select.addEventListener("change", () => { state.sampler = select.value; updateRun(); updateCurve(); });
    for (const id of ["show-arrows", "show-trajectories", "show-samples"]) {
      document.getElementById(id).addEventListener("change", drawPlane);
    }
    await Promise.all([updateDensity(), updateRun(), updateCurve()]);
  } catch (error) {
    showError(error);
  } finally {
    setBusy(-1);
  }
}

start();
