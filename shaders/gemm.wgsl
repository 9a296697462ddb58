//! Shared GEMM core, shared-memory variant (discrete/integrated GPUs). The
//! loader pastes it (or another core: gemm_wide, gemm_block, gemm_coop) where a file says
//! `//#include gemm.wgsl`. The including file defines:
//!   struct RowInfo, ColInfo, KInfo      per-row / per-column / per-k index facts
//!   fn row_setup(mode, row) -> RowInfo   (row of A / C; `ok` false past M)
//!   fn col_setup(mode, col) -> ColInfo   (column of B / C; past N)
//!   fn k_setup(mode, k) -> KInfo         (past K)
//!   fn k_next(mode, KInfo) -> KInfo      (the facts of k + 1, without division)
//!   fn load_a(mode, RowInfo, KInfo) -> f32, fn load_b(mode, KInfo, ColInfo) -> f32
//! and calls gemm_tile from a @workgroup_size(WG_X, WG_Y) entry point whose
//! workgroup `wid` computes the TM x TN tile of C at tile_origin(wid);
//! invocation `lid` owns C[row0 + c_row(lid, i, j), col0 + c_col(lid, i, j)] = acc[i][j]
//! for i < RPT (rows per invocation), j < 4.
//! Index facts are
//! worked out once per row/column (hoisted out of the k loop) so the inner loop
//! does no division.
//
// A 16x16 workgroup computes a 64x64 tile of C = A·B. Invocation (lx, ly) owns the
// 4x4 block at rows ly + 16*i, columns lx + 16*j: neighbouring invocations touch
// neighbouring columns, so global stores coalesce and shared reads do not conflict.

const TILE: u32 = 64u;
const TK: u32 = 16u;
const TM: u32 = 64u;
const TN: u32 = 64u;
const WG_X: u32 = 16u;
const WG_Y: u32 = 16u;
const RPT: u32 = 4u;
const STORES_C: bool = false; // the including file stores acc

// The (row0, col0) of a workgroup's tile of C: row blocks along y, so a GPU
// schedules neighbouring column tiles together.
fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.y * TM, wid.x * TN); }

fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.y + 16u * i; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.x + 16u * j; }
var<workgroup> tile_a: array<f32, 1024>; // (TK, TILE): tile_a[k * TILE + row]
var<workgroup> tile_b: array<f32, 1024>; // (TK, TILE): tile_b[k * TILE + col]

// Returns acc[i][j] = Σ_{k_begin <= k < k_end} A[row, k]·B[k, col] for the
// invocation's (row, col) pairs; the caller masks stores.
fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var acc: array<vec4<f32>, RPT>;
    let flat = lid.y * 16u + lid.x;
    // Each invocation always loads tile row/column `rc`, at k offsets kq + 4r.
    let rc = flat % TILE;
    let kq = flat / TILE;
    let ra = row_setup(mode, row0 + rc);
    let cb = col_setup(mode, col0 + rc);
    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        for (var r = 0u; r < 4u; r++) {
            let kk = kq + 4u * r;
            let ki = k_setup(mode, k0 + kk);
            // past k_end (a split-K chunk's end) counts as zero, like past K
            let live = k0 + kk < k_end;
            tile_a[kk * TILE + rc] = select(0.0, load_a(mode, ra, ki), live);
            tile_b[kk * TILE + rc] = select(0.0, load_b(mode, ki, cb), live);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let base = kk * TILE;
            let b = vec4<f32>(tile_b[base + lid.x], tile_b[base + lid.x + 16u],
                              tile_b[base + lid.x + 32u], tile_b[base + lid.x + 48u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] = fma(vec4<f32>(tile_a[base + lid.y + 16u * i]), b, acc[i]);
            }
        }
        workgroupBarrier();
    }
    return acc;
}
