//! Shared tiled GEMM core, pasted into matmul.wgsl and conv2d.wgsl by the loader
//! (`//#include gemm.wgsl`). The including file defines
//!   fn load_a(mode: u32, row: u32, k: u32) -> f32   // A (M, K), 0 outside
//!   fn load_b(mode: u32, k: u32, col: u32) -> f32   // B (K, N), 0 outside
//! and calls gemm_tile from a @workgroup_size(16, 16) entry point.
//
// A 16x16 workgroup computes a 64x64 tile of C = A·B. Invocation (lx, ly) owns the
// 4x4 block at rows ly + 16*i, columns lx + 16*j: neighbouring invocations touch
// neighbouring columns, so global stores coalesce and shared reads do not conflict.

const TILE: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> tile_a: array<f32, 1024>; // (TK, TILE): tile_a[k * TILE + row]
var<workgroup> tile_b: array<f32, 1024>; // (TK, TILE): tile_b[k * TILE + col]

// Returns acc[i][j] = C[row0 + ly + 16i, col0 + lx + 16j] (rows past M, columns
// past N hold garbage-free zeros; the caller masks its stores).
fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, kdim: u32) -> array<vec4<f32>, 4> {
    var acc: array<vec4<f32>, 4>;
    let flat = lid.y * 16u + lid.x;
    for (var k0 = 0u; k0 < kdim; k0 += TK) {
        for (var r = 0u; r < 4u; r++) {
            let e = flat + r * 256u;
            let kk = e / TILE;
            let rc = e % TILE;
            tile_a[e] = load_a(mode, row0 + rc, k0 + kk);
            tile_b[e] = load_b(mode, k0 + kk, col0 + rc);
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
