//! Shared GEMM core, register variant (CPU adapters such as lavapipe, where
//! barriers, shared memory and per-lane gathers are costly): the interface of
//! gemm.wgsl, no barrier, no shared memory. A workgroup of 64 invocations shares
//! its eight rows of A, so A's addresses are workgroup-uniform (a CPU adapter
//! loads them once and broadcasts); each invocation gathers eight columns of B
//! and keeps its 8x8 block of C in registers. Written out by hand (no arrays,
//! no inner loops) so a CPU compiler keeps the block in registers.

const TM: u32 = 8u;
const TN: u32 = 512u;
const WG_X: u32 = 64u;
const WG_Y: u32 = 1u;
const RPT: u32 = 16u;
const STORES_C: bool = false; // the including file stores acc

// Row blocks along x: a CPU adapter runs workgroups in x order, so the
// workgroups that read the same strip of B run back to back, while it is cached.
fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.x * TM, wid.y * TN); }

// acc[2r + h][j] is C[row r, column lid.x + 64·(4h + j)] of the workgroup's tile.
fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return i / 2u; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.x + 64u * (4u * (i % 2u) + j); }

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    let r0 = row_setup(mode, row0 + 0u);
    let r1 = row_setup(mode, row0 + 1u);
    let r2 = row_setup(mode, row0 + 2u);
    let r3 = row_setup(mode, row0 + 3u);
    let r4 = row_setup(mode, row0 + 4u);
    let r5 = row_setup(mode, row0 + 5u);
    let r6 = row_setup(mode, row0 + 6u);
    let r7 = row_setup(mode, row0 + 7u);
    let c0 = col_setup(mode, col0 + lid.x + 0u);
    let c1 = col_setup(mode, col0 + lid.x + 64u);
    let c2 = col_setup(mode, col0 + lid.x + 128u);
    let c3 = col_setup(mode, col0 + lid.x + 192u);
    let c4 = col_setup(mode, col0 + lid.x + 256u);
    let c5 = col_setup(mode, col0 + lid.x + 320u);
    let c6 = col_setup(mode, col0 + lid.x + 384u);
    let c7 = col_setup(mode, col0 + lid.x + 448u);
    var ki = k_setup(mode, k_begin);
    for (var k = k_begin; k < k_end; k++) {
        let b0 = vec4<f32>(load_b(mode, ki, c0), load_b(mode, ki, c1), load_b(mode, ki, c2), load_b(mode, ki, c3));
        let b1 = vec4<f32>(load_b(mode, ki, c4), load_b(mode, ki, c5), load_b(mode, ki, c6), load_b(mode, ki, c7));
        let a0 = vec4<f32>(load_a(mode, r0, ki));
        acc0 = fma(a0, b0, acc0);
        acc1 = fma(a0, b1, acc1);
        let a1 = vec4<f32>(load_a(mode, r1, ki));
        acc2 = fma(a1, b0, acc2);
        acc3 = fma(a1, b1, acc3);
        let a2 = vec4<f32>(load_a(mode, r2, ki));
        acc4 = fma(a2, b0, acc4);
        acc5 = fma(a2, b1, acc5);
        let a3 = vec4<f32>(load_a(mode, r3, ki));
        acc6 = fma(a3, b0, acc6);
        acc7 = fma(a3, b1, acc7);
        let a4 = vec4<f32>(load_a(mode, r4, ki));
        acc8 = fma(a4, b0, acc8);
        acc9 = fma(a4, b1, acc9);
        let a5 = vec4<f32>(load_a(mode, r5, ki));
        acc10 = fma(a5, b0, acc10);
        acc11 = fma(a5, b1, acc11);
        let a6 = vec4<f32>(load_a(mode, r6, ki));
        acc12 = fma(a6, b0, acc12);
        acc13 = fma(a6, b1, acc13);
        let a7 = vec4<f32>(load_a(mode, r7, ki));
        acc14 = fma(a7, b0, acc14);
        acc15 = fma(a7, b1, acc15);
        ki = k_next(mode, ki);
    }
    return array<vec4<f32>, RPT>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15);
}
