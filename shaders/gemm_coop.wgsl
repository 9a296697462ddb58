//! Shared GEMM core on cooperative matrices (`--precision mixed`): the interface
//! of gemm.wgsl, its operands rounded to f16 and multiplied on the adapter's
//! matrix units (tensor cores, WMMA, simdgroup matrices), its sums in f32. The
//! loader puts `enable f16; enable wgpu_cooperative_matrix;` at the top of the
//! module and pastes before this file:
//!   F            the fragment's side (8 or 16: what the adapter offers for
//!                f16 x f16 -> f32), with the fragment types FragA, FragB, FragC
//!   SG           the adapter's subgroup size: a workgroup is one subgroup, so
//!                every cooperative operation in it is the whole workgroup's
//!
//! A workgroup computes a TM x TN = 2F x 4F tile of C as 2 x 4 fragments held in
//! eight f32 accumulators (so an invocation returns at most 16 vec4s, which
//! compilers keep in registers). Per k step of TK = F it stages A's TM x TK and
//! B's TK x TN values in workgroup memory, rounded to f16 (round to nearest even,
//! as the twin rounds them), then multiplies every pair of fragments. Invocation
//! t stages rows t, t + SG, ... of A (where there are so many) and columns t,
//! t + SG, ... of B, each at all TK k of the step, so its row and column facts are
//! worked out once and each k's once per step (k_next, no division). At the end
//! the accumulators go through workgroup memory to the invocations, which return
//! them as the other cores do: invocation t holds C's elements e = 4i + j (i <
//! RPT, j < 4) of its columns t, t + SG, ...: row e / (TN / SG), column t +
//! SG·(e % (TN / SG)), so neighbouring invocations store neighbouring columns.

const TM: u32 = 2u * F;
const TN: u32 = 4u * F;
const TK: u32 = F;
const WG_X: u32 = SG;
const WG_Y: u32 = 1u;
const RPT: u32 = TM * TN / (4u * SG);
const STORES_C: bool = false; // the including file stores acc
const ROWS_A: u32 = (TM + SG - 1u) / SG; // rows of A each invocation stages (the last maybe none)
const COLS_B: u32 = TN / SG; // columns of B each invocation stages
const PER_ROW: u32 = TN / SG; // a row's elements each invocation returns

fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.y * TM, wid.x * TN); }

fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return (4u * i + j) / PER_ROW; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.x + SG * ((4u * i + j) % PER_ROW); }

var<workgroup> tile_a: array<f16, TM * TK>; // row-major: tile_a[row * TK + k]
var<workgroup> tile_b: array<f16, TK * TN>; // row-major: tile_b[k * TN + col]
var<workgroup> tile_c: array<f32, TM * TN>; // row-major: tile_c[row * TN + col]

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var ra: array<RowInfo, ROWS_A>;
    var cb: array<ColInfo, COLS_B>;
    for (var r = 0u; r < ROWS_A; r++) { ra[r] = row_setup(mode, row0 + lid.x + SG * r); }
    for (var h = 0u; h < COLS_B; h++) { cb[h] = col_setup(mode, col0 + lid.x + SG * h); }
    var c00: FragC; var c01: FragC; var c02: FragC; var c03: FragC;
    var c10: FragC; var c11: FragC; var c12: FragC; var c13: FragC;
    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        var ki = k_setup(mode, k0);
        for (var kk = 0u; kk < TK; kk++) {
            // past k_end (a split-K chunk's end) counts as zero, like past K
            let live = k0 + kk < k_end;
            for (var r = 0u; r < ROWS_A; r++) {
                let at = lid.x + SG * r;
                if (at < TM) { tile_a[at * TK + kk] = f16(select(0.0, load_a(mode, ra[r], ki), live)); }
            }
            for (var h = 0u; h < COLS_B; h++) {
                tile_b[kk * TN + lid.x + SG * h] = f16(select(0.0, load_b(mode, ki, cb[h]), live));
            }
            ki = k_next(mode, ki);
        }
        workgroupBarrier();
        let a0 = coopLoadT<FragA>(&tile_a[0u * F * TK], TK);
        let a1 = coopLoadT<FragA>(&tile_a[1u * F * TK], TK);
        let b0 = coopLoadT<FragB>(&tile_b[0u * F], TN);
        let b1 = coopLoadT<FragB>(&tile_b[1u * F], TN);
        let b2 = coopLoadT<FragB>(&tile_b[2u * F], TN);
        let b3 = coopLoadT<FragB>(&tile_b[3u * F], TN);
        c00 = coopMultiplyAdd(a0, b0, c00); c01 = coopMultiplyAdd(a0, b1, c01);
        c02 = coopMultiplyAdd(a0, b2, c02); c03 = coopMultiplyAdd(a0, b3, c03);
        c10 = coopMultiplyAdd(a1, b0, c10); c11 = coopMultiplyAdd(a1, b1, c11);
        c12 = coopMultiplyAdd(a1, b2, c12); c13 = coopMultiplyAdd(a1, b3, c13);
        // the next step's staging overwrites what these loads read
        workgroupBarrier();
    }
    coopStoreT(c00, &tile_c[0u * F * TN + 0u * F], TN); coopStoreT(c01, &tile_c[0u * F * TN + 1u * F], TN);
    coopStoreT(c02, &tile_c[0u * F * TN + 2u * F], TN); coopStoreT(c03, &tile_c[0u * F * TN + 3u * F], TN);
    coopStoreT(c10, &tile_c[1u * F * TN + 0u * F], TN); coopStoreT(c11, &tile_c[1u * F * TN + 1u * F], TN);
    coopStoreT(c12, &tile_c[1u * F * TN + 2u * F], TN); coopStoreT(c13, &tile_c[1u * F * TN + 3u * F], TN);
    workgroupBarrier();
    var acc: array<vec4<f32>, RPT>;
    for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
            acc[i][j] = tile_c[c_row(lid, i, j) * TN + c_col(lid, i, j)];
        }
    }
    return acc;
}
