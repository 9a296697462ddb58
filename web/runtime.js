// gpunet's browser runtime: opens a WebGPU device, and replays the prediction
// plans `gpunet export-web` recorded from a net (kernel entry points, buffer
// views, parameter blocks, workgroup counts) with the WGSL sources the binary
// embeds. It knows nothing of layers: what runs is exactly the plan's op list.
"use strict";

/** Thrown where the browser cannot run WebGPU at all; the page says so. */
class NoWebGPU extends Error {
  /** The message, then where WebGPU is found, for a page that `does` something ("runs its model"). */
  advice(does) {
    return (
      this.message +
      ` This page ${does} on the GPU through WebGPU, which current Chrome and Edge (113+) ship on desktop;` +
      " Safari and Firefox ship it on some systems and can enable it elsewhere. Open the file in such a browser."
    );
  }
}

function decodeBase64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The adapter's name as the browser reports it (fields may be blank for privacy). */
function adapterName(adapter) {
  const i = adapter.info || {};
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s);
  const name = parts.length ? parts.join(" · ") : "an adapter the browser does not name";
  return adapter.isFallbackAdapter || (i.isFallbackAdapter ?? false) ? name + " (software fallback)" : name;
}

// Uniform parameter blocks are 64 bytes; WebGPU binds uniforms at 256-byte offsets.
const PARAM_STRIDE = 256;

/**
 * The high-performance adapter and a device with its largest buffer limits (they
 * bound the batch) and those of `features` it offers: { adapter, device, features }.
 * An adapter may expire before its device is made (the browser's GPU process
 * restarted: requestDevice rejects with an OperationError); WebGPU's answer is
 * a fresh adapter, so that is asked for once more.
 */
async function openDevice(features) {
  if (!navigator.gpu) {
    throw new NoWebGPU("This browser has no WebGPU (navigator.gpu is missing).");
  }
  for (let attempt = 1; ; attempt++) {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) {
      throw new NoWebGPU("This browser has WebGPU, but it offers no adapter (it may be disabled or blocklisted).");
    }
    const want = (name) => adapter.limits[name];
    const offered = features.filter((f) => adapter.features.has(f));
    try {
      const device = await adapter.requestDevice({
        requiredFeatures: offered,
        requiredLimits: {
          maxStorageBufferBindingSize: want("maxStorageBufferBindingSize"),
          maxBufferSize: want("maxBufferSize"),
        },
      });
      return { adapter, device, features: offered };
    } catch (e) {
      if (attempt >= 2 || e.name !== "OperationError") throw e;
      console.warn(`requestDevice failed (${e.message}); asking for a fresh adapter`);
    }
  }
}

