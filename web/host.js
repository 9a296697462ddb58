// The page's host logic that must run in the browser, each function the twin
// of Rust code it must equal bit for bit: the counter hash (src/cpu/dropout.rs,
// `pcg`) and the epoch order (src/train.rs, `epoch_order`), as shipping each
// epoch's order would cost megabytes; the rate schedules (src/schedule.rs,
// `Schedule::lr`) and Adam's bias corrections (src/kernels/dims.rs,
// `AdamDims::new`) and the weights' average's decay (src/optim.rs,
// `ema_decay`), as the page lets its visitor change the epochs, the rows and
// the rate, so no table of rates could be made ahead; MNIST's preparation
// of a drawing (src/data/picture.rs, `to_mnist`). tests/node_parity.rs runs these
// under plain node against the Rust over thousands of inputs. Function
// declarations only: pages paste this file beside their own script.

/** cpu::pcg: the counter hash of dropout, augmentation and the shuffle. */
function pcg(v) {
  const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/**
 * train::epoch_order: the training rows of an epoch, a Fisher-Yates shuffle on
 * pcg. `seed` is a number (exact to 2^53, as the settings' JSON carries it).
 */
function epochOrder(n, seed, epoch) {
  const SHUFFLE_SALT = 0x53485546;
  const lo = seed % 4294967296 >>> 0, hi = Math.floor(seed / 4294967296) >>> 0;
  const key = pcg((lo ^ pcg((hi ^ pcg((epoch ^ SHUFFLE_SALT) >>> 0)) >>> 0)) >>> 0);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = pcg((i ^ key) >>> 0) % (i + 1);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/** f64::powi as it compiles (compiler-rt's __powidf2: repeated squaring). */
function powi(a, b) {
  const recip = b < 0;
  let r = 1;
  b = Math.abs(b);
  for (;;) {
    if (b & 1) r *= a;
    b = Math.floor(b / 2);
    if (b === 0) break;
    a *= a;
  }
  return recip ? 1 / r : r;
}

/** Schedule::parse of the settings' text: const, exp:G, cosine or onecycle. */
function parseSchedule(text) {
  return text.startsWith("exp:") ? { kind: "exp", g: Number(text.slice(4)) } : { kind: text };
}

/** Schedule::lr: the rate of `step` (from 0) of `epochs` epochs of `perEpoch` steps under `schedule`. */
function scheduleLr(schedule, base, step, perEpoch, epochs) {
  base = Math.fround(base);
  const total = Math.max(perEpoch * epochs, 1);
  const cosBetween = (from, to, frac) => to + ((from - to) * (1 + Math.cos(Math.PI * frac))) / 2;
  let lr;
  switch (schedule.kind) {
    case "exp":
      lr = base * powi(schedule.g, Math.floor(step / Math.max(perEpoch, 1)));
      break;
    case "cosine":
      lr = cosBetween(base, 0, Math.min(step / total, 1));
      break;
    case "onecycle": {
      const initial = base / 25, min = initial / 1e4;
      const peak = 0.3 * total - 1, end = total - 1;
      lr = step <= peak ? cosBetween(initial, base, step / peak) : cosBetween(base, min, Math.min((step - peak) / (end - peak), 1));
      break;
    }
    default:
      lr = base;
  }
  return Math.fround(lr);
}

/** optim::ema_decay: the weights' average's decay at `step` (from 0), warming up as min(decay, (1 + step) / (10 + step)) in f32. */
function emaDecay(decay, step) {
  return Math.min(Math.fround(decay), Math.fround(Math.fround(1 + step) / Math.fround(10 + step)));
}

/** AdamDims::new's bias corrections at step t (from 1): [1 / (1 - beta1^t), 1 / (1 - beta2^t)], as f32. */
function adamCorrections(beta1, beta2, t) {
  return [Math.fround(1 / (1 - powi(beta1, t))), Math.fround(1 / (1 - powi(beta2, t)))];
}

/** data::picture's coverage: area-averaging weights; target cell t of `dst` covers source [t·src/dst, (t+1)·src/dst). */
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
 * data::picture::to_mnist: a drawing as MNIST made its digits: crop to the ink's
 * bounding box, fit it into 20x20 keeping the aspect ratio (area-averaged), and
 * place it in 28x28 so its centre of mass is the centre. `ink`: w·h values
 * 0..255. Null where nothing is drawn.
 */
function toMnist(ink, w, h) {
  const SIDE = 28, BOX = 20;
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
