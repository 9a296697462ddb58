// The page's host logic that must run in the browser, each function the twin
// of Rust code it must equal bit for bit: the counter hash (src/cpu/dropout.rs,
// `pcg`) and the epoch order (src/train.rs, `epoch_order`); shipping each
// epoch's order instead would cost megabytes. tests/node_parity.rs runs these
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
