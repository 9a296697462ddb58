//! Global average pooling: (N, C, H, W) -> (N, C), each plane's mean. Forward
//! sums a plane in order (one invocation a plane) and divides by H·W; backward
//! OVERWRITES every input gradient with its plane's output gradient / (H·W).

struct Gap {
    planes: u32,  // N·C
    hw: u32,      // H·W
    _u2: u32, _u3: u32, _v: vec4<u32>,
    _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> gp: Gap;
// forward
@group(0) @binding(1) var<storage, read_write> y: array<f32>;   // (N, C)
@group(0) @binding(2) var<storage, read> x: array<f32>;         // (N, C, H, W)
// backward
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;  // (N, C, H, W)
@group(0) @binding(2) var<storage, read> dy: array<f32>;        // (N, C)

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn gap_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = flat(gid, nwg);
    if (p >= gp.planes) { return; }
    var s = 0.0;
    for (var i = 0u; i < gp.hw; i++) { s += x[p * gp.hw + i]; }
    y[p] = s / f32(gp.hw);
}

@compute @workgroup_size(256)
fn gap_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= gp.planes * gp.hw) { return; }
    dx[i] = dy[i / gp.hw] / f32(gp.hw);
}
