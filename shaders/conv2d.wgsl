//! conv2d with stride s and padding (pad_y, pad_x) before (the host works out
//! Keras' 'same' or 'valid'), square kernel k (1..7), as implicit GEMM on the shared
//! tiled core: output pixel (oy, ox) reads input (oy·s + ky - pad_y, ox·s + kx - pad_x).
//! Gradient kernels OVERWRITE their output; the bias gradient is matmul.wgsl's bias_grad,
//! or (flags bit 4) the weight gradient's own, summed beside it.
//! Fused epilogues (kernels::fuse): grad input's store times [mask > 0] (bit 2: the
//! ReLU backward of the layer below) and/or sent through a max-pool's argmax into the
//! pool's input gradient (bit 3: the pool's backward).
//!
//!   forward      Y (N,Co,Ho,Wo) = W (Co, Ci·k·k) · im2col(X) (Ci·k·k, N·Ho·Wo)  (+b)(ReLU)
//!   grad input   dX (N,Ci,H,W) = Wᵗ (Ci, Co·k·k) · col(dY) (Co·k·k, N·H·W)
//!   grad weight  dW (Co, Ci·k·k) = dY (Co, N·Ho·Wo) · im2colᵀ(X) (N·Ho·Wo, Ci·k·k)
//#include gemm.wgsl

struct Conv {
    n: u32, cin: u32, cout: u32, h: u32, w: u32, k: u32,
    flags: u32,          // bit 0: add bias, bit 1: ReLU (forward); bits 2, 3 grad input, bit 4 grad weight (above)
    splits: u32,         // grad weight: K = N·Ho·Wo is cut into this many chunks (wid.z)
    stride: u32,
    pad_y: u32, pad_x: u32,  // padding before (top, left)
    ho: u32, wo: u32,        // output size
    // grad input, bit 3: the pool's k and its input's (full) height and width;
    // grad weight, bit 4: epi0 = where each slice's bias gradient (Co) starts
    epi0: u32, epi1: u32, epi2: u32,
}

const MASK: u32 = 4u;
const UNPOOL: u32 = 8u;
const GRAD_BIAS: u32 = 16u;

const FORWARD: u32 = 0u;
const GRAD_INPUT: u32 = 1u;
const GRAD_WEIGHT: u32 = 2u;

@group(0) @binding(0) var<uniform> cv: Conv;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
// forward: in0 = X, in1 = W; grad input: in0 = dY, in1 = W; grad weight: in0 = dY, in1 = X
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;
// forward: the bias (Co); grad input, bit 2: the mask, laid out as dX
@group(0) @binding(4) var<storage, read> bias: array<f32>;
// grad input, bit 3: the pool's argmax, laid out as dX (flat indices into its input)
@group(0) @binding(5) var<storage, read> argmax: array<u32>;

// Every operand read reduces to two patterns:
//   A: a_src[row.base + k.a_off]
//   B: b_src[k.base + col.base + (k.y + col.y)·W + (k.x + col.x)], zero outside H×W
// where (y, x) are a pixel position on one side and a tap shift on the other:
//   forward      row co | k (ci,ky,kx): a_off kk, base ci·HW, shift (ky-py, kx-px)           | col (n,oy,ox): base n·Ci·HW, at (oy·s, ox·s)
//   grad input   row ci | k (co,ky,kx): a_off co·Ci·kk2 + r, base co·HoWo, shift (py-ky, px-kx) | col (n,y,x): base n·Co·HoWo, at (y, x)
//   grad weight  row co | k (n,oy,ox): a_off n·Co·HoWo + pix, base n·Ci·HW, at (oy·s, ox·s) | col (ci,ky,kx): base ci·HW, shift (ky-py, kx-px)
// Grad input reads dY, Ho×Wo: its (y + py - ky, x + px - kx) must lie on the stride's
// grid, and divided by s inside Ho×Wo.
// A comes from W (in1) except for grad weight (dY, in0); B from in0 except grad weight (X, in1).
struct RowInfo { base: u32, ok: bool }
struct ColInfo { base: u32, y: i32, x: i32, ok: bool }
struct KInfo { k: u32, a_off: u32, base: u32, y: i32, x: i32, ok: bool }

