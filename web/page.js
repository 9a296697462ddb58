// The page around the runtime: a pad to draw on, MNIST's preprocessing, the
// probability bars, and `window.gpunet`, the hook tests (and the curious) use.
"use strict";

const DOC = JSON.parse(document.getElementById("gpunet-data").textContent);
const $ = (id) => document.getElementById(id);
const SIDE = DOC.side; // 28
const BOX = 20; // MNIST fits each digit's bounding box into 20x20, then centres it by mass

/** Area-averaging weights: target cell t of `dst` covers source [t·src/dst, (t+1)·src/dst). */
function coverage(src, dst) {
  const scale = src / dst;
  const cells = [];
  for (let t = 0; t < dst; t++) {
    const lo = t * scale, hi = (t + 1) * scale;
    const list = [];
    for (let i = Math.floor(lo); i < Math.min(src, Math.ceil(hi)); i++) {
      const w = Math.min(hi, i + 1) - Math.max(lo, i);
      if (w > 0) list.push([i, w]);
    }
    cells.push(list);
  }
  return cells;
}

/**
 * A drawing as MNIST made its digits: crop to the ink's bounding box, fit it into
 * 20x20 keeping the aspect ratio (area-averaged), and place it in 28x28 so its
 * centre of mass is the centre. `ink`: w·h values 0..255. Null where nothing is drawn.
 */
function toMnist(ink, w, h) {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const s = BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * s)), th = Math.max(1, Math.round(bh * s));
  const cx = coverage(bw, tw), cy = coverage(bh, th);
  const area = (bw / tw) * (bh / th);
  const fit = new Float32Array(tw * th);
  let mass = 0, mx = 0, my = 0;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      let sum = 0;
      for (const [sy, a] of cy[ty]) {
        const row = (y0 + sy) * w + x0;
        for (const [sx, b] of cx[tx]) sum += a * b * ink[row + sx];
      }
      const v = sum / area;
      fit[ty * tw + tx] = v;
      mass += v;
      mx += (tx + 0.5) * v;
      my += (ty + 0.5) * v;
    }
  }
  const ox = Math.round(SIDE / 2 - mx / mass), oy = Math.round(SIDE / 2 - my / mass);
  const out = new Uint8Array(SIDE * SIDE);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const x = tx + ox, y = ty + oy;
      if (x >= 0 && x < SIDE && y >= 0 && y < SIDE) {
        out[y * SIDE + x] = Math.min(255, Math.round(fit[ty * tw + tx]));
      }
    }
  }
  return out;
}

// ---- the drawing pad

const pad = $("pad");
const pen = pad.getContext("2d", { willReadFrequently: true });

function clearPad() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  showEmpty();
}

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

let last = null;
pad.addEventListener("pointerdown", (e) => {
  pad.setPointerCapture(e.pointerId);
  last = padPoint(e);
  stroke(last, last);
});
pad.addEventListener("pointermove", (e) => {
  if (!last) return;
  const p = padPoint(e);
  stroke(last, p);
  last = p;
});
for (const ev of ["pointerup", "pointercancel"]) pad.addEventListener(ev, () => (last = null));
$("clear").addEventListener("click", clearPad);

function stroke(a, b) {
  pen.strokeStyle = "#fff";
  pen.lineWidth = 20;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(a[0], a[1]);
  pen.lineTo(b[0], b[1]);
  pen.stroke();
  schedule();
}

function padInk() {
  const rgba = pen.getImageData(0, 0, pad.width, pad.height).data;
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i];
  return ink;
}

// ---- the probability bars

const bars = [];
for (let c = 0; c < DOC.classes; c++) {
  const digit = document.createElement("span");
  digit.textContent = c;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  track.appendChild(fill);
  const pct = document.createElement("span");
  pct.className = "pct";
  $("bars").append(digit, track, pct);
  bars.push({ digit, fill, pct });
}

