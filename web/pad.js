// The drawing card both pages share: a pad to draw on, MNIST's preprocessing,
// "what the network sees", the probability bars, and predictions as you draw
// (at most one in flight, the newest drawing next) through `card.predictor`.
// It expects the elements #pad, #clear, #seen, #bars and #answer.
"use strict";

const PAD_SIDE = 28; // MNIST's images
const $ = (id) => document.getElementById(id);

// coverage and toMnist (MNIST's preprocessing): web/host.js, held to
// data::picture::to_mnist by node (tests/node_parity.rs)

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