// a / b for a < 2^24 without integer division (which CPU adapters scalarise):
// a float quotient, then one correction either way.
fn div_small(a: u32, b: u32) -> u32 {
    let q = u32(f32(a) / f32(b));
    return select(select(q, q + 1u, (q + 1u) * b <= a), q - 1u, q * b > a);
}

// Pixels per split-K chunk: K / splits rounded up to whole 16-wide k tiles.
fn split_chunk(kdim: u32, splits: u32) -> u32 {
    return (kdim + splits * 16u - 1u) / (splits * 16u) * 16u;
}

fn py() -> i32 { return i32(cv.pad_y); }
fn px() -> i32 { return i32(cv.pad_x); }

// (image, y, x) of a pixel column p = n·h·w + y·w + x
fn pixel(p: u32, h: u32, w: u32) -> vec3<u32> {
    let hw = h * w;
    let n = div_small(p, hw);
    let pix = p - n * hw;
    let y = div_small(pix, w);
    return vec3<u32>(n, y, pix - y * w);
}

// (channel, ky, kx) of a tap index t = c·k·k + ky·k + kx
fn tap(t: u32) -> vec3<u32> {
    let kk2 = cv.k * cv.k;
    let c = div_small(t, kk2);
    let r = t - c * kk2;
    let ky = div_small(r, cv.k);
    return vec3<u32>(c, ky, r - ky * cv.k);
}

fn row_setup(mode: u32, row: u32) -> RowInfo {
    let kk2 = cv.k * cv.k;
    if (mode == FORWARD) { return RowInfo(row * cv.cin * kk2, row < cv.cout); }
    if (mode == GRAD_INPUT) { return RowInfo(row * kk2, row < cv.cin); }
    return RowInfo(row * cv.ho * cv.wo, row < cv.cout);
}

fn col_setup(mode: u32, col: u32) -> ColInfo {
    let hw = cv.h * cv.w;
    let ohw = cv.ho * cv.wo;
    let s = i32(cv.stride);
    if (mode == GRAD_WEIGHT) {
        let t = tap(col);
        return ColInfo(t.x * hw, i32(t.y) - py(), i32(t.z) - px(), col < cv.cin * cv.k * cv.k);
    }
    if (mode == FORWARD) {
        let p = pixel(col, cv.ho, cv.wo);
        return ColInfo(p.x * cv.cin * hw, i32(p.y) * s, i32(p.z) * s, col < cv.n * ohw);
    }
    let p = pixel(col, cv.h, cv.w);
    return ColInfo(p.x * cv.cout * ohw, i32(p.y), i32(p.z), col < cv.n * hw);
}

fn k_setup(mode: u32, k: u32) -> KInfo {
    let hw = cv.h * cv.w;
    let ohw = cv.ho * cv.wo;
    let kk2 = cv.k * cv.k;
    if (mode == FORWARD) {
        let t = tap(k);
        return KInfo(k, k, t.x * hw, i32(t.y) - py(), i32(t.z) - px(), k < cv.cin * kk2);
    }
    if (mode == GRAD_INPUT) {
        let t = tap(k);
        let a_off = t.x * cv.cin * kk2 + k - t.x * kk2;
        return KInfo(k, a_off, t.x * ohw, py() - i32(t.y), px() - i32(t.z), k < cv.cout * kk2);
    }
    let p = pixel(k, cv.ho, cv.wo);
    let s = i32(cv.stride);
    return KInfo(k, p.x * cv.cout * ohw + k - p.x * ohw, p.x * cv.cin * hw, i32(p.y) * s, i32(p.z) * s, k < cv.n * ohw);
}

