//! Inverted dropout with a counter-based mask: element i of layer `salt` at
//! training step `step` is kept iff hash(seed, step, salt, i) >= threshold
//! (threshold = ceil(p · 2^32)). Kept units scale by 1/(1-p). Backward recomputes
//! the identical mask instead of storing it, and OVERWRITES dX.

struct Dropout {
    n: u32, seed: u32, step: u32, salt: u32, threshold: u32,
    _u5: u32, _u6: u32, _u7: u32,
    scale: f32,          // 1 / (1 - p)
    _f0: f32, _f1: f32, _f2: f32,
    _f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> dp: Dropout;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (n): Y forward, dX backward
@group(0) @binding(2) var<storage, read> src: array<f32>;        // (n): X forward, dY backward

// PCG-style integer permutation: every input bit reaches every output bit.
fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

fn keep(i: u32) -> bool {
    let key = pcg(dp.seed ^ pcg(dp.step ^ pcg(dp.salt)));
    return pcg(i ^ key) >= dp.threshold;
}

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i < dp.n) { out[i] = select(0.0, src[i] * dp.scale, keep(i)); }
}

@compute @workgroup_size(256)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i < dp.n) { out[i] = select(0.0, src[i] * dp.scale, keep(i)); }
}
