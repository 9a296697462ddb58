//! Dense-layer kernels: strided matmul with fused bias/ReLU epilogue, and the
//! per-channel sum that gives bias gradients for dense and conv layers.
//! Backward rule (whole crate): gradient kernels OVERWRITE their output.
//!
//! A and B are read through strides, so one kernel serves every dense product:
//!   forward  Y  = X·Wᵀ (+b)(ReLU)   X (M, K), W (N, K)
//!   grad in  dX = dY·W              dY (M, N'), W (N', K)
//!   grad w   dW = dYᵀ·X             dY (K', M'), X (K', N)
//! Fused epilogues (kernels::fuse): grad in's store times [mask > 0] (flags bit 2:
//! the ReLU backward below) and/or sent through a max-pool's argmax into the pool's
//! input gradient (bit 3: the pool's backward); grad w also sums the bias gradient,
//! the rows of A (bit 4).
//#include gemm.wgsl
//#include reduce.wgsl

struct Matmul {
    m: u32, n: u32, k: u32,
    a_rs: u32, a_cs: u32,   // A[i, k] = a[i * a_rs + k * a_cs]
    b_rs: u32, b_cs: u32,   // B[k, j] = b[k * b_rs + j * b_cs]
    flags: u32,             // bit 0: add bias, bit 1: ReLU, bits 2-4: the fused epilogues
    // bit 3: the pool's (k, full h, full w, channels), then its output's (h, w);
    // bit 4: epi0.x = where the bias gradient (M) starts in c
    epi0: vec4<u32>, epi1: vec4<u32>,
}

const MASK: u32 = 4u;
const UNPOOL: u32 = 8u;
const GRAD_BIAS: u32 = 16u;

@group(0) @binding(0) var<uniform> mm: Matmul;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;   // (M, N)
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (N) with bit 0; matmul_grad: the mask, as C
@group(0) @binding(5) var<storage, read> argmax: array<u32>;    // matmul_grad: the pool's, as C

struct RowInfo { base: u32, ok: bool }   // A row offset
struct ColInfo { base: u32, ok: bool }   // B column offset
struct KInfo { k: u32, ok: bool }

fn row_setup(mode: u32, row: u32) -> RowInfo { return RowInfo(row * mm.a_rs, row < mm.m); }
fn col_setup(mode: u32, col: u32) -> ColInfo { return ColInfo(col * mm.b_cs, col < mm.n); }
fn k_setup(mode: u32, k: u32) -> KInfo { return KInfo(k, k < mm.k); }
fn k_next(mode: u32, k: KInfo) -> KInfo { return k_setup(mode, k.k + 1u); }

fn load_a(mode: u32, r: RowInfo, k: KInfo) -> f32 {
    if (r.ok && k.ok) { return a[r.base + k.k * mm.a_cs]; }
    return 0.0;
}

fn load_b(mode: u32, k: KInfo, c: ColInfo) -> f32 {
    if (k.ok && c.ok) { return b[k.k * mm.b_rs + c.base]; }
    return 0.0;
}

// The block core's reads (gemm_block.wgsl): rows and columns clamped onto the
// matrix, so every read is in bounds with no test (k < K is the core's part).
alias KAt = u32;
alias ColAt = u32;
fn a_row(mode: u32, row: u32) -> u32 { return min(row, max(mm.m, 1u) - 1u) * mm.a_rs; }
fn b_col(mode: u32, col: u32) -> u32 { return min(col, max(mm.n, 1u) - 1u) * mm.b_cs; }
fn k_at(mode: u32, k: u32) -> u32 { return k; }
fn a_at(mode: u32, ro: u32, k: u32) -> f32 { return a[ro + k * mm.a_cs]; }
fn b_at(mode: u32, k: u32, co: u32) -> f32 { return b[k * mm.b_rs + co]; }