// k_setup(mode, k.k + 1), stepping the tap or pixel instead of dividing.
fn k_next(mode: u32, k: KInfo) -> KInfo {
    let hw = cv.h * cv.w;
    let ohw = cv.ho * cv.wo;
    let kk2 = cv.k * cv.k;
    let ks = i32(cv.k);
    var n = k;
    n.k = k.k + 1u;
    n.a_off = k.a_off + 1u;
    if (mode == FORWARD) {
        n.ok = n.k < cv.cin * kk2;
        n.x = k.x + 1;
        if (n.x == ks - px()) {
            n.x = -px();
            n.y = k.y + 1;
            if (n.y == ks - py()) { n.y = -py(); n.base = k.base + hw; }
        }
    } else if (mode == GRAD_INPUT) {
        n.ok = n.k < cv.cout * kk2;
        n.x = k.x - 1;
        if (n.x == px() - ks) {
            n.x = px();
            n.y = k.y - 1;
            if (n.y == py() - ks) {
                n.y = py();
                n.base = k.base + ohw;
                n.a_off = n.a_off + (cv.cin - 1u) * kk2; // on to the next output channel
            }
        }
    } else {
        let s = i32(cv.stride);
        n.ok = n.k < cv.n * ohw;
        n.x = k.x + s;
        if (n.x == i32(cv.wo) * s) {
            n.x = 0;
            n.y = k.y + s;
            if (n.y == i32(cv.ho) * s) {
                n.y = 0;
                n.base = k.base + cv.cin * hw;
                n.a_off = n.a_off + (cv.cout - 1u) * ohw; // on to the next image
            }
        }
    }
    return n;
}

fn load_a(mode: u32, r: RowInfo, k: KInfo) -> f32 {
    if (!(r.ok && k.ok)) { return 0.0; }
    if (mode == GRAD_WEIGHT) { return in0[r.base + k.a_off]; }
    return in1[r.base + k.a_off];
}

fn load_b(mode: u32, k: KInfo, c: ColInfo) -> f32 {
    var y = k.y + c.y;
    var x = k.x + c.x;
    if (!(k.ok && c.ok) || y < 0 || x < 0) { return 0.0; }
    if (mode == GRAD_INPUT) {
        // dY (Ho×Wo): only positions on the stride's grid have an output pixel
        if (cv.stride > 1u) {
            let s = i32(cv.stride);
            if (y % s != 0 || x % s != 0) { return 0.0; }
            y = y / s;
            x = x / s;
        }
        if (y >= i32(cv.ho) || x >= i32(cv.wo)) { return 0.0; }
        return in0[k.base + c.base + u32(y) * cv.wo + u32(x)];
    }
    if (y >= i32(cv.h) || x >= i32(cv.w)) { return 0.0; }
    let i = k.base + c.base + u32(y) * cv.w + u32(x);
    if (mode == GRAD_WEIGHT) { return in1[i]; }
    return in0[i];
}

// The block core's reads (gemm_block.wgsl, CPU adapters): rows, columns and k
// clamped onto the product, so every address lies in its buffer; B's taps in the
// padding (grad input: off the stride's grid too) read 0 through an integer
// mask, not a branch.
struct KAt { a_off: u32, base: u32, y: i32, x: i32 }
struct ColAt { base: u32, y: i32, x: i32 }

fn a_row(mode: u32, row: u32) -> u32 {
    let rows = select(cv.cout, cv.cin, mode == GRAD_INPUT);
    return row_setup(mode, min(row, max(rows, 1u) - 1u)).base;
}

fn b_col(mode: u32, col: u32) -> ColAt {
    var cols = cv.cin * cv.k * cv.k;
    if (mode == FORWARD) { cols = cv.n * cv.ho * cv.wo; }
    if (mode == GRAD_INPUT) { cols = cv.n * cv.h * cv.w; }
    let c = col_setup(mode, min(col, max(cols, 1u) - 1u));
    return ColAt(c.base, c.y, c.x);
}

fn k_at(mode: u32, k: u32) -> KAt {
    let i = k_setup(mode, k);
    return KAt(i.a_off, i.base, i.y, i.x);
}

fn a_at(mode: u32, ro: u32, k: KAt) -> f32 {
    if (mode == GRAD_WEIGHT) { return in0[ro + k.a_off]; }
    return in1[ro + k.a_off];
}

