// The selftest page: every kernel case `gpunet export-web --selftest` carried,
// run on this browser's WebGPU adapter under each adapter class's kernel choices
// it supports, compared with the CPU twins' outputs as `gpunet selftest` does;
// a table per class, and `window.gpunet`, the hook the tests use.
"use strict";

const DOC = JSON.parse(document.getElementById("gpunet-data").textContent);
const $ = (id) => document.getElementById(id);
/** What output views hold before a kernel runs (selftest::UNWRITTEN): a quiet NaN. */
const UNWRITTEN = 0x7fc00000;

/** A running comparison, as selftest::Cmp: max errors and the first element out of tolerance. */
function newCmp() {
  return { maxAbs: 0, maxRel: 0, firstBad: null };
}

/**
 * `got` against `want` (Float32Arrays or plain arrays) within |g - w| <= atol + rtol·|w|,
 * in f32 arithmetic like selftest::compare; NaN fails.
 */
function compare(got, want, atol, rtol, cmp) {
  const f = Math.fround;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    const d = Math.abs(f(g - w));
    const bound = f(f(atol) + f(f(rtol) * Math.abs(w)));
    const bad = !(d <= bound);
    cmp.maxAbs = Math.max(cmp.maxAbs, Number.isNaN(d) ? Infinity : d);
    if (w !== 0 && !Number.isNaN(d)) cmp.maxRel = Math.max(cmp.maxRel, f(d / Math.abs(w)));
    if (bad && cmp.firstBad === null) cmp.firstBad = [i, g, w];
  }
}

/** An integer output as numbers, an unwritten word as NaN. */
function asInts(words) {
  return Array.from(words, (x) => (x === UNWRITTEN ? NaN : x));
}

/** Runs one case's launch under one configuration; returns its outcome. */
async function runCase(device, pipeline, c, run, data) {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const bufs = c.bufs.map(([at, len]) => {
    const buf = device.createBuffer({ size: len * 4, usage });
    device.queue.writeBuffer(buf, 0, data, at, len);
    return buf;
  });
  const uniform = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, new Uint32Array(c.params));
  const entries = [{ binding: 0, resource: { buffer: uniform, offset: 0, size: 64 } }];
  c.views.forEach(([b, offset, len], j) => {
    entries.push({ binding: j + 1, resource: { buffer: bufs[b], offset: offset * 4, size: len * 4 } });
  });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(run.groups[0], run.groups[1], run.groups[2]);
  pass.end();
  // each output's whole buffer, guard words included
  const reads = [];
  for (let o = 0; o < c.outputs; o++) {
    const b = c.views[o][0];
    const size = c.bufs[b][1] * 4;
    const rb = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(bufs[b], 0, rb, 0, size);
    reads.push(rb);
  }
  device.queue.submit([enc.finish()]);
  const errors = [await device.popErrorScope(), await device.popErrorScope()].filter((e) => e);
  await Promise.all(reads.map((rb) => rb.mapAsync(GPUMapMode.READ)));
  const out = { kernel: c.kernel, shape: c.shape, cmp: newCmp(), badOutput: null, guardHit: null, error: null };
  if (errors.length) out.error = errors.map((e) => e.message).join("; ");
  reads.forEach((rb, o) => {
    const after = new Uint32Array(rb.getMappedRange().slice(0));
    rb.unmap();
    const [b, offset, len] = c.views[o];
    const before = data.subarray(c.bufs[b][0], c.bufs[b][0] + c.bufs[b][1]);
    for (let i = 0; i < after.length && out.guardHit === null; i++) {
      if ((i < offset || i >= offset + len) && after[i] !== before[i]) out.guardHit = [o, i];
    }
    const got = after.subarray(offset, offset + len);
    const want = data.subarray(c.want[o][0], c.want[o][0] + c.want[o][1]);
    const cmp = newCmp();
    if (c.exact.includes(o)) {
      compare(asInts(got), asInts(want), 0, 0, cmp);
    } else {
      compare(new Float32Array(got.buffer, got.byteOffset, len), new Float32Array(want.buffer, want.byteOffset, len), c.tol[0], c.tol[1], cmp);
    }
    out.cmp.maxAbs = Math.max(out.cmp.maxAbs, cmp.maxAbs);
    out.cmp.maxRel = Math.max(out.cmp.maxRel, cmp.maxRel);
    if (cmp.firstBad !== null && out.badOutput === null) {
      out.badOutput = o;
      out.cmp.firstBad = cmp.firstBad;
    }
  });
  for (const b of [...bufs, uniform, ...reads]) b.destroy();
  out.pass = out.badOutput === null && out.guardHit === null && out.error === null;
  return out;
}

