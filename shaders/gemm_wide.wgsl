//! Shared GEMM core, register-blocked and double-buffered (GPUs): the interface
//! of gemm.wgsl. The loader pastes it with its shape constants before it:
//!   WG_X, WG_Y   the workgroup (WG_X·WG_Y = 256)
//!   MR, NR       groups of 4 rows / 4 columns of C each invocation keeps
//!   LA, LB       consecutive k of A / B each invocation loads per k tile
//! so a workgroup computes TM = 4·MR·WG_Y rows by TN = 4·NR·WG_X columns:
//!   wide    16x16 invocations, 8x8 each: 128 x 128 tiles (M > 64)
//!   mid     32x8 invocations,  8x4 each:  64 x 128 tiles (M <= 64: 64-channel convs)
//!   narrow  32x8 invocations,  4x4 each:  32 x 128 tiles (M <= 32: conv1, conv2)
//!
//! Per k tile of TK = 8, each invocation loads LA values of one row of A and LB
//! of one column of B, consecutive in k: one k_setup (the only division) and then
//! k_next steps, neighbouring invocations on neighbouring k of A (row-major A and
//! conv weights are contiguous in k) and on neighbouring columns of B. They are
//! stored transposed into shared memory, rows (columns) contiguous per k, and the
//! inner loop reads them as 4 consecutive, 16-byte aligned floats (one 128-bit
//! shared load where the compiler merges them: MR + NR per 16·MR·NR FMAs). The
//! tiles are arrays of f32, not of vec4: each invocation stores single floats, and
//! by WGSL's memory model a write to one component of a vector may access the
//! whole vector, so several invocations filling one vec4 would race. Two shared stages:
//! the next tile's global loads are issued before the current tile's FMAs and
//! stored after them, with one barrier per k tile.
//!
//! Invocation (lx, ly) owns C rows 4·ly + 4·WG_Y·r + q (r < MR, q < 4) and
//! columns 4·lx + 4·WG_X·h + j (h < NR, j < 4): acc[(4r + q)·NR + h][j].

const TK: u32 = 8u;
const TM: u32 = 4u * MR * WG_Y;
const TN: u32 = 4u * NR * WG_X;
const RPT: u32 = 4u * MR * NR;

fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.y * TM, wid.x * TN); }

fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return 4u * lid.y + 4u * WG_Y * (i / (4u * NR)) + (i / NR) % 4u; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return 4u * lid.x + 4u * WG_X * (i % NR) + j; }

var<workgroup> tile_a: array<f32, 2u * TK * TM>; // [stage][k][row]
var<workgroup> tile_b: array<f32, 2u * TK * TN>; // [stage][k][col]

// Four consecutive floats of a tile from index i (a multiple of 4).
fn quad_a(i: u32) -> vec4<f32> { return vec4<f32>(tile_a[i], tile_a[i + 1u], tile_a[i + 2u], tile_a[i + 3u]); }
fn quad_b(i: u32) -> vec4<f32> { return vec4<f32>(tile_b[i], tile_b[i + 1u], tile_b[i + 2u], tile_b[i + 3u]); }

// The LA values of A at (row, k0 + ka ..) and LB of B at (k0 + kb .., col); zero
// past k_end (a split-K chunk's end) as past K.
fn load_tiles(mode: u32, ra: RowInfo, cb: ColInfo, ka: u32, kb: u32, k0: u32, k_end: u32,
              va: ptr<function, array<f32, LA>>, vb: ptr<function, array<f32, LB>>) {
    var k = k_setup(mode, k0 + ka);
    for (var t = 0u; t < LA; t++) {
        (*va)[t] = select(0.0, load_a(mode, ra, k), k0 + ka + t < k_end);
        k = k_next(mode, k);
    }
    k = k_setup(mode, k0 + kb);
    for (var t = 0u; t < LB; t++) {
        (*vb)[t] = select(0.0, load_b(mode, k, cb), k0 + kb + t < k_end);
        k = k_next(mode, k);
    }
}

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var acc: array<vec4<f32>, RPT>;
    let flat = lid.y * WG_X + lid.x;
    // this invocation's row of A and its first k in a tile; its column of B and first k
    let a_row = flat / (TK / LA);
    let ka = (flat % (TK / LA)) * LA;
    let b_col = flat % TN;
    let kb = (flat / TN) * LB;
    let ra = row_setup(mode, row0 + a_row);
    let cb = col_setup(mode, col0 + b_col);
    var va: array<f32, LA>;
    var vb: array<f32, LB>;
    load_tiles(mode, ra, cb, ka, kb, k_begin, k_end, &va, &vb);
    var stage = 0u;
    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        let sa = stage * TK * TM;
        let sb = stage * TK * TN;
        for (var t = 0u; t < LA; t++) { tile_a[sa + (ka + t) * TM + a_row] = va[t]; }
        for (var t = 0u; t < LB; t++) { tile_b[sb + (kb + t) * TN + b_col] = vb[t]; }
        workgroupBarrier();
        // the next tile's global loads, in flight during this tile's FMAs
        if (k0 + TK < k_end) { load_tiles(mode, ra, cb, ka, kb, k0 + TK, k_end, &va, &vb); }
        for (var kk = 0u; kk < TK; kk++) {
            var b: array<vec4<f32>, NR>;
            for (var h = 0u; h < NR; h++) { b[h] = quad_b(sb + kk * TN + 4u * (lid.x + WG_X * h)); }
            for (var r = 0u; r < MR; r++) {
                let a = quad_a(sa + kk * TM + 4u * (lid.y + WG_Y * r));
                for (var q = 0u; q < 4u; q++) {
                    for (var h = 0u; h < NR; h++) {
                        let i = (4u * r + q) * NR + h;
                        acc[i] = fma(vec4<f32>(a[q]), b[h], acc[i]);
                    }
                }
            }
        }
        // the other stage is written next; it was last read before this barrier
        stage = 1u - stage;
    }
    return acc;
}
