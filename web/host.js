// The page's host logic that must run in the browser, each function the twin
// of Rust code it must equal bit for bit: the counter hash (src/cpu/dropout.rs,
// `pcg`) and the epoch order (src/train.rs, `epoch_order`), as shipping each
// epoch's order would cost megabytes; the rate schedules (src/schedule.rs,
// `Schedule::lr`) and Adam's bias corrections (src/kernels/dims.rs,
// `AdamDims::new`), as the page lets its visitor change the epochs, the rows
// and the rate, so no table of rates could be made ahead. tests/node_parity.rs runs these
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

/** AdamDims::new's bias corrections at step t (from 1): [1 / (1 - beta1^t), 1 / (1 - beta2^t)], as f32. */
function adamCorrections(beta1, beta2, t) {
  return [Math.fround(1 / (1 - powi(beta1, t))), Math.fround(1 / (1 - powi(beta2, t)))];
}