fn b_at(mode: u32, k: KAt, c: ColAt) -> f32 {
    var y = k.y + c.y;
    var x = k.x + c.x;
    var h = i32(cv.h);
    var w = i32(cv.w);
    var off_grid = 0;
    if (mode == GRAD_INPUT) {
        // dY (Ho×Wo) has a pixel only on the stride's grid: y / s as floor((y + ½)/s),
        // exact for these sizes, and no integer division (CPU adapters scalarise it);
        // q·s - y < 0 off the grid
        let s = i32(cv.stride);
        let inv = 1.0 / f32(s);
        let qy = i32(floor((f32(y) + 0.5) * inv));
        let qx = i32(floor((f32(x) + 0.5) * inv));
        off_grid = (qy * s - y) | (qx * s - x);
        y = qy;
        x = qx;
        h = i32(cv.ho);
        w = i32(cv.wo);
    }
    // all ones in the padding (a sign bit set), else 0: integer masks, no bools
    // (SwiftShader's compiler ran out of memory on 64 vector selects a k step)
    let pad = (off_grid | y | (h - 1 - y) | x | (w - 1 - x)) >> 31u;
    let i = u32((i32(k.base + c.base) + y * w + x) & ~pad);
    var v: f32;
    if (mode == GRAD_WEIGHT) { v = in1[i]; } else { v = in0[i]; }
    return bitcast<f32>(bitcast<u32>(v) & ~u32(pad));
}

// The block core stores the forward's and the weight gradient's blocks itself,
// unrolled (put4, whose code must stay small: the mode is not a constant there);
// the input gradient's store (masked, unpooled: loops of its own) runs in its
// entry's loop instead: written out 256 times, SwiftShader's compiler ran out of memory.
fn stores(mode: u32) -> bool { return mode != GRAD_INPUT; }

fn put4(mode: u32, row: u32, col: u32, v: vec4<f32>) {
    put_loopless(mode, row, col, v.x);
    put_loopless(mode, row, col + 1u, v.y);
    put_loopless(mode, row, col + 2u, v.z);
    put_loopless(mode, row, col + 3u, v.w);
}

// C[row, col] = v, as the forward or the weight gradient stores it (where inside
// C). Both entries store through here, so both name the bias binding.
fn put_loopless(mode: u32, row: u32, col: u32, v: f32) {
    if (mode == GRAD_WEIGHT) {
        put_grad_weight(row, col, v);
    } else {
        put_forward(row, col, v);
    }
}

// grad weight: where this workgroup's split-K slice of `out` starts (its entry sets it)
var<private> slice_at: u32;

// dW[row, col] (of split-K slice slice_at) = v.
fn put_grad_weight(row: u32, col: u32, v: f32) {
    let cols = cv.cin * cv.k * cv.k;
    if (row < cv.cout && col < cols) { out[slice_at + row * cols + col] = v; }
}

// Y[n, row, pixel] of column col = (n, pixel) = v (+ bias)(ReLU), stored NCHW.
fn put_forward(row: u32, col: u32, v: f32) {
    let ohw = cv.ho * cv.wo;
    if (row < cv.cout && col < cv.n * ohw) {
        var x = v;
        if ((cv.flags & 1u) != 0u) { x += bias[row]; }
        if ((cv.flags & 2u) != 0u) { x = max(x, 0.0); }
        let n = div_small(col, ohw);
        out[(n * cv.cout + row) * ohw + col - n * ohw] = x;
    }
}

// dX[n, row, y, x] of column col = (n, y, x) = v, masked (bit 2), then written or
// unpooled (bit 3).
fn put_grad_input(row: u32, col: u32, v: f32) {
    let hw = cv.h * cv.w;
    if (row < cv.cin && col < cv.n * hw) {
        let n = div_small(col, hw);
        let pix = col - n * hw;
        let plane = n * cv.cin + row;
        let o = plane * hw + pix;
        var x = v;
        if ((cv.flags & MASK) != 0u && !(bias[o] > 0.0)) { x = 0.0; }
        if ((cv.flags & UNPOOL) != 0u) {
            let y = div_small(pix, cv.w);
            unpool(plane, y, pix - y * cv.w, argmax[o], x);
        } else {
            out[o] = x;
        }
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = tile_origin(wid).x;
    let col0 = tile_origin(wid).y;
    var acc = gemm_tile(FORWARD, row0, col0, lid, 0u, cv.cin * cv.k * cv.k);
    if (STORES_C) { return; } // the core has stored its block through put4
    for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
            put_loopless(FORWARD, row0 + c_row(lid, i, j), col0 + c_col(lid, i, j), acc[i][j]);
        }
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn conv2d_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = tile_origin(wid).x;
    let col0 = tile_origin(wid).y;
    var acc = gemm_tile(GRAD_INPUT, row0, col0, lid, 0u, cv.cout * cv.k * cv.k);
    // a vec4 of the block at a time: one index at run time per four values
    for (var i = 0u; i < RPT; i++) {
        let v = acc[i];
        put_grad_input(row0 + c_row(lid, i, 0u), col0 + c_col(lid, i, 0u), v.x);
        put_grad_input(row0 + c_row(lid, i, 1u), col0 + c_col(lid, i, 1u), v.y);
        put_grad_input(row0 + c_row(lid, i, 2u), col0 + c_col(lid, i, 2u), v.z);
        put_grad_input(row0 + c_row(lid, i, 3u), col0 + c_col(lid, i, 3u), v.w);
    }
}

