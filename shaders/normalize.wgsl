//! Input standardisation (`--normalize standard`), in place after the gather:
//! each value x (already pixels / scale) of channel c becomes (x - mean[c]) ·
//! inv_std[c]. Images are (N, C, H, W); C is at most 4.

struct Normalize {
    n: u32,         // values in the batch (N·C·H·W)
    plane: u32,     // values per channel (H·W)
    channels: u32,  // C
    _u3: u32, _v: vec4<u32>,
    mean: vec4<f32>,
    inv_std: vec4<f32>,
}

@group(0) @binding(0) var<uniform> nm: Normalize;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= nm.n) { return; }
    let c = (i / nm.plane) % nm.channels;
    x[i] = (x[i] - nm.mean[c]) * nm.inv_std[c];
}
