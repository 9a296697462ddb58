// The training page: replays the training, evaluation and prediction plans
// `gpunet export-web --train` recorded (kernels, views, parameter blocks,
// workgroups) on this browser's WebGPU adapter, patching between launches only
// what `Net::launch_info` says moves; the epoch order and the rate schedules are
// the CLI's (src/train.rs, src/schedule.rs), computed the same way here. Then
// the drawing card (for MNIST's digits) reads digits with the model as it stands, and "Download model"
// writes a checkpoint `gpunet predict` and `eval` load.
"use strict";

const DOC = JSON.parse(document.getElementById("gpunet-data").textContent);
const S = DOC.settings; // the run's settings, as checkpoints hold them
const RUN = DOC.run; // the batch the plans were recorded at, the epochs
const SCHEDULE = parseSchedule(S.lr_schedule);
const ROWS = DOC.rows;

// ---- the CLI's host logic, mirrored (the page tests hold it to the CLI's steps)

// pcg, epochOrder, parseSchedule, scheduleLr and adamCorrections: web/host.js
// (held to their Rust twins by node, tests/node_parity.rs)

// ---- a run on the device

class Trainer {
  /** Opens the adapter and uploads the run's program: the cpu class's plans on a software adapter, else the GPU class's. */
  static async open(forceClass) {
    const { adapter, device, features } = await openDevice(["subgroups"]);
    const fallback = adapter.isFallbackAdapter || (adapter.info && adapter.info.isFallbackAdapter);
    const cls = forceClass || (fallback ? "cpu" : "gpu");
    const t = new Trainer(adapter, device, features.includes("subgroups"), cls);
    await t.load();
    return t;
  }

  constructor(adapter, device, subgroups, cls) {
    this.adapter = adapterName(adapter);
    this.device = device;
    this.subgroups = subgroups;
    this.cls = cls;
    this.prog = DOC.programs[cls];
    this.lost = device.lost.then((info) => info);
    this.inFlight = [];
  }

  async load() {
    const d = this.device;
    const data = new Uint32Array((await inflate(DOC.blob)).buffer, 0, DOC.words);
    this.blob = data;
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.bufs = this.prog.buffers.map((b) => {
      const buf = d.createBuffer({ label: b.label, size: Math.max(1, b.words) * 4, usage });
      if (b.data) d.queue.writeBuffer(buf, 0, data, b.data[0], b.data[1]);
      return buf;
    });
    const moduleFor = (op) => moduleOf(op, this.subgroups);
    const ops = Object.values(this.prog.plans).flatMap((p) => p.ops);
    const pipelines = await compilePipelines(d, DOC.shaders, ops, moduleFor);
    this.plans = new Map();
    for (const [key, p] of Object.entries(this.prog.plans)) {
      const plan = preparePlan(d, this.bufs, p.ops, (op) => pipelines.get(moduleFor(op) + ":" + op.kernel));
      this.plans.set(key, { ...plan, info: p });
    }
    const readback = (size) => d.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.accRead = readback(16);
    this.probsRead = readback(DOC.classes * 4);
    const validation = await d.popErrorScope();
    const memory = await d.popErrorScope();
    if (memory) throw new Error(`out of memory for this net at batch ${RUN.batch}: export a smaller --batch-size (${memory.message})`);
    if (validation) throw new Error("WebGPU rejected the kernels or buffers: " + validation.message);
  }

  /** Writes this epoch's order of the first `n` training rows into the batch index. */
  setOrder(n, seed, epoch) {
    this.device.queue.writeBuffer(this.bufs[this.prog.index], 0, epochOrder(n, seed, epoch));
  }

