//! conv2d 'same', stride 1, square kernel k (1..7), as implicit GEMM on the shared
//! tiled core. Even k pads (k-1)/2 before and the rest after (Keras/PyTorch 'same').
//! Gradient kernels OVERWRITE their output; the bias gradient is matmul.wgsl's bias_grad.
//!
//!   forward      Y (N,Co,H,W) = W (Co, Ci·k·k) · im2col(X) (Ci·k·k, N·H·W)  (+b)(ReLU)
//!   grad input   dX (N,Ci,H,W) = Wᵗ (Ci, Co·k·k) · col(dY) (Co·k·k, N·H·W)
//!   grad weight  dW (Co, Ci·k·k) = dY (Co, N·H·W) · im2colᵀ(X) (N·H·W, Ci·k·k)
//#include gemm.wgsl

struct Conv {
    n: u32, cin: u32, cout: u32, h: u32, w: u32, k: u32,
    flags: u32,          // bit 0: add bias, bit 1: ReLU (forward only)
    _u: u32,
    _f0: vec4<f32>, _f1: vec4<f32>,
}

const FORWARD: u32 = 0u;
const GRAD_INPUT: u32 = 1u;
const GRAD_WEIGHT: u32 = 2u;

@group(0) @binding(0) var<uniform> cv: Conv;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
// forward: in0 = X, in1 = W; grad input: in0 = dY, in1 = W; grad weight: in0 = dY, in1 = X
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>; // (Co); forward only

// X[n, c, y + dy, x + dx] with zero padding, where (n, y, x) comes from a pixel
// column p = n·H·W + y·W + x and the offset (dy, dx) may be negative.
fn shifted(src_is_in0: bool, channels: u32, n: u32, c: u32, pix: u32, dy: i32, dx: i32) -> f32 {
    let y = i32(pix / cv.w) + dy;
    let x = i32(pix % cv.w) + dx;
    if (y < 0 || x < 0 || y >= i32(cv.h) || x >= i32(cv.w)) { return 0.0; }
    let i = ((n * channels + c) * cv.h + u32(y)) * cv.w + u32(x);
    if (src_is_in0) { return in0[i]; }
    return in1[i];
}

fn load_a(mode: u32, row: u32, kk: u32) -> f32 {
    let kk2 = cv.k * cv.k;
    let hw = cv.h * cv.w;
    if (mode == FORWARD) {
        if (row < cv.cout && kk < cv.cin * kk2) { return in1[row * cv.cin * kk2 + kk]; }
    } else if (mode == GRAD_INPUT) {
        // A[ci, (co, ky, kx)] = W[co, ci, ky, kx]
        if (row < cv.cin && kk < cv.cout * kk2) {
            return in1[((kk / kk2) * cv.cin + row) * kk2 + kk % kk2];
        }
    } else {
        // A[co, (n, pix)] = dY[n, co, pix]
        if (row < cv.cout && kk < cv.n * hw) {
            return in0[((kk / hw) * cv.cout + row) * hw + kk % hw];
        }
    }
    return 0.0;
}

fn load_b(mode: u32, kk: u32, col: u32) -> f32 {
    let kk2 = cv.k * cv.k;
    let hw = cv.h * cv.w;
    let pb = i32((cv.k - 1u) / 2u);
    if (mode == FORWARD) {
        // B[(ci, ky, kx), (n, pix)] = X[n, ci, y + ky - pb, x + kx - pb]
        if (kk < cv.cin * kk2 && col < cv.n * hw) {
            let r = kk % kk2;
            return shifted(true, cv.cin, col / hw, kk / kk2, col % hw,
                           i32(r / cv.k) - pb, i32(r % cv.k) - pb);
        }
    } else if (mode == GRAD_INPUT) {
        // B[(co, ky, kx), (n, pix)] = dY[n, co, y - ky + pb, x - kx + pb]
        if (kk < cv.cout * kk2 && col < cv.n * hw) {
            let r = kk % kk2;
            return shifted(true, cv.cout, col / hw, kk / kk2, col % hw,
                           pb - i32(r / cv.k), pb - i32(r % cv.k));
        }
    } else {
        // B[(n, pix), (ci, ky, kx)] = X[n, ci, y + ky - pb, x + kx - pb]
        if (kk < cv.n * hw && col < cv.cin * kk2) {
            let r = col % kk2;
            return shifted(false, cv.cin, kk / hw, col / kk2, kk % hw,
                           i32(r / cv.k) - pb, i32(r % cv.k) - pb);
        }
    }
    return 0.0;
}

// Rows of C are channels, columns are pixels (n, y, x): stored NCHW.
// `bias4` holds the bias of the invocation's four rows (zeros for gradients).
fn store_nchw(acc: array<vec4<f32>, 4>, row0: u32, col0: u32, lid: vec3<u32>,
              rows: u32, bias4: vec4<f32>, relu: bool) {
    let hw = cv.h * cv.w;
    let cols = cv.n * hw;
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (row < rows && col < cols) {
                var v = acc[i][j] + bias4[i];
                if (relu) { v = max(v, 0.0); }
                out[((col / hw) * rows + row) * hw + col % hw] = v;
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = gemm_tile(FORWARD, wid.y * TILE, wid.x * TILE, lid, cv.cin * cv.k * cv.k);
    var bias4 = vec4<f32>(0.0);
    if ((cv.flags & 1u) != 0u) {
        for (var i = 0u; i < 4u; i++) {
            let row = wid.y * TILE + lid.y + 16u * i;
            if (row < cv.cout) { bias4[i] = bias[row]; }
        }
    }
    store_nchw(acc, wid.y * TILE, wid.x * TILE, lid, cv.cout, bias4, (cv.flags & 2u) != 0u);
}

@compute @workgroup_size(16, 16)
fn conv2d_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = gemm_tile(GRAD_INPUT, wid.y * TILE, wid.x * TILE, lid, cv.cout * cv.k * cv.k);
    store_nchw(acc, wid.y * TILE, wid.x * TILE, lid, cv.cin, vec4<f32>(0.0), false);
}

@compute @workgroup_size(16, 16)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let acc = gemm_tile(GRAD_WEIGHT, row0, col0, lid, cv.n * cv.h * cv.w);
    let cols = cv.cin * cv.k * cv.k;
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (row < cv.cout && col < cols) { out[row * cols + col] = acc[i][j]; }
        }
    }
}
