//! Max-pool k×k, stride k, floor (a trailing partial window is dropped: 7 -> 3).
//! Forward keeps the flat input index of each window's first maximum; backward
//! routes the gradient through it and OVERWRITES every input gradient (0 elsewhere).

struct Pool {
    n: u32, c: u32, h: u32, w: u32, k: u32,
    _u5: u32, _u6: u32, _u7: u32,
    _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> pl: Pool;
// forward
@group(0) @binding(1) var<storage, read_write> y: array<f32>;      // (N, C, H/k, W/k)
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>; // (N, C, H/k, W/k)
@group(0) @binding(3) var<storage, read> x: array<f32>;            // (N, C, H, W)
// backward
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;     // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;           // (N, C, H/k, W/k)
@group(0) @binding(3) var<storage, read> arg_in: array<u32>;       // (N, C, H/k, W/k)

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn maxpool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let oh = pl.h / pl.k;
    let ow = pl.w / pl.k;
    let o = flat(gid, nwg);
    if (o >= pl.n * pl.c * oh * ow) { return; }
    let plane = o / (oh * ow);
    let oy = (o % (oh * ow)) / ow;
    let ox = o % ow;
    var best_i = (plane * pl.h + oy * pl.k) * pl.w + ox * pl.k;
    var best = x[best_i];
    for (var dy_ = 0u; dy_ < pl.k; dy_++) {
        for (var dx_ = 0u; dx_ < pl.k; dx_++) {
            let i = (plane * pl.h + oy * pl.k + dy_) * pl.w + ox * pl.k + dx_;
            if (x[i] > best) { best = x[i]; best_i = i; }
        }
    }
    y[o] = best;
    argmax[o] = best_i;
}

@compute @workgroup_size(256)
fn maxpool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= pl.n * pl.c * pl.h * pl.w) { return; }
    let oh = pl.h / pl.k;
    let ow = pl.w / pl.k;
    let plane = i / (pl.h * pl.w);
    let oy = ((i / pl.w) % pl.h) / pl.k;
    let ox = (i % pl.w) / pl.k;
    var g = 0.0;
    if (oy < oh && ox < ow) {
        let o = (plane * oh + oy) * ow + ox;
        if (arg_in[o] == i) { g = dy[o]; }
    }
    dx[i] = g;
}