/** The bytes of a base64 text deflated with zlib framing (the Compression Streams' "deflate"). */
async function inflate(text) {
  const stream = new Blob([decodeBase64(text)]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The module an op runs in (a key of the page's shaders): its file and core, with subgroup or tree sums. */
function moduleOf(op, subgroups) {
  return op.module + "|" + (subgroups && op.reduce ? "subgroup" : "tree");
}

/**
 * The pipelines `ops` run, each op's module named by `moduleFor(op)` (a key of
 * `shaders`): Map "module:entry" -> GPUComputePipeline. A module that does not
 * compile throws, naming its file, line and column.
 */
async function compilePipelines(device, shaders, ops, moduleFor) {
  const modules = new Map();
  const pipelines = new Map();
  for (const op of ops) {
    const name = moduleFor(op);
    const key = name + ":" + op.kernel;
    if (pipelines.has(key)) continue;
    if (!modules.has(name)) {
      const module = device.createShaderModule({ label: name, code: shaders[name] });
      const info = await module.getCompilationInfo();
      const m = info.messages.find((x) => x.type === "error");
      if (m) throw new Error(`${name}:${m.lineNum}:${m.linePos}: ${m.message}`);
      modules.set(name, module);
    }
    const compute = { module: modules.get(name), entryPoint: op.kernel };
    pipelines.set(key, await device.createComputePipelineAsync({ label: op.kernel, layout: "auto", compute }));
  }
  return pipelines;
}

/** One plan, made once: a parameter slot (PARAM_STRIDE apart) and a bind group per op. */
function preparePlan(device, bufs, ops, pipelineOf) {
  const uniforms = device.createBuffer({
    label: "params",
    size: PARAM_STRIDE * Math.max(1, ops.length),
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const steps = ops.map((op, i) => {
    device.queue.writeBuffer(uniforms, i * PARAM_STRIDE, new Uint32Array(op.params));
    const pipeline = pipelineOf(op);
    const entries = [{ binding: 0, resource: { buffer: uniforms, offset: i * PARAM_STRIDE, size: 64 } }];
    op.views.forEach(([buf, offset, len], j) => {
      entries.push({ binding: j + 1, resource: { buffer: bufs[buf], offset: offset * 4, size: len * 4 } });
    });
    const group = device.createBindGroup({ label: op.kernel, layout: pipeline.getBindGroupLayout(0), entries });
    return { pipeline, group, groups: op.groups };
  });
  return { uniforms, steps };
}

/** One compute pass running every op of a prepared plan. */
function encodePlan(encoder, plan) {
  const pass = encoder.beginComputePass();
  for (const s of plan.steps) {
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.group);
    pass.dispatchWorkgroups(s.groups[0], s.groups[1], s.groups[2]);
  }
  pass.end();
}

class Runtime {
  /** Opens the adapter and device and compiles the kernels `doc` uses. */
  static async open(doc) {
    const { adapter, device } = await openDevice([]);
    const rt = new Runtime(doc, adapter, device);
    await rt.compile();
    return rt;
  }

  constructor(doc, adapter, device) {
    this.doc = doc;
    this.adapter = adapterName(adapter);
    this.device = device;
    this.lost = device.lost.then((info) => info);
    this.pipelines = null; // "module:entry" -> GPUComputePipeline
    this.models = [];
    this.queue = Promise.resolve(); // one prediction at a time (readback buffers are shared)
  }

  async compile() {
    const d = this.device;
    const ops = this.doc.models.flatMap((m) => Object.values(m.plans).flat());
    this.pipelines = await compilePipelines(d, this.doc.shaders, ops, (op) => moduleOf(op, false));
    const data = new Uint32Array((await inflate(this.doc.blob)).buffer, 0, this.doc.words);
    d.pushErrorScope("validation");
    for (const m of this.doc.models) this.models.push(this.load(m, data));
    const err = await d.popErrorScope();
    if (err) throw new Error("WebGPU rejected the kernels or buffers: " + err.message);
  }

  /** A model's buffers (their initial contents from the page's blob, `data`) and its plans, ready to run. */
  load(m, data) {
    const d = this.device;
    const bufs = m.buffers.map((b) => {
      const buf = d.createBuffer({
        label: b.label,
        size: Math.max(1, b.words) * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      if (b.data) d.queue.writeBuffer(buf, 0, data, b.data[0], b.data[1]);
      return buf;
    });
    const plans = new Map();
    for (const [n, ops] of Object.entries(m.plans)) {
      plans.set(Number(n), preparePlan(d, bufs, ops, (op) => this.pipelines.get(moduleOf(op, false) + ":" + op.kernel)));
    }
    const readback = d.createBuffer({
      label: "probabilities readback",
      size: this.doc.batch * this.doc.classes * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return { spec: m, bufs, plans, readback };
  }

  /**
   * Class probabilities of `n` images (`pixels`: n·size bytes 0..255, each image
   * channels first, size = C·H·W) from every model:
   * { members: [Float32Array(n·classes)], mean: Float32Array(n·classes) }.
   */
  predict(pixels, n) {
    const run = this.queue.then(() => this.predictNow(pixels, n));
    this.queue = run.catch(() => {});
    return run;
  }

  async predictNow(pixels, n) {
    const { batch, classes, size } = this.doc;
    // the image store holds four bytes to a word, low byte first, each row from a word boundary
    const stride = Math.ceil(size / 4) * 4;
    const members = [];
    for (const model of this.models) {
      const out = new Float32Array(n * classes);
      for (let first = 0; first < n; first += batch) {
        const rows = Math.min(batch, n - first);
        // one image runs the 1-row plan; anything else the batch plan, padded with blank rows
        const plan = rows === 1 ? 1 : batch;
        const chunk = new Uint8Array(plan * stride);
        for (let r = 0; r < rows; r++) {
          chunk.set(pixels.subarray((first + r) * size, (first + r + 1) * size), r * stride);
        }
        out.set(await this.runPlan(model, plan, chunk, rows), first * classes);
      }
      members.push(out);
    }
    const mean = new Float32Array(n * classes);
    for (const p of members) for (let i = 0; i < mean.length; i++) mean[i] += p[i] / members.length;
    return { members, mean };
  }

  async runPlan(model, n, pixels, rows) {
    const d = this.device;
    const classes = this.doc.classes;
    d.queue.writeBuffer(model.bufs[model.spec.store], 0, pixels);
    const enc = d.createCommandEncoder();
    encodePlan(enc, model.plans.get(n));
    enc.copyBufferToBuffer(model.bufs[model.spec.probs], 0, model.readback, 0, rows * classes * 4);
    d.queue.submit([enc.finish()]);
    await model.readback.mapAsync(GPUMapMode.READ, 0, rows * classes * 4);
    const probs = new Float32Array(model.readback.getMappedRange(0, rows * classes * 4).slice(0));
    model.readback.unmap();
    return probs;
  }
}
