//! Softmax + cross-entropy, fused and numerically stable (the row max is
//! subtracted before exp). One invocation per row: rows are short (10 classes).
//! softmax_xent OVERWRITES dlogits with (softmax - target) / denom, writes each
//! row's loss and whether its argmax hit the label; the target is the one-hot
//! label, or with label smoothing s (1 - s)·onehot + s/C, the loss
//! -Σ target·log softmax. xent_accumulate adds a
//! batch's sums into a running (loss, correct) pair so an epoch needs one readback;
//! xent_sums is softmax_xent that does that itself (kernels::fuse), in one
//! workgroup that visits the rows as xent_accumulate does, so the sums come out
//! the same. softmax_xent keeps its 64 lanes a workgroup: one of 256 for a few
//! rows cost lavapipe a quarter more.
//#include reduce.wgsl

struct Xent {
    n: u32, c: u32,
    denom: u32,          // rows the mean is taken over (the batch size)
    _u3: u32, _v: vec4<u32>,
    smoothing: f32,      // label smoothing s in [0, 1); 0: the one-hot target
    _f1: f32, _f2: f32, _f3: f32, _f4: vec4<f32>,
}

@group(0) @binding(0) var<uniform> xp: Xent;
// softmax_xent, xent_sums
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;  // (N, C)
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;     // (N)
@group(0) @binding(3) var<storage, read_write> correct: array<f32>;  // (N), 1.0 or 0.0
@group(0) @binding(4) var<storage, read_write> acc_out: array<f32>; // (4), as xent_accumulate's acc: xent_sums
@group(0) @binding(5) var<storage, read> logits: array<f32>;         // (N, C)
@group(0) @binding(6) var<storage, read> labels: array<u32>;         // (N), < C
// xent_accumulate
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;      // (4): loss sum, correct, rows, 0
@group(0) @binding(2) var<storage, read> loss_in: array<f32>;        // (N)
@group(0) @binding(3) var<storage, read> correct_in: array<f32>;     // (N)
// softmax
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;    // (N, C)
@group(0) @binding(2) var<storage, read> logits_in: array<f32>;      // (N, C)

@compute @workgroup_size(64)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3<u32>) {
    _ = &acc_out; // the slot xent_sums writes stays in the shared layout
    if (gid.x < xp.n) { xent_row(gid.x); }
}

@compute @workgroup_size(256)
fn xent_sums(lane: Lane) {
    var l = 0.0;
    var h = 0.0;
    for (var r = lane.li; r < xp.n; r += 256u) {
        let v = xent_row(r);
        l += v.x;
        h += v.y;
    }
    let total = workgroup_sum(lane, vec2<f32>(l, h));
    if (lane.li == 0u) {
        acc_out[0] += total.x;
        acc_out[1] += total.y;
        acc_out[2] += f32(xp.n);
    }
}

// Row r's gradient, loss and hit; returns (loss, hit).
fn xent_row(r: u32) -> vec2<f32> {
    let base = r * xp.c;
    var mx = logits[base];
    var arg = 0u;
    for (var j = 1u; j < xp.c; j++) {
        if (logits[base + j] > mx) { mx = logits[base + j]; arg = j; }
    }
    var sum = 0.0;
    for (var j = 0u; j < xp.c; j++) { sum += exp(logits[base + j] - mx); }
    // labels are checked on load; the clamp keeps a bad one inside its row regardless
    let label = min(labels[r], xp.c - 1u);
    let spread = xp.smoothing / f32(xp.c);
    // Σ target·(z - max); with no smoothing only the label's term is not zero
    var hit = 0.0;
    for (var j = 0u; j < xp.c; j++) {
        hit += (select(0.0, 1.0 - xp.smoothing, j == label) + spread) * (logits[base + j] - mx);
    }
    let row_loss = log(sum) - hit;
    let row_hit = select(0.0, 1.0, arg == label);
    loss[r] = row_loss;
    correct[r] = row_hit;
    let inv = 1.0 / f32(xp.denom);
    for (var j = 0u; j < xp.c; j++) {
        let p = exp(logits[base + j] - mx) / sum;
        dlogits[base + j] = (p - (select(0.0, 1.0 - xp.smoothing, j == label) + spread)) * inv;
    }
    return vec2<f32>(row_loss, row_hit);
}

@compute @workgroup_size(256)
fn xent_accumulate(lane: Lane) {
    let li = lane.li;
    var l = 0.0;
    var h = 0.0;
    for (var r = li; r < xp.n; r += 256u) {
        l += loss_in[r];
        h += correct_in[r];
    }
    let total = workgroup_sum(lane, vec2<f32>(l, h));
    if (li == 0u) {
        acc[0] += total.x;
        acc[1] += total.y;
        acc[2] += f32(xp.n);
    }
}

@compute @workgroup_size(64)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= xp.n) { return; }
    let base = r * xp.c;
    var mx = logits_in[base];
    for (var j = 1u; j < xp.c; j++) { mx = max(mx, logits_in[base + j]); }
    var sum = 0.0;
    for (var j = 0u; j < xp.c; j++) { sum += exp(logits_in[base + j] - mx); }
    for (var j = 0u; j < xp.c; j++) { probs[base + j] = exp(logits_in[base + j] - mx) / sum; }
}
