// The picture page around the runtime: choose or drop a picture; it is prepared
// as `gpunet predict` prepares a file for the model (decoded, transparency
// flattened on black, resized to the model's H x W, grey or RGB), shown as the
// network sees it, and the classes' probabilities drawn, the likeliest first.
// `window.gpunet` is the hook tests (and the curious) use.
"use strict";

const DOC = JSON.parse(document.getElementById("gpunet-data").textContent);
const $ = (id) => document.getElementById(id);
const [CHANNELS, HEIGHT, WIDTH] = DOC.shape;
const NAMES = DOC.names.length ? DOC.names : Array.from({ length: DOC.classes }, (_, i) => String(i));
const SHOWN = Math.min(10, DOC.classes); // bars drawn: the likeliest classes
let runtime = null;

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.style.display = "block";
  $("status").textContent = "";
}

// "cnn6 · 478,186 parameters · conv32k5,...": the name bold, the spec as code
const about = $("about");
if (DOC.models.length > 1) about.append(`an ensemble of ${DOC.models.length}, probabilities averaged: `);
DOC.models.forEach((m, i) => {
  const name = document.createElement("b");
  name.textContent = m.name;
  const spec = document.createElement("code");
  spec.textContent = m.spec;
  about.append(i ? "; " : "", name, ` · ${m.parameters.toLocaleString("en")} parameters · `, spec);
});
about.append(
  ` · ${CHANNELS === 1 ? "grey" : "colour"} pictures ${WIDTH} wide, ${HEIGHT} high, ${DOC.classes} classes` +
    ` · exported by ${DOC.generator}`
);

/**
 * A picture (a Blob) as the model's input: C·H·W bytes, channels first, as
 * data/folder.rs `prepare` makes them: each pixel's colour times its alpha
 * (flattened on black), grey as (299 R + 587 G + 114 B) / 1000. A picture of
 * the model's size is read as it is; any other is resized by the browser's own
 * filter (smoothing "high"), near but not equal to predict's triangle filter.
 * Returns { input, resized }.
 */
async function prepare(blob) {
  const bmp = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  const resized = bmp.width !== WIDTH || bmp.height !== HEIGHT;
  const canvas = new OffscreenCanvas(WIDTH, HEIGHT);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bmp, 0, 0, WIDTH, HEIGHT);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, WIDTH, HEIGHT).data;
  const plane = WIDTH * HEIGHT;
  const input = new Uint8Array(CHANNELS * plane);
  for (let i = 0; i < plane; i++) {
    const a = rgba[4 * i + 3];
    const [r, g, b] = [0, 1, 2].map((k) => Math.floor((rgba[4 * i + k] * a + 127) / 255));
    if (CHANNELS === 1) input[i] = Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
    else [r, g, b].forEach((v, k) => (input[k * plane + i] = v));
  }
  return { input, resized };
}

// ---- what the network sees, and the bars

const seen = $("seen");
seen.width = WIDTH;
seen.height = HEIGHT;
seen.style.height = `${Math.round((112 * HEIGHT) / WIDTH)}px`;

function showSeen(input) {
  const ctx = seen.getContext("2d");
  const img = ctx.createImageData(WIDTH, HEIGHT);
  const plane = WIDTH * HEIGHT;
  for (let i = 0; i < plane; i++) {
    const [r, g, b] = CHANNELS === 1 ? [input[i], input[i], input[i]] : [0, 1, 2].map((k) => input[k * plane + i]);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

function showProbs(probs) {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  const bars = $("bars");
  bars.replaceChildren();
  order.slice(0, SHOWN).forEach((c, rank) => {
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = NAMES[c];
    name.title = NAMES[c];
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * probs[c]).toFixed(1) + "%";
    track.appendChild(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = (100 * probs[c]).toFixed(1) + "%";
    if (rank === 0) for (const el of [name, track, pct]) el.classList.add("top");
    bars.append(name, track, pct);
  });
  $("more").textContent = DOC.classes > SHOWN ? `the ${SHOWN} likeliest of ${DOC.classes} classes` : "";
  const best = order[0];
  const answer = $("answer");
  answer.textContent = NAMES[best] + " ";
  const sure = document.createElement("small");
  sure.textContent = `${(100 * probs[best]).toFixed(1)}% sure`;
  answer.appendChild(sure);
  return best;
}

// ---- a picture chosen or dropped

let last = null;

/** Prepares, shows and predicts one picture: { input, probs, best, name, resized }. */
async function readPicture(blob) {
  const { input, resized } = await prepare(blob);
  showSeen(input);
  const pic = $("picture");
  if (pic.src) URL.revokeObjectURL(pic.src);
  pic.src = URL.createObjectURL(blob);
  pic.style.display = "block";
  $("seen-hint").innerHTML = resized
    ? `what the network sees:<br>resized to ${WIDTH}x${HEIGHT} by the browser`
    : "what the<br>network sees";
  const t0 = performance.now();
  const probs = (await runtime.predict(input, 1)).mean;
  const ms = performance.now() - t0;
  const best = showProbs(probs);
  $("status").textContent = `WebGPU on ${runtime.adapter} · ${ms.toFixed(1)} ms for the last prediction`;
  last = { input: Array.from(input), probs: Array.from(probs), best, name: NAMES[best], resized };
  return last;
}

async function choose(blob) {
  if (!runtime) return;
  try {
    await readPicture(blob);
  } catch (e) {
    problem(`That picture could not be read (${e.message}); PNG, JPEG, GIF, BMP and WebP are.`);
  }
}

$("file").addEventListener("change", (e) => e.target.files[0] && choose(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) choose(f);
});

/** The test hook: the page's own runtime and picture path. */
const hook = {
  ready: null,
  adapter: null,
  /** Probabilities of n images given as n·C·H·W numbers 0..255: { members: [[n·classes]], mean: [n·classes] }. */
  async predict(pixels, n) {
    const r = await runtime.predict(Uint8Array.from(pixels), n);
    return { members: r.members.map((p) => Array.from(p)), mean: Array.from(r.mean) };
  },
  /** A picture file's bytes in base64, read as one chosen: { input, probs, best, name, resized }. */
  async picture(base64) {
    return readPicture(new Blob([decodeBase64(base64)]));
  },
  get last() {
    return last;
  },
};
window.gpunet = hook;

hook.ready = Runtime.open(DOC).then(
  (rt) => {
    runtime = rt;
    hook.adapter = rt.adapter;
    $("status").textContent = `WebGPU on ${rt.adapter} · ready`;
    rt.lost.then((info) => problem(`The WebGPU device was lost (${info.reason || "unknown"}): ${info.message}. Reload the page.`));
    return rt.adapter;
  },
  (e) => {
    if (e instanceof NoWebGPU) {
      problem(e.advice("runs its model"));
    } else {
      problem("WebGPU could not start the model: " + e.message);
    }
    throw e;
  }
);
