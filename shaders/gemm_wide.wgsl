//! Shared GEMM core, register-blocked and double-buffered (GPUs): the interface
//! of gemm.wgsl. The loader pastes it with its shape constants before it:
//!   WG_X, WG_Y   the workgroup: WG_X·WG_Y = TK·TN/4 (each invocation loads one
//!                B slot a k tile) and >= 2·TM (A's slots go to the first ones)
//!   MR, NR       groups of 4 rows / 4 columns of C each invocation keeps
//! so a workgroup computes TM = 4·MR·WG_Y rows by TN = 4·NR·WG_X columns:
//!   wide    16x16 invocations, 8x8 each: 128 x 128 tiles (M > 64)
//!   mid     32x8 invocations,  8x4 each:  64 x 128 tiles (M <= 64: 64-channel convs)
//!   narrow  32x8 invocations,  4x4 each:  32 x 128 tiles (M <= 32: conv1, conv2)
//!   thin     8x8 invocations,  4x4 each:  32 x 32 tiles (N <= 32: conv1's weight
//!                                         gradient; launches too small for the rest)
//!
//! Shared memory holds each k tile (TK = 8) as vec4 slots: slot s of A at k is
//! the 4 rows (s % WG_Y) + WG_Y·(4·(s / WG_Y) + q), slot s of B the 4 columns
//! (s % WG_X) + WG_X·(4·(s / WG_X) + j), so the inner loop does MR + NR vec4
//! shared loads per 16·MR·NR FMAs, and invocation (lx, ly) owns exactly the rows
//! and columns of its slots lx, ly: C rows ly + WG_Y·(4r + q) (r < MR, q < 4) and
//! columns lx + WG_X·(4h + j) (h < NR, j < 4), acc[(4r + q)·NR + h][j];
//! neighbouring invocations store neighbouring columns of C.
//!
//! Each invocation fills whole slots, never part of one: by WGSL's memory model a
//! write to one component of a vector may access all of it, so invocations filling
//! the components of one vec4 would race. Per k tile, invocation f loads the B
//! slot f % (TN/4) at k = f / (TN/4) (neighbouring invocations on neighbouring
//! columns) and, where f < 2·TM, the A slot f / TK at k = f % TK (neighbouring
//! invocations on neighbouring k: row-major A and conv weights are contiguous in
//! k): one k_setup each (the only division), 4 loads each. Two shared stages: the
//! next tile's global loads are issued before the current tile's FMAs and stored
//! after them, with one barrier per k tile.

const TK: u32 = 8u;
const TM: u32 = 4u * MR * WG_Y;
const TN: u32 = 4u * NR * WG_X;
const RPT: u32 = 4u * MR * NR;
const STORES_C: bool = false; // the including file stores acc
const A4: u32 = TM / 4u; // vec4 slots of A per k
const B4: u32 = TN / 4u;

fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.y * TM, wid.x * TN); }

fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.y + WG_Y * (i / NR); }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.x + WG_X * (4u * (i % NR) + j); }

// The q-th row of A slot s, the j-th column of B slot s (within the tile).
fn slot_row(s: u32, q: u32) -> u32 { return s % WG_Y + WG_Y * (4u * (s / WG_Y) + q); }
fn slot_col(s: u32, j: u32) -> u32 { return s % WG_X + WG_X * (4u * (s / WG_X) + j); }

var<workgroup> tile_a: array<vec4<f32>, 2u * TK * A4>; // [stage][k][slot]
var<workgroup> tile_b: array<vec4<f32>, 2u * TK * B4>; // [stage][k][slot]

// This invocation's share of a k tile: its A slot at (k0 + ka) if it loads A,
// and its B slot at (k0 + kb); zero past k_end (a split-K chunk's end) as past K.
fn load_tiles(mode: u32, ra: array<RowInfo, 4>, cb: array<ColInfo, 4>, loads_a: bool, ka: u32, kb: u32,
              k0: u32, k_end: u32, va: ptr<function, vec4<f32>>, vb: ptr<function, vec4<f32>>) {
    if (loads_a) {
        let k = k_setup(mode, k0 + ka);
        let live = k0 + ka < k_end;
        for (var q = 0u; q < 4u; q++) { (*va)[q] = select(0.0, load_a(mode, ra[q], k), live); }
    }
    let k = k_setup(mode, k0 + kb);
    let live = k0 + kb < k_end;
    for (var j = 0u; j < 4u; j++) { (*vb)[j] = select(0.0, load_b(mode, k, cb[j]), live); }
}

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var acc: array<vec4<f32>, RPT>;
    let flat = lid.y * WG_X + lid.x;
    let loads_a = flat < TK * A4;
    let ka = flat % TK;
    let slot_a = flat / TK;
    let kb = flat / B4;
    let slot_b = flat % B4;
    var ra: array<RowInfo, 4>;
    var cb: array<ColInfo, 4>;
    for (var q = 0u; q < 4u; q++) {
        ra[q] = row_setup(mode, row0 + slot_row(slot_a, q));
        cb[q] = col_setup(mode, col0 + slot_col(slot_b, q));
    }
    var va: vec4<f32>;
    var vb: vec4<f32>;
    load_tiles(mode, ra, cb, loads_a, ka, kb, k_begin, k_end, &va, &vb);
    var stage = 0u;
    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        let sa = stage * TK * A4;
        let sb = stage * TK * B4;
        if (loads_a) { tile_a[sa + ka * A4 + slot_a] = va; }
        tile_b[sb + kb * B4 + slot_b] = vb;
        workgroupBarrier();
        // the next tile's global loads, in flight during this tile's FMAs
        if (k0 + TK < k_end) { load_tiles(mode, ra, cb, loads_a, ka, kb, k0 + TK, k_end, &va, &vb); }
        for (var kk = 0u; kk < TK; kk++) {
            var b: array<vec4<f32>, NR>;
            for (var h = 0u; h < NR; h++) { b[h] = tile_b[sb + kk * B4 + lid.x + WG_X * h]; }
            for (var r = 0u; r < MR; r++) {
                let a = tile_a[sa + kk * A4 + lid.y + WG_Y * r];
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