function showProbs(probs) {
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
  bars.forEach((b, c) => {
    b.fill.style.width = (100 * probs[c]).toFixed(1) + "%";
    b.pct.textContent = (100 * probs[c]).toFixed(1) + "%";
    for (const el of [b.digit, b.fill.parentNode, b.pct]) el.classList.toggle("top", c === best);
  });
  $("answer").innerHTML = `${best} <small>${(100 * probs[best]).toFixed(1)}% sure</small>`;
  return best;
}

function showEmpty() {
  bars.forEach((b) => {
    b.fill.style.width = "0";
    b.pct.textContent = "";
    for (const el of [b.digit, b.fill.parentNode, b.pct]) el.classList.remove("top");
  });
  $("answer").innerHTML = "<small>draw in the black square</small>";
  $("seen").getContext("2d").clearRect(0, 0, SIDE, SIDE);
  hook.last = null;
}

function showSeen(img) {
  const ctx = $("seen").getContext("2d");
  const data = ctx.createImageData(SIDE, SIDE);
  img.forEach((v, i) => data.data.set([v, v, v, 255], 4 * i));
  ctx.putImageData(data, 0, 0);
}

// ---- predictions as you draw: at most one in flight, the newest drawing next

let runtime = null;
let dirty = false, busy = false;

function schedule() {
  dirty = true;
  if (runtime && !busy) pump();
}

async function pump() {
  busy = true;
  try {
    while (dirty) {
      dirty = false;
      const img = toMnist(padInk(), pad.width, pad.height);
      if (!img) {
        showEmpty();
        continue;
      }
      showSeen(img);
      const t0 = performance.now();
      const { mean } = await runtime.predict(img, 1);
      const ms = performance.now() - t0;
      const digit = showProbs(mean);
      hook.last = { digit, probs: Array.from(mean), input: Array.from(img) };
      hook.predictions++;
      $("status").textContent = `WebGPU on ${runtime.adapter} · ${ms.toFixed(1)} ms for the last prediction`;
    }
  } catch (e) {
    problem("The prediction failed: " + e.message);
  } finally {
    busy = false;
  }
}

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.style.display = "block";
  $("status").textContent = "";
}

// ---- start

// "cnn6 · 478,186 parameters · conv32k5,...": the name bold, the spec as code (it may wrap anywhere)
const about = $("about");
if (DOC.models.length > 1) about.append(`an ensemble of ${DOC.models.length}, probabilities averaged: `);
DOC.models.forEach((m, i) => {
  const name = document.createElement("b");
  name.textContent = m.name;
  const spec = document.createElement("code");
  spec.textContent = m.spec;
  about.append(i ? "; " : "", name, ` · ${m.parameters.toLocaleString("en")} parameters · `, spec);
});
about.append(` · exported by ${DOC.generator}`);

/** The test hook: the page's own runtime, without the drawing. */
const hook = {
  ready: null,
  adapter: null,
  /** Probabilities of n images given as n·784 numbers 0..255: { members: [[n·10]], mean: [n·10] }. */
  async predict(pixels, n) {
    const r = await runtime.predict(Uint8Array.from(pixels), n);
    return { members: r.members.map((p) => Array.from(p)), mean: Array.from(r.mean) };
  },
  /** The last drawing's { digit, probs, input }, or null. */
  last: null,
  /** Whether a drawing is still waiting for (or in) its prediction. */
  busy: () => busy || dirty,
  predictions: 0,
};
window.gpunet = hook;

clearPad();
hook.ready = Runtime.open(DOC).then(
  (rt) => {
    runtime = rt;
    hook.adapter = rt.adapter;
    $("status").textContent = `WebGPU on ${rt.adapter} · ready`;
    rt.lost.then((info) => problem(`The WebGPU device was lost (${info.reason || "unknown"}): ${info.message}. Reload the page.`));
    if (dirty) pump();
    return rt.adapter;
  },
  (e) => {
    if (e instanceof NoWebGPU) {
      problem(
        e.message +
          " This page runs its model on the GPU through WebGPU, which current Chrome and Edge (113+) ship on desktop;" +
          " Safari and Firefox ship it on some systems and can enable it elsewhere. Open the file in such a browser."
      );
    } else {
      problem("WebGPU could not start the model: " + e.message);
    }
    throw e;
  }
);