@compute @workgroup_size(WG_X, WG_Y)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = tile_origin(wid).x;
    let col0 = tile_origin(wid).y;
    var acc = gemm_tile(PLAIN, row0, col0, lid, 0u, mm.k);
    if (STORES_C) { return; } // the core has stored its block through put4
    for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
            put_as(PLAIN, row0 + c_row(lid, i, j), col0 + c_col(lid, i, j), acc[i][j]);
        }
    }
}

// A gradient product with a fused epilogue (kernels::fuse): dX's store masked
// (bit 2) and/or sent through a max-pool's argmax (bit 3); dW with its bias
// gradient (bit 4). An entry of its own, so the plain one (and the block core's
// 128 unrolled stores in it) carries none of this.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = tile_origin(wid).x;
    let col0 = tile_origin(wid).y;
    var acc = gemm_tile(GRAD, row0, col0, lid, 0u, mm.k);
    if ((mm.flags & GRAD_BIAS) != 0u && col0 == 0u) {
        // the first column of tiles also sums its rows of A, an invocation to a row
        for (var r = lid.y * WG_X + lid.x; r < TM; r += WG_X * WG_Y) {
            let row = row0 + r;
            if (row < mm.m) {
                var s = 0.0;
                for (var k = 0u; k < mm.k; k++) { s += a[row * mm.a_rs + k * mm.a_cs]; }
                c[mm.epi0.x + row] = s;
            }
        }
    }
    for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
            put_as(GRAD, row0 + c_row(lid, i, j), col0 + c_col(lid, i, j), acc[i][j]);
        }
    }
}

// The entry points' modes (the block core hands them to put4).
const PLAIN: u32 = 0u;
const GRAD: u32 = 1u;

// C[row, col] = v (+ bias)(ReLU), where inside C.
fn put(row: u32, col: u32, v: f32) {
    if (row < mm.m && col < mm.n) {
        var x = v;
        if ((mm.flags & 1u) != 0u) { x += bias[col]; }
        if ((mm.flags & 2u) != 0u) { x = max(x, 0.0); }
        c[row * mm.n + col] = x;
    }
}

// matmul_grad's store, where inside C: masked (bit 2), then written or unpooled (bit 3).
fn put_grad(row: u32, col: u32, v: f32) {
    if (row < mm.m && col < mm.n) {
        let o = row * mm.n + col;
        let x = select(v, 0.0, (mm.flags & MASK) != 0u && !(bias[o] > 0.0));
        if ((mm.flags & UNPOOL) != 0u) {
            unpool(row, col, argmax[o], x);
        } else {
            c[o] = x;
        }
    }
}

// The store of entry point `mode` (a constant there, so a compiler keeps one
// branch; both name every binding, so both bind the same five views).
fn put_as(mode: u32, row: u32, col: u32, v: f32) {
    if (mode == GRAD) { put_grad(row, col, v); } else { put(row, col, v); }
}

// The block core stores the plain product's block itself (put4), matmul_grad's
// in its own loop.
fn stores(mode: u32) -> bool { return mode == PLAIN; }

// (the plain store alone: the mode is not a constant here, and matmul_grad's
// store, loops and all, written out 64 times would swell every pipeline)
fn put4(mode: u32, row: u32, col: u32, v: vec4<f32>) {
    put(row, col, v.x);
    put(row, col + 1u, v.y);
    put(row, col + 2u, v.z);
    put(row, col + 3u, v.w);
}

// C's row (an image) and column (channel, y, x of a max-pool's h×w output): its
// gradient v sent back over the k×k window of the pool's (full h, full w) input,
// all of which it writes, v at the argmax `at` and 0 elsewhere; the last row and
// column of windows also zero the input rows and columns the pool dropped.
fn unpool(row: u32, col: u32, at: u32, v: f32) {
    let k = mm.epi0.x;
    let fh = mm.epi0.y;
    let fw = mm.epi0.z;
    let h = mm.epi1.x;
    let w = mm.epi1.y;
    let ch = col / (h * w);
    let y = (col / w) % h;
    let x = col % w;
    let plane = row * mm.epi0.w + ch;
    let y1 = select(y * k + k, fh, y + 1u == h);
    let x1 = select(x * k + k, fw, x + 1u == w);
    for (var fy = y * k; fy < y1; fy++) {
        for (var fx = x * k; fx < x1; fx++) {
            let i = (plane * fh + fy) * fw + fx;
            c[i] = select(0.0, v, i == at);
        }
    }
}