  /**
   * One launch of plan `key` ("train:500", "eval:500", ...) over the rows listed
   * from index[first], at training step `step` with rate `lr`: the words that move
   * patched as Net::launch_info sets them, then one submission.
   */
  launch(key, first, step, lr) {
    const plan = this.plans.get(key);
    const d = this.device, P = DOC.patch, info = plan.info;
    const put = (op, words) => d.queue.writeBuffer(plan.uniforms, op * PARAM_STRIDE, words);
    const gather = Uint32Array.from(info.gather.params);
    gather[P.gather_first] = first;
    gather[P.gather_step] = step;
    put(info.gather.op, gather);
    for (const drop of info.dropouts) {
      const w = Uint32Array.from(drop.params);
      w[P.dropout_step] = step;
      put(drop.op, w);
    }
    if (info.optim) {
      const w = Uint32Array.from(info.optim.params);
      const f = new Float32Array(w.buffer);
      const o = P.optim;
      f[o.lr] = lr;
      if (o.kind === "adam") {
        [f[o.c1], f[o.c2]] = adamCorrections(f[o.beta1], f[o.beta2], step + 1);
      }
      put(info.optim.op, w);
    }
    if (info.ema) {
      const w = Uint32Array.from(info.ema.params);
      new Float32Array(w.buffer)[P.ema_decay] = emaDecay(S.ema, step);
      put(info.ema.op, w);
    }
    const enc = d.createCommandEncoder();
    encodePlan(enc, plan);
    d.queue.submit([enc.finish()]);
    // keep the device at most two launches behind, so progress (and Pause) is honest
    this.inFlight.push(d.queue.onSubmittedWorkDone());
    return this.inFlight.length > 2 ? this.inFlight.shift() : Promise.resolve();
  }

  /** (loss sum, correct, rows) of `which` ("train" or "eval"). */
  async readAcc(which) {
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.bufs[this.prog.acc[which]], 0, this.accRead, 0, 16);
    this.device.queue.submit([enc.finish()]);
    await this.accRead.mapAsync(GPUMapMode.READ);
    const a = new Float32Array(this.accRead.getMappedRange().slice(0));
    this.accRead.unmap();
    this.inFlight = [];
    return [a[0], a[1], a[2]];
  }

  setAcc(which, sums) {
    this.device.queue.writeBuffer(this.bufs[this.prog.acc[which]], 0, new Float32Array([sums[0], sums[1], sums[2], 0]));
  }

  /**
   * Net::swap_ema: exchanges the weights and their average (with --ema), so that
   * what runs between two swaps (evaluation, prediction) reads the average.
   */
  swapEma() {
    if (this.prog.ema === null) return;
    const bytes = this.prog.buffers[this.prog.params].words * 4;
    this.swapScratch ||= this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const [w, a, t] = [this.bufs[this.prog.params], this.bufs[this.prog.ema], this.swapScratch];
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(w, 0, t, 0, bytes);
    enc.copyBufferToBuffer(a, 0, w, 0, bytes);
    enc.copyBufferToBuffer(t, 0, a, 0, bytes);
    this.device.queue.submit([enc.finish()]);
  }

  /** train::evaluate: mean loss and accuracy over `rows` store rows listed from index[first], with the average where the run keeps one. */
  async evaluate(first, rows) {
    const b = RUN.batch;
    this.setAcc("eval", [0, 0, 0]);
    this.swapEma();
    for (let i = 0; i * b < rows; i++) {
      const n = Math.min(b, rows - i * b);
      await this.launch(`eval:${n}`, first + i * b, 0, 0);
    }
    this.swapEma();
    const [loss, hit, n] = await this.readAcc("eval");
    return [loss / n, hit / n];
  }

  /** The model's parameters as they are now: the weights, or with --ema their average (as the CLI saves). */
  async params() {
    const words = this.prog.buffers[this.prog.params].words;
    const rb = this.device.createBuffer({ size: words * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.bufs[this.prog.ema ?? this.prog.params], 0, rb, 0, words * 4);
    this.device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const p = new Float32Array(rb.getMappedRange().slice(0));
    rb.destroy();
    return p;
  }

  /** The ten probabilities of a 28x28 image (bytes), from the drawing row of the store. */
  async predict(img) {
    const words = new Uint32Array(DOC.pixels / 4);
    new Uint8Array(words.buffer).set(img);
    const d = this.device;
    d.queue.writeBuffer(this.bufs[this.prog.store], ROWS.draw * (DOC.pixels / 4) * 4, words);
    // swap, launch, swap back, all submitted before anything else can run (a
    // training step between them would train the average)
    this.swapEma();
    const launched = this.launch("predict:1", ROWS.draw, 0, 0);
    this.swapEma();
    await launched;
    const enc = d.createCommandEncoder();
    enc.copyBufferToBuffer(this.bufs[this.prog.probs], 0, this.probsRead, 0, DOC.classes * 4);
    d.queue.submit([enc.finish()]);
    await this.probsRead.mapAsync(GPUMapMode.READ);
    const p = new Float32Array(this.probsRead.getMappedRange().slice(0));
    this.probsRead.unmap();
    return p;
  }
}