// A max-pool's output gradient v at (plane, y, x) of its H×W output, sent back
// over its k×k window of the (full_h, full_w) input, all of which it writes: v at
// the argmax `at`, 0 elsewhere; the last row and column of windows also zero the
// input rows and columns the pool dropped (7 -> 3 leaves row 6 to them).
fn unpool(plane: u32, y: u32, x: u32, at: u32, v: f32) {
    let k = cv.epi0;
    let y1 = select(y * k + k, cv.epi1, y + 1u == cv.h);
    let x1 = select(x * k + k, cv.epi2, x + 1u == cv.w);
    for (var fy = y * k; fy < y1; fy++) {
        for (var fx = x * k; fx < x1; fx++) {
            let i = (plane * cv.epi1 + fy) * cv.epi2 + fx;
            out[i] = select(0.0, v, i == at);
        }
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = tile_origin(wid).x;
    let col0 = tile_origin(wid).y;
    // split-K: workgroup layer z sums output pixels [z·chunk, (z+1)·chunk) into slice
    // z of `out`, (splits, Co, Ci·k·k); sum_splits adds the slices (splits = 1: dW itself)
    let kdim = cv.n * cv.ho * cv.wo;
    let chunk = split_chunk(kdim, cv.splits);
    let k_begin = min(wid.z * chunk, kdim);
    let cols = cv.cin * cv.k * cv.k;
    // bit 4: each slice holds dW then, from epi0, the bias gradient
    let grad_bias = (cv.flags & GRAD_BIAS) != 0u;
    let slice = wid.z * select(cv.cout * cols, cv.epi0 + cv.cout, grad_bias);
    slice_at = slice;
    var acc = gemm_tile(GRAD_WEIGHT, row0, col0, lid, k_begin, min(k_begin + chunk, kdim));
    if (!STORES_C) {
        for (var i = 0u; i < RPT; i++) {
            for (var j = 0u; j < 4u; j++) {
                put_loopless(GRAD_WEIGHT, row0 + c_row(lid, i, j), col0 + c_col(lid, i, j), acc[i][j]);
            }
        }
    }
    if (grad_bias && col0 == 0u) {
        // the first column of tiles also sums its rows of dY over the chunk, an
        // invocation to a row (in order, without shared memory or barriers)
        for (var r = lid.y * WG_X + lid.x; r < TM; r += WG_X * WG_Y) {
            let row = row0 + r;
            if (row < cv.cout) {
                out[slice + cv.epi0 + row] = dy_row_sum(row, k_begin, min(k_begin + chunk, kdim));
            }
        }
    }
}

// Σ dY[row, p] over pixels p = n·Ho·Wo + pix in [p0, p1).
fn dy_row_sum(row: u32, p0: u32, p1: u32) -> f32 {
    let ohw = cv.ho * cv.wo;
    let n = div_small(p0, ohw);
    var at = (n * cv.cout + row) * ohw;
    var pix = p0 - n * ohw;
    var s = 0.0;
    for (var p = p0; p < p1; p++) {
        s += in0[at + pix];
        pix += 1u;
        if (pix == ohw) {
            pix = 0u;
            at += cv.cout * ohw; // the next image's row
        }
    }
    return s;
}