/** One line per outcome, as `gpunet selftest` prints it. */
function line(label, o) {
  const e = (v) => (v === Infinity ? "inf" : v.toExponential(2));
  let s = `[${label}] ${o.kernel} ${o.shape} max_abs ${e(o.cmp.maxAbs)} max_rel ${e(o.cmp.maxRel)} ${o.pass ? "pass" : "FAIL"}`;
  if (o.badOutput !== null) {
    const [i, g, w] = o.cmp.firstBad;
    s += `  (output ${o.badOutput}, index ${i}: got ${g}, want ${w})`;
  }
  if (o.guardHit !== null) s += `  (output ${o.guardHit[0]}: word ${o.guardHit[1]} of its buffer, outside the view, was overwritten)`;
  if (o.error !== null) s += `  (${o.error})`;
  return s;
}

/** The module case `c` runs in under configuration `i` (runtime.js's moduleOf: file|core|sums). */
function runModule(c, i) {
  return moduleOf({ module: c.runs[i].module, reduce: c.reduce }, DOC.configs[i].subgroups);
}

/** Compiles every module the chosen configurations use; a module's error fails its cases. */
async function pipelines(device, configs) {
  const keys = new Set();
  for (const c of DOC.cases) for (const i of configs) keys.add(runModule(c, i) + ":" + c.kernel);
  const modules = new Map(), made = new Map();
  for (const key of keys) {
    const [module, entryPoint] = key.split(":");
    if (!modules.has(module)) {
      const m = device.createShaderModule({ label: module, code: DOC.shaders[module] });
      const info = await m.getCompilationInfo();
      const err = info.messages.find((x) => x.type === "error");
      modules.set(module, err ? { error: `${module}:${err.lineNum}:${err.linePos}: ${err.message}` } : { m });
    }
    const got = modules.get(module);
    if (got.error) {
      made.set(key, got);
      continue;
    }
    try {
      made.set(key, { p: await device.createComputePipelineAsync({ label: entryPoint, layout: "auto", compute: { module: got.m, entryPoint } }) });
    } catch (e) {
      made.set(key, { error: `${module} ${entryPoint}: ${e.message}` });
    }
  }
  return made;
}

function table(label, outcomes) {
  const byKernel = new Map();
  for (const o of outcomes) {
    const k = byKernel.get(o.kernel) || { kernel: o.kernel, cases: 0, failed: 0, maxAbs: 0, maxRel: 0 };
    k.cases++;
    if (!o.pass) k.failed++;
    k.maxAbs = Math.max(k.maxAbs, o.cmp.maxAbs);
    k.maxRel = Math.max(k.maxRel, o.cmp.maxRel);
    byKernel.set(o.kernel, k);
  }
  const rows = [...byKernel.values()];
  const card = document.createElement("div");
  card.className = "card";
  const h = document.createElement("h2");
  h.textContent = label;
  const t = document.createElement("table");
  t.innerHTML = "<tr><th>kernel</th><th>cases</th><th>max abs error</th><th>max rel error</th><th></th></tr>";
  for (const k of rows) {
    const tr = t.insertRow();
    const cells = [k.kernel, k.cases, k.maxAbs.toExponential(2), k.maxRel.toExponential(2), k.failed ? `${k.failed} FAILED` : "pass"];
    cells.forEach((v, i) => {
      const td = tr.insertCell();
      td.textContent = v;
      if (i > 0 && i < 4) td.className = "num";
      if (i === 4) td.className = k.failed ? "fail" : "pass";
    });
  }
  card.append(h, t);
  $("tables").append(card);
  return rows.map((k) => ({ config: label, ...k }));
}