/** model.safetensors as `gpunet train` writes it, for `params` after `steps` steps. */
async function checkpointBytes(params, steps) {
  const c = DOC.checkpoint;
  const words = run.trainer.blob.subarray(c.template[0], c.template[0] + Math.ceil(c.template[1] / 4));
  const bytes = new Uint8Array(words.buffer, words.byteOffset, c.template[1]).slice();
  const view = new DataView(bytes.buffer);
  for (const [at, word, len] of c.floats) {
    for (let i = 0; i < len; i++) view.setFloat32(at + 4 * i, params[word + i], true);
  }
  for (const at of c.steps) view.setBigInt64(at, BigInt(steps), true);
  // each tensor's sha256, which `gpunet` checks on load, in the header's place for it;
  // then the header's own, over the length prefix and the header with its place
  // read as the template's zeros (model/checksum.rs)
  const sha256 = async (part) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", part));
    return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const put = (at, hex) => { for (let i = 0; i < 64; i++) bytes[at + i] = hex.charCodeAt(i); };
  for (const [hexAt, dataAt, len] of c.sums) put(hexAt, await sha256(bytes.subarray(dataAt, dataAt + len)));
  const [headerAt, headerEnd] = c.header;
  put(headerAt, await sha256(bytes.subarray(0, headerEnd)));
  return bytes;
}

// ---- the run: train::train's loop, with Pause between steps

/** Where training stands; a paused run continues from here. */
const run = {
  trainer: null,
  epoch: 0,
  batch: 0,
  step: 0,
  acc: [0, 0, 0],
  epochs: RUN.epochs,
  lr: S.lr,
  limit: null,
  seed: S.seed,
  paused: false,
  running: false,
  done: false,
  lastGood: null, // a host copy of the weights after each epoch, kept if the device is lost
  curve: [], // [step, train loss, train accuracy]
  val: [], // [step, val loss, val accuracy]
  losses: [], // with `perStepLoss`: each step's mean loss
  test: null,
  imagesPerS: null,
};

function log(line) {
  const el = $("log");
  el.textContent += line + "\n";
  el.scrollTop = el.scrollHeight;
}

/**
 * Trains until the run's epochs are done, Pause is pressed, or `maxSteps` more
 * steps ran (a test's handful); `perStepLoss` reads the loss after every step.
 */
