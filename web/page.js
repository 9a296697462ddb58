// The digits page around the runtime and the drawing card (pad.js): the models'
// predictions for the card, and `window.gpunet`, the hook tests (and the curious) use.
"use strict";

const DOC = JSON.parse(document.getElementById("gpunet-data").textContent);
let runtime = null;

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
  get last() {
    return card.last;
  },
  /** Whether a drawing is still waiting for (or in) its prediction. */
  busy: () => card.busy(),
  get predictions() {
    return card.predictions;
  },
};
window.gpunet = hook;

card.onError = problem;
clearPad();
hook.ready = Runtime.open(DOC).then(
  (rt) => {
    runtime = rt;
    hook.adapter = rt.adapter;
    $("status").textContent = `WebGPU on ${rt.adapter} · ready`;
    rt.lost.then((info) => problem(`The WebGPU device was lost (${info.reason || "unknown"}): ${info.message}. Reload the page.`));
    card.onPredicted = (ms) => {
      $("status").textContent = `WebGPU on ${rt.adapter} · ${ms.toFixed(1)} ms for the last prediction`;
    };
    card.predictor = async (img) => (await rt.predict(img, 1)).mean;
    card.refresh();
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
