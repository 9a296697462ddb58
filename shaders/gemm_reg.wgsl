//! Shared GEMM core, register variant (CPU adapters such as lavapipe, where
//! barriers, shared memory and per-lane gathers are costly): the interface of
//! gemm.wgsl, no barrier, no shared memory. A workgroup of 64 invocations shares
//! its eight rows of A, so A's addresses are workgroup-uniform (a CPU adapter
//! loads them once and broadcasts); each invocation gathers four columns of B
//! and keeps its 8x4 block of C in registers. Written out by hand (no arrays,
//! no inner loops) so a CPU compiler keeps the block in registers.

const TM: u32 = 8u;
const TN: u32 = 256u;
const WG_X: u32 = 64u;
const WG_Y: u32 = 1u;
const RPT: u32 = 8u;

fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return i; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return lid.x + 64u * j; }

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, kdim: u32) -> array<vec4<f32>, RPT> {
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    let r0 = row_setup(mode, row0);
    let r1 = row_setup(mode, row0 + 1u);
    let r2 = row_setup(mode, row0 + 2u);
    let r3 = row_setup(mode, row0 + 3u);
    let r4 = row_setup(mode, row0 + 4u);
    let r5 = row_setup(mode, row0 + 5u);
    let r6 = row_setup(mode, row0 + 6u);
    let r7 = row_setup(mode, row0 + 7u);
    let c0 = col_setup(mode, col0 + lid.x);
    let c1 = col_setup(mode, col0 + lid.x + 64u);
    let c2 = col_setup(mode, col0 + lid.x + 128u);
    let c3 = col_setup(mode, col0 + lid.x + 192u);
    var ki = k_setup(mode, 0u);
    for (var k = 0u; k < kdim; k++) {
        let b = vec4<f32>(load_b(mode, ki, c0), load_b(mode, ki, c1), load_b(mode, ki, c2), load_b(mode, ki, c3));
        acc0 = fma(vec4<f32>(load_a(mode, r0, ki)), b, acc0);
        acc1 = fma(vec4<f32>(load_a(mode, r1, ki)), b, acc1);
        acc2 = fma(vec4<f32>(load_a(mode, r2, ki)), b, acc2);
        acc3 = fma(vec4<f32>(load_a(mode, r3, ki)), b, acc3);
        acc4 = fma(vec4<f32>(load_a(mode, r4, ki)), b, acc4);
        acc5 = fma(vec4<f32>(load_a(mode, r5, ki)), b, acc5);
        acc6 = fma(vec4<f32>(load_a(mode, r6, ki)), b, acc6);
        acc7 = fma(vec4<f32>(load_a(mode, r7, ki)), b, acc7);
        ki = k_next(mode, ki);
    }
    return array<vec4<f32>, RPT>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
}

// a / b for a < 2^24 without integer division (see gemm.wgsl).
fn div_small(a: u32, b: u32) -> u32 {
    var q = u32(f32(a) / f32(b));
    if (q * b > a) { q -= 1u; } else if ((q + 1u) * b <= a) { q += 1u; }
    return q;
}