async function train({ maxSteps = Infinity, perStepLoss = false } = {}) {
  const t = run.trainer;
  const b = RUN.batch;
  const nTrain = run.limit ? Math.max(b, Math.floor(Math.min(run.limit, ROWS.train) / b) * b) : ROWS.train;
  const nb = Math.ceil(nTrain / b);
  const logEvery = Math.max(1, Math.floor(nb / 20));
  run.running = true;
  buttons();
  show(`training: epoch ${run.epoch + 1}/${run.epochs}, batch ${run.batch + 1}/${nb}…`);
  let steps = 0, trained = 0, busySeconds = 0;
  try {
    while (run.epoch < run.epochs) {
      const t0 = performance.now();
      t.setOrder(nTrain, run.seed, run.epoch);
      t.setAcc("train", run.acc);
      if (run.batch === 0) log(`Epoch ${run.epoch + 1}/${run.epochs}`);
      const epochLr = scheduleLr(SCHEDULE, run.lr, run.step - run.batch, nb, run.epochs);
      for (; run.batch < nb; ) {
        if (run.paused || steps >= maxSteps) {
          run.acc = await t.readAcc("train");
          busySeconds += (performance.now() - t0) / 1000;
          return report(trained, busySeconds);
        }
        const n = Math.min(b, nTrain - run.batch * b);
        await t.launch(`train:${n}`, run.batch * b, run.step, scheduleLr(SCHEDULE, run.lr, run.step, nb, run.epochs));
        run.step++;
        run.batch++;
        steps++;
        trained += n;
        if (perStepLoss || run.batch % logEvery === 0 || run.batch === nb) {
          const before = run.acc;
          run.acc = await t.readAcc("train");
          if (perStepLoss) run.losses.push((run.acc[0] - before[0]) / (run.acc[2] - before[2]));
          const [l, h, r] = run.acc;
          if (!Number.isFinite(l)) throw new Error(`the training loss became non-finite in epoch ${run.epoch + 1}; try a lower learning rate`);
          run.curve.push([run.step, l / r, h / r]);
          const secs = (performance.now() - t0) / 1000;
          show(`epoch ${run.epoch + 1}/${run.epochs} · batch ${run.batch}/${nb} · loss ${(l / r).toFixed(4)} · accuracy ${(h / r).toFixed(4)} · ${(r / secs).toFixed(1)} images/s`);
          $("progress").value = run.epoch + run.batch / nb;
          draw();
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      busySeconds += seconds;
      const [l, h, r] = run.acc;
      let line = `Epoch ${run.epoch + 1}/${run.epochs} - ${seconds.toFixed(1)}s - loss: ${(l / r).toFixed(4)} - accuracy: ${(h / r).toFixed(4)}`;
      if (ROWS.val > 0) {
        const [vl, va] = await t.evaluate(ROWS.train, ROWS.val);
        run.val.push([run.step, vl, va]);
        line += ` - val_loss: ${vl.toFixed(4)} - val_accuracy: ${va.toFixed(4)} (lr ${epochLr.toExponential(2)})`;
      }
      log(line);
      run.epoch++;
      run.batch = 0;
      run.acc = [0, 0, 0];
      run.lastGood = { params: await t.params(), steps: run.step };
      draw();
      card.refresh();
    }
    if (ROWS.test > 0) {
      const [tl, ta] = await t.evaluate(ROWS.train + ROWS.val, ROWS.test);
      run.test = { loss: tl, accuracy: ta };
      log(`test (embedded t10k, ${ROWS.test} images): loss ${tl.toFixed(4)} - accuracy ${ta.toFixed(4)}`);
    }
    run.done = true;
    return report(trained, busySeconds);
  } finally {
    run.running = false;
    buttons();
  }
}

function report(trained, seconds) {
  run.imagesPerS = trained / Math.max(seconds, 1e-9);
  show(`${run.done ? "done" : "paused"} after ${run.step} steps · ${run.imagesPerS.toFixed(1)} images/s over this stretch`);
  return {
    test_accuracy: run.test ? run.test.accuracy : null,
    images_per_s: run.imagesPerS,
    losses: run.losses.slice(),
    steps: run.step,
    epoch: run.epoch,
    done: run.done,
  };
}

// ---- the page

function show(text) {
  $("status").textContent = `${run.trainer ? run.trainer.adapter + " · " + run.trainer.prog.class + " · " : ""}${text}`;
}

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.style.display = "block";
}

function buttons() {
  const ready = !!run.trainer;
  $("train").disabled = !ready || run.running || run.done;
  $("train").textContent = run.step > 0 && !run.done ? "Resume" : "Train";
  $("pause").disabled = !run.running;
  $("download").disabled = !ready || run.step === 0 || run.running;
}

/** The chart: training loss and accuracy as logged, validation per epoch, against steps. */
function draw() {
  const cv = $("chart");
  const ctx = cv.getContext("2d");
  const W = cv.width, H = cv.height, pad = 44, gap = 40, w = (W - 2 * pad - gap) / 2, h = H - 2 * 24;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "12px system-ui, sans-serif";
  const total = Math.max(1, run.epochs * Math.ceil((run.limit || ROWS.train) / RUN.batch));
  const losses = run.curve.map((c) => c[1]).concat(run.val.map((v) => v[1]));
  const maxLoss = Math.max(0.1, ...losses.filter(Number.isFinite));
  // accuracy from 0.8 up, or from the lowest tenth seen so far
  const accs = run.curve.map((c) => c[2]).concat(run.val.map((v) => v[2]));
  const lowAcc = Math.min(0.8, Math.floor(10 * Math.min(1, ...accs.filter(Number.isFinite))) / 10);
  const panels = [
    { x0: pad, title: "loss", idx: 1, lo: 0, hi: maxLoss },
    { x0: pad + w + gap + pad / 2, title: "accuracy", idx: 2, lo: lowAcc, hi: 1 },
  ];
  for (const p of panels) {
    const X = (s) => p.x0 + (s / total) * w;
    const Y = (v) => 24 + h - ((Math.min(Math.max(v, p.lo), p.hi) - p.lo) / (p.hi - p.lo)) * h;
    ctx.strokeStyle = "#d0d7de";
    ctx.strokeRect(p.x0, 24, w, h);
    ctx.fillStyle = "#656d76";
    ctx.fillText(p.title, p.x0, 16);
    for (let k = 0; k <= 4; k++) {
      const v = p.lo + ((p.hi - p.lo) * k) / 4;
      ctx.fillText(p.idx === 2 ? v.toFixed(2) : v.toPrecision(2), p.x0 - 38, Y(v) + 4);
    }
    ctx.fillText(`${total} steps`, p.x0 + w - 54, 24 + h + 16);
    for (const [series, colour] of [[run.curve, "#0969da"], [run.val, "#bc4c00"]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.beginPath();
      series.forEach((c, i) => (i ? ctx.lineTo(X(c[0]), Y(c[p.idx])) : ctx.moveTo(X(c[0]), Y(c[p.idx]))));
      ctx.stroke();
    }
  }
}

async function download() {
  const bytes = await checkpointBytes(await run.trainer.params(), run.step);
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "model.safetensors";
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const about = $("about");
const name = document.createElement("b");
name.textContent = DOC.arch;
const spec = document.createElement("code");
spec.textContent = DOC.spec;
about.append(name, ` · ${DOC.parameters.toLocaleString("en")} parameters · `, spec);
about.append(
  ` · ${ROWS.train.toLocaleString("en")} training, ${ROWS.val.toLocaleString("en")} validation, ${ROWS.test.toLocaleString("en")} test images of ${DOC.data}` +
    ` · batch ${RUN.batch}, ${S.optimizer}, lr schedule ${S.lr_schedule}, augment ${S.augment}, seed ${S.seed} · exported by ${DOC.generator}`
);
$("epochs").value = RUN.epochs;
$("lr").value = Number(S.lr.toPrecision(6));
$("epochs").addEventListener("change", () => {
  run.epochs = Math.max(run.epoch + (run.batch > 0 ? 1 : 0), Math.max(1, Math.floor(Number($("epochs").value) || 1)));
  $("epochs").value = run.epochs;
  run.done = run.epoch >= run.epochs;
  $("progress").max = run.epochs;
  buttons();
});
$("lr").addEventListener("change", () => {
  const lr = Number($("lr").value);
  if (lr > 0 && Number.isFinite(lr)) run.lr = lr;
  $("lr").value = Number(run.lr.toPrecision(6));
});
$("train").addEventListener("click", () => {
  run.paused = false;
  buttons();
  train().catch((e) => problem("Training stopped: " + e.message));
});
$("pause").addEventListener("click", () => (run.paused = true));
$("download").addEventListener("click", () => download().catch((e) => problem("The download failed: " + e.message)));
$("progress").max = run.epochs;
card.onError = problem;
clearPad();
draw();
// the pad draws digits: other data trains without it
if (!DOC.digits) $("draw-card").style.display = "none";

/** The test hook. */
const hook = {
  ready: null,
  /** Trains as the page's Train button does (`epochs`, `limit` rows cut to whole batches, `seed` of the shuffle, `lr`), or `steps` steps only. */
  async train({ epochs, limit, seed, lr, steps, perStepLoss } = {}) {
    if (epochs) run.epochs = epochs;
    if (limit) run.limit = limit;
    if (seed !== undefined) run.seed = seed;
    if (lr) run.lr = lr;
    run.paused = false;
    run.done = run.epoch >= run.epochs;
    return train({ maxSteps: steps ?? Infinity, perStepLoss: !!perStepLoss });
  },
  pause: () => (run.paused = true),
  status: () => ({ epoch: run.epoch, batch: run.batch, step: run.step, running: run.running, done: run.done }),
  /** model.safetensors of the weights as they are now, base64. */
  async checkpoint() {
    const bytes = await checkpointBytes(await run.trainer.params(), run.step);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  },
  /** The parameter buffer, base64 (the tests compare it with the CLI's). */
  async params() {
    const b = new Uint8Array((await run.trainer.params()).buffer);
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    return btoa(s);
  },
  get last() {
    return card.last;
  },
  busy: () => card.busy(),
};
window.gpunet = hook;

const forced = new URLSearchParams(location.search).get("class");
hook.ready = Trainer.open(forced === "cpu" || forced === "gpu" ? forced : null).then(
  (t) => {
    run.trainer = t;
    show("ready: press Train");
    buttons();
    if (DOC.digits) {
      card.predictor = (img) => t.predict(img);
      card.refresh();
    }
    t.lost.then((info) => {
      run.paused = true;
      const kept = run.lastGood ? ` The weights after epoch ${run.epoch} are kept: Download model still saves them.` : "";
      if (run.lastGood) run.trainer.params = async () => run.lastGood.params;
      problem(`The WebGPU device was lost (${info.reason || "unknown"}): ${info.message}.${kept} Reload the page to train again.`);
    });
    return t.adapter;
  },
  (e) => {
    if (e instanceof NoWebGPU) {
      problem(e.advice("trains its network"));
    } else {
      problem("WebGPU could not start the training: " + e.message);
    }
    throw e;
  }
);