async function selftest() {
  const { adapter, device, features } = await openDevice(["subgroups"]);
  const name = adapterName(adapter);
  hook.adapter = name;
  const info = adapter.info || {};
  const subgroups = features.includes("subgroups");
  const sizes = subgroups ? { min: info.subgroupMinSize ?? null, max: info.subgroupMaxSize ?? null } : null;
  $("adapter").textContent =
    `WebGPU on ${name}` +
    (!subgroups ? " · no subgroups offered" : sizes.min === sizes.max ? ` · subgroups ${sizes.min} wide` : ` · subgroups ${sizes.min}–${sizes.max} wide`);
  device.lost.then((l) => problem(`The WebGPU device was lost (${l.reason || "unknown"}): ${l.message}`));
  const configs = [];
  DOC.configs.forEach((c, i) => {
    if (c.when === "always" || (c.when === "subgroups" && subgroups) || (c.when === "no-subgroups" && !subgroups)) configs.push(i);
  });
  $("verdict").textContent = "unpacking the cases…";
  const bytes = await inflate(DOC.blob);
  const data = new Uint32Array(bytes.buffer, 0, DOC.words);
  $("verdict").textContent = "compiling the kernels…";
  const made = await pipelines(device, configs);
  const total = configs.length * DOC.cases.length;
  let done = 0, passed = 0;
  const kernels = [], failures = [];
  $("progress").max = total;
  for (const i of configs) {
    const label = DOC.configs[i].label;
    const outcomes = [];
    for (const c of DOC.cases) {
      const run = c.runs[i];
      const p = made.get(runModule(c, i) + ":" + c.kernel);
      const o = p.error
        ? { kernel: c.kernel, shape: c.shape, cmp: newCmp(), badOutput: null, guardHit: null, error: p.error, pass: false }
        : await runCase(device, p.p, c, run, data);
      outcomes.push(o);
      if (o.pass) passed++;
      else failures.push(line(label, o));
      done++;
      if (done % 8 === 0 || done === total) {
        $("progress").value = done;
        $("verdict").textContent = `case ${done} of ${total}…`;
        await new Promise((r) => setTimeout(r, 0)); // let the page draw
      }
    }
    kernels.push(...table(label, outcomes));
  }
  const summary = `selftest: ${passed} of ${total} cases passed`;
  $("verdict").textContent = summary;
  $("verdict").className = passed === total ? "ok" : "bad";
  $("failures").textContent = failures.join("\n");
  return { line: summary, passed, total, adapter: name, subgroups: sizes, configs: configs.map((i) => DOC.configs[i].label), kernels, failures };
}

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.style.display = "block";
}

$("about").textContent =
  `${DOC.cases.length} kernel cases of gpunet selftest (seed ${DOC.seed}), forward and backward, each against its CPU twin's ` +
  `outputs, under each adapter class's kernel choices · exported by ${DOC.generator}`;

/** The test hook: `result` once every case has run; `run` resolves to it. */
const hook = { adapter: null, done: false, result: null, run: null };
window.gpunet = hook;
hook.run = selftest().then(
  (r) => {
    hook.result = r;
    hook.done = true;
    return r;
  },
  (e) => {
    problem(e instanceof NoWebGPU ? e.message + " The selftest needs WebGPU (current Chrome and Edge ship it)." : "The selftest stopped: " + e.message);
    $("verdict").textContent = "selftest: not run";
    hook.done = true;
    throw e;
  }
);
