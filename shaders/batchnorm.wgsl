//! Batch normalisation of (N, C, HW) activations per channel, as PyTorch defines
//! it (twin: src/cpu/batchnorm.rs). Buffers of 2C values: stats [mean; invstd]
//! (the batch's, kept for backward), running [mean; var], affine [γ; β],
//! dparams [dγ; dβ]. The per-channel reductions run one workgroup per channel,
//! the elementwise passes one invocation per element. Backward OVERWRITES.
//#include reduce.wgsl

struct Bn {
    n: u32, c: u32, hw: u32,
    train: u32,          // bn_forward: 1 normalises with the batch's stats, 0 with the running ones
    _u: vec4<u32>,
    eps: f32, momentum: f32, _f2: f32, _f3: f32,
    _f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> bn: Bn;
// bn_stats: stats, running (in place); x
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> running: array<f32>;
@group(0) @binding(3) var<storage, read> x_s: array<f32>;
// bn_forward: y; x, stats (or running), affine
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x_f: array<f32>;
@group(0) @binding(3) var<storage, read> stats_f: array<f32>;
@group(0) @binding(4) var<storage, read> affine_f: array<f32>;
// bn_backward_params: dparams; dy, x, stats
@group(0) @binding(1) var<storage, read_write> dparams: array<f32>;
@group(0) @binding(2) var<storage, read> dy_p: array<f32>;
@group(0) @binding(3) var<storage, read> x_p: array<f32>;
@group(0) @binding(4) var<storage, read> stats_p: array<f32>;
// bn_backward_input: dx; dy, x, stats, affine, dparams
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dy_i: array<f32>;
@group(0) @binding(3) var<storage, read> x_i: array<f32>;
@group(0) @binding(4) var<storage, read> stats_i: array<f32>;
@group(0) @binding(5) var<storage, read> affine_i: array<f32>;
@group(0) @binding(6) var<storage, read> dparams_i: array<f32>;

const WG: u32 = 256u;
// Address of the e-th value (image-major) of channel c.
fn at(c: u32, e: u32) -> u32 {
    let i = e / bn.hw;
    return (i * bn.c + c) * bn.hw + (e - i * bn.hw);
}

@compute @workgroup_size(256)
fn bn_stats(@builtin(workgroup_id) wid: vec3<u32>, lane: Lane) {
    let li = lane.li;
    let c = wid.x;
    let m = bn.n * bn.hw;
    var s = 0.0;
    for (var e = li; e < m; e += WG) { s += x_s[at(c, e)]; }
    let mean = workgroup_sum(lane, vec2<f32>(s, 0.0)).x / f32(m);
    var q = 0.0;
    for (var e = li; e < m; e += WG) {
        let d = x_s[at(c, e)] - mean;
        q += d * d;
    }
    let sq = workgroup_sum(lane, vec2<f32>(q, 0.0)).x;
    if (li == 0u) {
        let var_b = sq / f32(m);
        stats[c] = mean;
        stats[bn.c + c] = 1.0 / sqrt(var_b + bn.eps);
        let unbiased = select(var_b, var_b * f32(m) / f32(m - 1u), m > 1u);
        running[c] = (1.0 - bn.momentum) * running[c] + bn.momentum * mean;
        running[bn.c + c] = (1.0 - bn.momentum) * running[bn.c + c] + bn.momentum * unbiased;
    }
}

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(256)
fn bn_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= bn.n * bn.c * bn.hw) { return; }
    let c = (i / bn.hw) % bn.c;
    var invstd = stats_f[bn.c + c];
    if (bn.train == 0u) { invstd = 1.0 / sqrt(invstd + bn.eps); }
    y[i] = affine_f[c] * (x_f[i] - stats_f[c]) * invstd + affine_f[bn.c + c];
}

@compute @workgroup_size(256)
fn bn_backward_params(@builtin(workgroup_id) wid: vec3<u32>, lane: Lane) {
    let li = lane.li;
    let c = wid.x;
    let m = bn.n * bn.hw;
    let mean = stats_p[c];
    let invstd = stats_p[bn.c + c];
    var dg = 0.0;
    var db = 0.0;
    for (var e = li; e < m; e += WG) {
        let a = at(c, e);
        dg += dy_p[a] * (x_p[a] - mean) * invstd;
        db += dy_p[a];
    }
    let total = workgroup_sum(lane, vec2<f32>(dg, db));
    if (li == 0u) {
        dparams[c] = total.x;
        dparams[bn.c + c] = total.y;
    }
}

@compute @workgroup_size(256)
fn bn_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= bn.n * bn.c * bn.hw) { return; }
    let c = (i / bn.hw) % bn.c;
    let m = f32(bn.n * bn.hw);
    let invstd = stats_i[bn.c + c];
    let k = affine_i[c] * invstd;
    let xhat = (x_i[i] - stats_i[c]) * invstd;
    dx[i] = k * (dy_i[i] - dparams_i[bn.c + c] / m - xhat * dparams_i[c] / m);
}