// out[z, ch] = Σ_{i in chunk z, j < inner} x[(i * channels + ch) * inner + j], chunk z
// the rows [z·⌈outer/splits⌉, (z+1)·⌈outer/splits⌉) (splits = 1: the bias gradient itself).
// Dense bias: x (M, N) is outer=M, channels=N, inner=1. Conv bias: (N, C, H·W).
struct BiasGrad {
    outer: u32, channels: u32, inner: u32, splits: u32,
    _v0: vec4<u32>, _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> bg: BiasGrad;
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>; // (splits, channels)
@group(0) @binding(2) var<storage, read> dy: array<f32>;          // (outer, channels, inner)

// Workgroup (ch, z): lane li visits elements t = li, li + 256, … of its chunk's
// rows × inner, stepping (row, j) by (256 / inner, 256 % inner) with no division.
@compute @workgroup_size(256)
fn bias_grad(@builtin(workgroup_id) wid: vec3<u32>, lane: Lane) {
    let li = lane.li;
    let ch = wid.x;
    let z = wid.y;
    let chunk = (bg.outer + bg.splits - 1u) / bg.splits;
    let row_end = min((z + 1u) * chunk, bg.outer);
    let step_i = 256u / bg.inner;
    let step_j = 256u - step_i * bg.inner;
    var i = z * chunk + li / bg.inner;
    var j = li % bg.inner;
    var s = 0.0;
    while (i < row_end) {
        s += dy[(i * bg.channels + ch) * bg.inner + j];
        i += step_i;
        j += step_j;
        if (j >= bg.inner) { j -= bg.inner; i += 1u; }
    }
    let total = workgroup_sum(lane, vec2<f32>(s, 0.0));
    if (li == 0u) { dbias[z * bg.channels + ch] = total.x; }
}

// out[i'] = Σ_{s < splits} part[s · len + i]: adds up split-K partial products, where
// i' = i below gap_at and i - gap_at + gap_to from there (a weight gradient's bias
// beyond the padding that follows its weights).
struct SumSplits {
    len: u32, splits: u32, gap_at: u32, gap_to: u32,
    _v0: vec4<u32>, _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> ss: SumSplits;
@group(0) @binding(1) var<storage, read_write> total: array<f32>;  // (len)
@group(0) @binding(2) var<storage, read> part: array<f32>;         // (splits, len)

@compute @workgroup_size(256)
fn sum_splits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= ss.len) { return; }
    var s = 0.0;
    for (var z = 0u; z < ss.splits; z++) { s += part[z * ss.len + i]; }
    total[select(i, i - ss.gap_at + ss.gap_to, i >= ss.gap_at)] = s;
}

// Every split-K sum of a plan in one launch (kernels::fuse): segment y of `table`
// (6 words: total_at, part_at, len, splits, gap_at, gap_to) adds up its slices
// as sum_splits does, workgroup row y its own segment.
struct SumSegments {
    count: u32, _u1: u32, _u2: u32, _u3: u32,
    _v0: vec4<u32>, _f0: vec4<f32>, _f1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> sg: SumSegments;
@group(0) @binding(3) var<storage, read> table: array<u32>;        // (count, 6)

@compute @workgroup_size(256)
fn sum_segments(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.y * 6u;
    let len = table[t + 2u];
    let i = gid.x;
    if (wid.y >= sg.count || i >= len) { return; }
    let at = table[t + 1u] + i;
    var s = 0.0;
    for (var z = 0u; z < table[t + 3u]; z++) { s += part[at + z * len]; }
    total[table[t] + select(i, i - table[t + 4u] + table[t + 5u], i >= table[t + 4u])] = s;
}
