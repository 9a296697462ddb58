// The drawing card both pages share: a pad to draw on, MNIST's preprocessing,
// "what the network sees", the probability bars, and predictions as you draw
// (at most one in flight, the newest drawing next) through `card.predictor`.
// It expects the elements #pad, #clear, #seen, #bars and #answer.
"use strict";

const PAD_SIDE = 28; // MNIST's images
const $ = (id) => document.getElementById(id);
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
  const ox = Math.round(PAD_SIDE / 2 - mx / mass), oy = Math.round(PAD_SIDE / 2 - my / mass);
  const out = new Uint8Array(PAD_SIDE * PAD_SIDE);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const x = tx + ox, y = ty + oy;
      if (x >= 0 && x < PAD_SIDE && y >= 0 && y < PAD_SIDE) {
        out[y * PAD_SIDE + x] = Math.min(255, Math.round(fit[ty * tw + tx]));
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
for (let c = 0; c < 10; c++) {
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
  $("seen").getContext("2d").clearRect(0, 0, PAD_SIDE, PAD_SIDE);
  card.last = null;
}

function showSeen(img) {
  const ctx = $("seen").getContext("2d");
  const data = ctx.createImageData(PAD_SIDE, PAD_SIDE);
  img.forEach((v, i) => data.data.set([v, v, v, 255], 4 * i));
  ctx.putImageData(data, 0, 0);
}

// ---- predictions as you draw: at most one in flight, the newest drawing next

/**
 * The card's state and hooks: `predictor(img)` resolves to the ten probabilities
 * of a 28x28 image (null until a model is ready); `onPredicted(ms)` and
 * `onError(message)` report; `last` is the last drawing's { digit, probs, input }.
 */
const card = { predictor: null, onPredicted: () => {}, onError: () => {}, last: null, predictions: 0 };
let dirty = false, busy = false;

function schedule() {
  dirty = true;
  if (card.predictor && !busy) pump();
}

/** Whether a drawing is still waiting for (or in) its prediction. */
card.busy = () => busy || dirty;
/** Predicts the drawing now (once `predictor` is set). */
card.refresh = () => schedule();

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
      const probs = await card.predictor(img);
      const ms = performance.now() - t0;
      const digit = showProbs(probs);
      card.last = { digit, probs: Array.from(probs), input: Array.from(img) };
      card.predictions++;
      card.onPredicted(ms);
    }
  } catch (e) {
    card.onError("The prediction failed: " + e.message);
  } finally {
    busy = false;
  }
}

