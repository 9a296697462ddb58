//! ReLU. The forward pass is usually fused into matmul/conv2d epilogues; this
//! standalone forward exists for layers without one. Backward works in place on
//! the incoming gradient (it OVERWRITES dY with dY·[Y > 0]).

struct Relu {
    n: u32,
    _u1: u32, _u2: u32, _u3: u32, _v: vec4<u32>,
    _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> rl: Relu;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;   // forward: (n) output
@group(0) @binding(2) var<storage, read> x: array<f32>;         // forward: (n) input
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;  // backward: (n) in/out
@group(0) @binding(2) var<storage, read> y_in: array<f32>;      // backward: (n) forward output

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i < rl.n) { y[i] = max(x[i], 0.0); }
}

@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i < rl.n) { dy[i] = select(0.0, dy[i], y_in[i] > 0.0); }
}
