//! Shared GEMM core, block variant: dense products and convs on CPU adapters
//! (lavapipe, SwiftShader), where barriers, shared memory and per-lane gathers cost dearly.
//! Each invocation keeps a 16x16 block of C in 64 vec4 registers and takes k four
//! at a time, so every value it reads feeds 16 FMAs; no branch in the loop (a CPU
//! adapter runs both sides of every branch, and SwiftShader's compiler grows with
//! each one): rows and columns past the matrix are clamped onto its last row and
//! column (their results are never stored) and k past k_end reads k_end - 1 with
//! A's values zeroed. A workgroup's 8 invocations share their 16 rows, so A's
//! addresses are workgroup-uniform. Written out by hand (no arrays, no inner
//! loops) so a CPU compiler keeps the block in registers.
//!
//! The including file defines, besides the core interface of gemm.wgsl (every
//! function takes the entry point's mode first):
//!   alias KAt, alias ColAt   what a k and a column of B resolve to (matmul.wgsl: offsets)
//!   fn a_row(mode, row) -> u32   the offset of a clamped row of A
//!   fn b_col(mode, col) -> ColAt, fn k_at(mode, k) -> KAt   a clamped column, a k < K
//!   fn a_at(mode, row_offset, k: KAt) -> f32, fn b_at(mode, k: KAt, c: ColAt) -> f32
//!     reads in bounds with no test (conv2d.wgsl's b_at reads 0 in the padding)
//!   fn stores(mode) -> bool   whether this core stores the mode's block itself,
//!     unrolled, through
//!   fn put4(mode, row, col, v: vec4<f32>)   C[row, col..col+4] = v (where inside C),
//!     as the entry point stores (mode is a parameter there, not a constant a
//!     compiler folds: what put4 calls is in every entry, 64 times, so keep it small);
//!     any other mode gets the block back and stores it in a loop of its own

const TM: u32 = 16u;
const TN: u32 = 128u;
const WG_X: u32 = 8u;
const WG_Y: u32 = 1u;
// The block is stored here (put4), written out, where the including file says so:
// a loop over a returned array of 64 vec4 indexes it at run time, which puts the
// block in memory on a CPU adapter (half of lavapipe's time at 1024³; three
// quarters of conv1's forward); gemm_tile then returns zeros. matmul_grad's store
// (masked, unpooled: loops of their own) runs in such a loop instead, once: written
// out 256 times, it made lavapipe take 0.8 s more to build the pipelines. Entry
// points keep the returned block in a `var`: naga copies a `let` array whole for
// each index at run time (lavapipe's mlp step ran 5x slower so).
const STORES_C: bool = true;
const RPT: u32 = 64u;

// Row blocks along x: a CPU adapter runs workgroups in x order, so the workgroups
// that read the same strip of B run back to back, while it is cached.
fn tile_origin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(wid.x * TM, wid.y * TN); }

// acc[i][j] is C[row i / 4, column 16·lid.x + 4·(i % 4) + j] of the workgroup's tile.
fn c_row(lid: vec3<u32>, i: u32, j: u32) -> u32 { return i / 4u; }
fn c_col(lid: vec3<u32>, i: u32, j: u32) -> u32 { return 16u * lid.x + 4u * (i % 4u) + j; }

// Four k of A's row at offset `ro` (k, k+1, k+2, k+3, each clamped to k_end - 1),
// zero past k_end.
fn a_quad(mode: u32, ro: u32, k0: KAt, k1: KAt, k2: KAt, k3: KAt, live: vec4<bool>) -> vec4<f32> {
    let v = vec4<f32>(a_at(mode, ro, k0), a_at(mode, ro, k1), a_at(mode, ro, k2), a_at(mode, ro, k3));
    return select(vec4<f32>(0.0), v, live);
}

// Four columns of B at one k.
fn b_quad(mode: u32, k: KAt, c0: ColAt, c1: ColAt, c2: ColAt, c3: ColAt) -> vec4<f32> {
    return vec4<f32>(b_at(mode, k, c0), b_at(mode, k, c1), b_at(mode, k, c2), b_at(mode, k, c3));
}

fn gemm_tile(mode: u32, row0: u32, col0: u32, lid: vec3<u32>, k_begin: u32, k_end: u32) -> array<vec4<f32>, RPT> {
    var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
    var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
    var acc32 = vec4<f32>(0.0); var acc33 = vec4<f32>(0.0); var acc34 = vec4<f32>(0.0); var acc35 = vec4<f32>(0.0);
    var acc36 = vec4<f32>(0.0); var acc37 = vec4<f32>(0.0); var acc38 = vec4<f32>(0.0); var acc39 = vec4<f32>(0.0);
    var acc40 = vec4<f32>(0.0); var acc41 = vec4<f32>(0.0); var acc42 = vec4<f32>(0.0); var acc43 = vec4<f32>(0.0);
    var acc44 = vec4<f32>(0.0); var acc45 = vec4<f32>(0.0); var acc46 = vec4<f32>(0.0); var acc47 = vec4<f32>(0.0);
    var acc48 = vec4<f32>(0.0); var acc49 = vec4<f32>(0.0); var acc50 = vec4<f32>(0.0); var acc51 = vec4<f32>(0.0);
    var acc52 = vec4<f32>(0.0); var acc53 = vec4<f32>(0.0); var acc54 = vec4<f32>(0.0); var acc55 = vec4<f32>(0.0);
    var acc56 = vec4<f32>(0.0); var acc57 = vec4<f32>(0.0); var acc58 = vec4<f32>(0.0); var acc59 = vec4<f32>(0.0);
    var acc60 = vec4<f32>(0.0); var acc61 = vec4<f32>(0.0); var acc62 = vec4<f32>(0.0); var acc63 = vec4<f32>(0.0);
    let r0 = a_row(mode, row0 + 0u);
    let r1 = a_row(mode, row0 + 1u);
    let r2 = a_row(mode, row0 + 2u);
    let r3 = a_row(mode, row0 + 3u);
    let r4 = a_row(mode, row0 + 4u);
    let r5 = a_row(mode, row0 + 5u);
    let r6 = a_row(mode, row0 + 6u);
    let r7 = a_row(mode, row0 + 7u);
    let r8 = a_row(mode, row0 + 8u);
    let r9 = a_row(mode, row0 + 9u);
    let r10 = a_row(mode, row0 + 10u);
    let r11 = a_row(mode, row0 + 11u);
    let r12 = a_row(mode, row0 + 12u);
    let r13 = a_row(mode, row0 + 13u);
    let r14 = a_row(mode, row0 + 14u);
    let r15 = a_row(mode, row0 + 15u);
    let cb = col0 + 16u * lid.x;
    let c0 = b_col(mode, cb + 0u);
    let c1 = b_col(mode, cb + 1u);
    let c2 = b_col(mode, cb + 2u);
    let c3 = b_col(mode, cb + 3u);
    let c4 = b_col(mode, cb + 4u);
    let c5 = b_col(mode, cb + 5u);
    let c6 = b_col(mode, cb + 6u);
    let c7 = b_col(mode, cb + 7u);
    let c8 = b_col(mode, cb + 8u);
    let c9 = b_col(mode, cb + 9u);
    let c10 = b_col(mode, cb + 10u);
    let c11 = b_col(mode, cb + 11u);
    let c12 = b_col(mode, cb + 12u);
    let c13 = b_col(mode, cb + 13u);
    let c14 = b_col(mode, cb + 14u);
    let c15 = b_col(mode, cb + 15u);
    let last = max(k_end, 1u) - 1u;
    for (var k = k_begin; k < k_end; k += 4u) {
        let live = vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(k_end);
        let k0 = k_at(mode, k);
        let k1 = k_at(mode, min(k + 1u, last));
        let k2 = k_at(mode, min(k + 2u, last));
        let k3 = k_at(mode, min(k + 3u, last));
        let a0 = a_quad(mode, r0, k0, k1, k2, k3, live);
        let a1 = a_quad(mode, r1, k0, k1, k2, k3, live);
        let a2 = a_quad(mode, r2, k0, k1, k2, k3, live);
        let a3 = a_quad(mode, r3, k0, k1, k2, k3, live);
        let a4 = a_quad(mode, r4, k0, k1, k2, k3, live);
        let a5 = a_quad(mode, r5, k0, k1, k2, k3, live);
        let a6 = a_quad(mode, r6, k0, k1, k2, k3, live);
        let a7 = a_quad(mode, r7, k0, k1, k2, k3, live);
        let a8 = a_quad(mode, r8, k0, k1, k2, k3, live);
        let a9 = a_quad(mode, r9, k0, k1, k2, k3, live);
        let a10 = a_quad(mode, r10, k0, k1, k2, k3, live);
        let a11 = a_quad(mode, r11, k0, k1, k2, k3, live);
        let a12 = a_quad(mode, r12, k0, k1, k2, k3, live);
        let a13 = a_quad(mode, r13, k0, k1, k2, k3, live);
        let a14 = a_quad(mode, r14, k0, k1, k2, k3, live);
        let a15 = a_quad(mode, r15, k0, k1, k2, k3, live);
        let b00 = b_quad(mode, k0, c0, c1, c2, c3);
        let b01 = b_quad(mode, k0, c4, c5, c6, c7);
        let b02 = b_quad(mode, k0, c8, c9, c10, c11);
        let b03 = b_quad(mode, k0, c12, c13, c14, c15);
        acc0 = fma(vec4<f32>(a0.x), b00, acc0); acc1 = fma(vec4<f32>(a0.x), b01, acc1); acc2 = fma(vec4<f32>(a0.x), b02, acc2); acc3 = fma(vec4<f32>(a0.x), b03, acc3);
        acc4 = fma(vec4<f32>(a1.x), b00, acc4); acc5 = fma(vec4<f32>(a1.x), b01, acc5); acc6 = fma(vec4<f32>(a1.x), b02, acc6); acc7 = fma(vec4<f32>(a1.x), b03, acc7);
        acc8 = fma(vec4<f32>(a2.x), b00, acc8); acc9 = fma(vec4<f32>(a2.x), b01, acc9); acc10 = fma(vec4<f32>(a2.x), b02, acc10); acc11 = fma(vec4<f32>(a2.x), b03, acc11);
        acc12 = fma(vec4<f32>(a3.x), b00, acc12); acc13 = fma(vec4<f32>(a3.x), b01, acc13); acc14 = fma(vec4<f32>(a3.x), b02, acc14); acc15 = fma(vec4<f32>(a3.x), b03, acc15);
        acc16 = fma(vec4<f32>(a4.x), b00, acc16); acc17 = fma(vec4<f32>(a4.x), b01, acc17); acc18 = fma(vec4<f32>(a4.x), b02, acc18); acc19 = fma(vec4<f32>(a4.x), b03, acc19);
        acc20 = fma(vec4<f32>(a5.x), b00, acc20); acc21 = fma(vec4<f32>(a5.x), b01, acc21); acc22 = fma(vec4<f32>(a5.x), b02, acc22); acc23 = fma(vec4<f32>(a5.x), b03, acc23);
        acc24 = fma(vec4<f32>(a6.x), b00, acc24); acc25 = fma(vec4<f32>(a6.x), b01, acc25); acc26 = fma(vec4<f32>(a6.x), b02, acc26); acc27 = fma(vec4<f32>(a6.x), b03, acc27);
        acc28 = fma(vec4<f32>(a7.x), b00, acc28); acc29 = fma(vec4<f32>(a7.x), b01, acc29); acc30 = fma(vec4<f32>(a7.x), b02, acc30); acc31 = fma(vec4<f32>(a7.x), b03, acc31);
        acc32 = fma(vec4<f32>(a8.x), b00, acc32); acc33 = fma(vec4<f32>(a8.x), b01, acc33); acc34 = fma(vec4<f32>(a8.x), b02, acc34); acc35 = fma(vec4<f32>(a8.x), b03, acc35);
        acc36 = fma(vec4<f32>(a9.x), b00, acc36); acc37 = fma(vec4<f32>(a9.x), b01, acc37); acc38 = fma(vec4<f32>(a9.x), b02, acc38); acc39 = fma(vec4<f32>(a9.x), b03, acc39);
        acc40 = fma(vec4<f32>(a10.x), b00, acc40); acc41 = fma(vec4<f32>(a10.x), b01, acc41); acc42 = fma(vec4<f32>(a10.x), b02, acc42); acc43 = fma(vec4<f32>(a10.x), b03, acc43);
        acc44 = fma(vec4<f32>(a11.x), b00, acc44); acc45 = fma(vec4<f32>(a11.x), b01, acc45); acc46 = fma(vec4<f32>(a11.x), b02, acc46); acc47 = fma(vec4<f32>(a11.x), b03, acc47);
        acc48 = fma(vec4<f32>(a12.x), b00, acc48); acc49 = fma(vec4<f32>(a12.x), b01, acc49); acc50 = fma(vec4<f32>(a12.x), b02, acc50); acc51 = fma(vec4<f32>(a12.x), b03, acc51);
        acc52 = fma(vec4<f32>(a13.x), b00, acc52); acc53 = fma(vec4<f32>(a13.x), b01, acc53); acc54 = fma(vec4<f32>(a13.x), b02, acc54); acc55 = fma(vec4<f32>(a13.x), b03, acc55);
        acc56 = fma(vec4<f32>(a14.x), b00, acc56); acc57 = fma(vec4<f32>(a14.x), b01, acc57); acc58 = fma(vec4<f32>(a14.x), b02, acc58); acc59 = fma(vec4<f32>(a14.x), b03, acc59);
        acc60 = fma(vec4<f32>(a15.x), b00, acc60); acc61 = fma(vec4<f32>(a15.x), b01, acc61); acc62 = fma(vec4<f32>(a15.x), b02, acc62); acc63 = fma(vec4<f32>(a15.x), b03, acc63);
        let b10 = b_quad(mode, k1, c0, c1, c2, c3);
        let b11 = b_quad(mode, k1, c4, c5, c6, c7);
        let b12 = b_quad(mode, k1, c8, c9, c10, c11);
        let b13 = b_quad(mode, k1, c12, c13, c14, c15);
        acc0 = fma(vec4<f32>(a0.y), b10, acc0); acc1 = fma(vec4<f32>(a0.y), b11, acc1); acc2 = fma(vec4<f32>(a0.y), b12, acc2); acc3 = fma(vec4<f32>(a0.y), b13, acc3);
        acc4 = fma(vec4<f32>(a1.y), b10, acc4); acc5 = fma(vec4<f32>(a1.y), b11, acc5); acc6 = fma(vec4<f32>(a1.y), b12, acc6); acc7 = fma(vec4<f32>(a1.y), b13, acc7);
        acc8 = fma(vec4<f32>(a2.y), b10, acc8); acc9 = fma(vec4<f32>(a2.y), b11, acc9); acc10 = fma(vec4<f32>(a2.y), b12, acc10); acc11 = fma(vec4<f32>(a2.y), b13, acc11);
        acc12 = fma(vec4<f32>(a3.y), b10, acc12); acc13 = fma(vec4<f32>(a3.y), b11, acc13); acc14 = fma(vec4<f32>(a3.y), b12, acc14); acc15 = fma(vec4<f32>(a3.y), b13, acc15);
        acc16 = fma(vec4<f32>(a4.y), b10, acc16); acc17 = fma(vec4<f32>(a4.y), b11, acc17); acc18 = fma(vec4<f32>(a4.y), b12, acc18); acc19 = fma(vec4<f32>(a4.y), b13, acc19);
        acc20 = fma(vec4<f32>(a5.y), b10, acc20); acc21 = fma(vec4<f32>(a5.y), b11, acc21); acc22 = fma(vec4<f32>(a5.y), b12, acc22); acc23 = fma(vec4<f32>(a5.y), b13, acc23);
        acc24 = fma(vec4<f32>(a6.y), b10, acc24); acc25 = fma(vec4<f32>(a6.y), b11, acc25); acc26 = fma(vec4<f32>(a6.y), b12, acc26); acc27 = fma(vec4<f32>(a6.y), b13, acc27);
        acc28 = fma(vec4<f32>(a7.y), b10, acc28); acc29 = fma(vec4<f32>(a7.y), b11, acc29); acc30 = fma(vec4<f32>(a7.y), b12, acc30); acc31 = fma(vec4<f32>(a7.y), b13, acc31);
        acc32 = fma(vec4<f32>(a8.y), b10, acc32); acc33 = fma(vec4<f32>(a8.y), b11, acc33); acc34 = fma(vec4<f32>(a8.y), b12, acc34); acc35 = fma(vec4<f32>(a8.y), b13, acc35);
        acc36 = fma(vec4<f32>(a9.y), b10, acc36); acc37 = fma(vec4<f32>(a9.y), b11, acc37); acc38 = fma(vec4<f32>(a9.y), b12, acc38); acc39 = fma(vec4<f32>(a9.y), b13, acc39);
        acc40 = fma(vec4<f32>(a10.y), b10, acc40); acc41 = fma(vec4<f32>(a10.y), b11, acc41); acc42 = fma(vec4<f32>(a10.y), b12, acc42); acc43 = fma(vec4<f32>(a10.y), b13, acc43);
        acc44 = fma(vec4<f32>(a11.y), b10, acc44); acc45 = fma(vec4<f32>(a11.y), b11, acc45); acc46 = fma(vec4<f32>(a11.y), b12, acc46); acc47 = fma(vec4<f32>(a11.y), b13, acc47);
        acc48 = fma(vec4<f32>(a12.y), b10, acc48); acc49 = fma(vec4<f32>(a12.y), b11, acc49); acc50 = fma(vec4<f32>(a12.y), b12, acc50); acc51 = fma(vec4<f32>(a12.y), b13, acc51);
        acc52 = fma(vec4<f32>(a13.y), b10, acc52); acc53 = fma(vec4<f32>(a13.y), b11, acc53); acc54 = fma(vec4<f32>(a13.y), b12, acc54); acc55 = fma(vec4<f32>(a13.y), b13, acc55);
        acc56 = fma(vec4<f32>(a14.y), b10, acc56); acc57 = fma(vec4<f32>(a14.y), b11, acc57); acc58 = fma(vec4<f32>(a14.y), b12, acc58); acc59 = fma(vec4<f32>(a14.y), b13, acc59);
        acc60 = fma(vec4<f32>(a15.y), b10, acc60); acc61 = fma(vec4<f32>(a15.y), b11, acc61); acc62 = fma(vec4<f32>(a15.y), b12, acc62); acc63 = fma(vec4<f32>(a15.y), b13, acc63);
        let b20 = b_quad(mode, k2, c0, c1, c2, c3);
        let b21 = b_quad(mode, k2, c4, c5, c6, c7);
        let b22 = b_quad(mode, k2, c8, c9, c10, c11);
        let b23 = b_quad(mode, k2, c12, c13, c14, c15);
        acc0 = fma(vec4<f32>(a0.z), b20, acc0); acc1 = fma(vec4<f32>(a0.z), b21, acc1); acc2 = fma(vec4<f32>(a0.z), b22, acc2); acc3 = fma(vec4<f32>(a0.z), b23, acc3);
        acc4 = fma(vec4<f32>(a1.z), b20, acc4); acc5 = fma(vec4<f32>(a1.z), b21, acc5); acc6 = fma(vec4<f32>(a1.z), b22, acc6); acc7 = fma(vec4<f32>(a1.z), b23, acc7);
        acc8 = fma(vec4<f32>(a2.z), b20, acc8); acc9 = fma(vec4<f32>(a2.z), b21, acc9); acc10 = fma(vec4<f32>(a2.z), b22, acc10); acc11 = fma(vec4<f32>(a2.z), b23, acc11);
        acc12 = fma(vec4<f32>(a3.z), b20, acc12); acc13 = fma(vec4<f32>(a3.z), b21, acc13); acc14 = fma(vec4<f32>(a3.z), b22, acc14); acc15 = fma(vec4<f32>(a3.z), b23, acc15);
        acc16 = fma(vec4<f32>(a4.z), b20, acc16); acc17 = fma(vec4<f32>(a4.z), b21, acc17); acc18 = fma(vec4<f32>(a4.z), b22, acc18); acc19 = fma(vec4<f32>(a4.z), b23, acc19);
        acc20 = fma(vec4<f32>(a5.z), b20, acc20); acc21 = fma(vec4<f32>(a5.z), b21, acc21); acc22 = fma(vec4<f32>(a5.z), b22, acc22); acc23 = fma(vec4<f32>(a5.z), b23, acc23);
        acc24 = fma(vec4<f32>(a6.z), b20, acc24); acc25 = fma(vec4<f32>(a6.z), b21, acc25); acc26 = fma(vec4<f32>(a6.z), b22, acc26); acc27 = fma(vec4<f32>(a6.z), b23, acc27);
        acc28 = fma(vec4<f32>(a7.z), b20, acc28); acc29 = fma(vec4<f32>(a7.z), b21, acc29); acc30 = fma(vec4<f32>(a7.z), b22, acc30); acc31 = fma(vec4<f32>(a7.z), b23, acc31);
        acc32 = fma(vec4<f32>(a8.z), b20, acc32); acc33 = fma(vec4<f32>(a8.z), b21, acc33); acc34 = fma(vec4<f32>(a8.z), b22, acc34); acc35 = fma(vec4<f32>(a8.z), b23, acc35);
        acc36 = fma(vec4<f32>(a9.z), b20, acc36); acc37 = fma(vec4<f32>(a9.z), b21, acc37); acc38 = fma(vec4<f32>(a9.z), b22, acc38); acc39 = fma(vec4<f32>(a9.z), b23, acc39);
        acc40 = fma(vec4<f32>(a10.z), b20, acc40); acc41 = fma(vec4<f32>(a10.z), b21, acc41); acc42 = fma(vec4<f32>(a10.z), b22, acc42); acc43 = fma(vec4<f32>(a10.z), b23, acc43);
        acc44 = fma(vec4<f32>(a11.z), b20, acc44); acc45 = fma(vec4<f32>(a11.z), b21, acc45); acc46 = fma(vec4<f32>(a11.z), b22, acc46); acc47 = fma(vec4<f32>(a11.z), b23, acc47);
        acc48 = fma(vec4<f32>(a12.z), b20, acc48); acc49 = fma(vec4<f32>(a12.z), b21, acc49); acc50 = fma(vec4<f32>(a12.z), b22, acc50); acc51 = fma(vec4<f32>(a12.z), b23, acc51);
        acc52 = fma(vec4<f32>(a13.z), b20, acc52); acc53 = fma(vec4<f32>(a13.z), b21, acc53); acc54 = fma(vec4<f32>(a13.z), b22, acc54); acc55 = fma(vec4<f32>(a13.z), b23, acc55);
        acc56 = fma(vec4<f32>(a14.z), b20, acc56); acc57 = fma(vec4<f32>(a14.z), b21, acc57); acc58 = fma(vec4<f32>(a14.z), b22, acc58); acc59 = fma(vec4<f32>(a14.z), b23, acc59);
        acc60 = fma(vec4<f32>(a15.z), b20, acc60); acc61 = fma(vec4<f32>(a15.z), b21, acc61); acc62 = fma(vec4<f32>(a15.z), b22, acc62); acc63 = fma(vec4<f32>(a15.z), b23, acc63);
        let b30 = b_quad(mode, k3, c0, c1, c2, c3);
        let b31 = b_quad(mode, k3, c4, c5, c6, c7);
        let b32 = b_quad(mode, k3, c8, c9, c10, c11);
        let b33 = b_quad(mode, k3, c12, c13, c14, c15);
        acc0 = fma(vec4<f32>(a0.w), b30, acc0); acc1 = fma(vec4<f32>(a0.w), b31, acc1); acc2 = fma(vec4<f32>(a0.w), b32, acc2); acc3 = fma(vec4<f32>(a0.w), b33, acc3);
        acc4 = fma(vec4<f32>(a1.w), b30, acc4); acc5 = fma(vec4<f32>(a1.w), b31, acc5); acc6 = fma(vec4<f32>(a1.w), b32, acc6); acc7 = fma(vec4<f32>(a1.w), b33, acc7);
        acc8 = fma(vec4<f32>(a2.w), b30, acc8); acc9 = fma(vec4<f32>(a2.w), b31, acc9); acc10 = fma(vec4<f32>(a2.w), b32, acc10); acc11 = fma(vec4<f32>(a2.w), b33, acc11);
        acc12 = fma(vec4<f32>(a3.w), b30, acc12); acc13 = fma(vec4<f32>(a3.w), b31, acc13); acc14 = fma(vec4<f32>(a3.w), b32, acc14); acc15 = fma(vec4<f32>(a3.w), b33, acc15);
        acc16 = fma(vec4<f32>(a4.w), b30, acc16); acc17 = fma(vec4<f32>(a4.w), b31, acc17); acc18 = fma(vec4<f32>(a4.w), b32, acc18); acc19 = fma(vec4<f32>(a4.w), b33, acc19);
        acc20 = fma(vec4<f32>(a5.w), b30, acc20); acc21 = fma(vec4<f32>(a5.w), b31, acc21); acc22 = fma(vec4<f32>(a5.w), b32, acc22); acc23 = fma(vec4<f32>(a5.w), b33, acc23);
        acc24 = fma(vec4<f32>(a6.w), b30, acc24); acc25 = fma(vec4<f32>(a6.w), b31, acc25); acc26 = fma(vec4<f32>(a6.w), b32, acc26); acc27 = fma(vec4<f32>(a6.w), b33, acc27);
        acc28 = fma(vec4<f32>(a7.w), b30, acc28); acc29 = fma(vec4<f32>(a7.w), b31, acc29); acc30 = fma(vec4<f32>(a7.w), b32, acc30); acc31 = fma(vec4<f32>(a7.w), b33, acc31);
        acc32 = fma(vec4<f32>(a8.w), b30, acc32); acc33 = fma(vec4<f32>(a8.w), b31, acc33); acc34 = fma(vec4<f32>(a8.w), b32, acc34); acc35 = fma(vec4<f32>(a8.w), b33, acc35);
        acc36 = fma(vec4<f32>(a9.w), b30, acc36); acc37 = fma(vec4<f32>(a9.w), b31, acc37); acc38 = fma(vec4<f32>(a9.w), b32, acc38); acc39 = fma(vec4<f32>(a9.w), b33, acc39);
        acc40 = fma(vec4<f32>(a10.w), b30, acc40); acc41 = fma(vec4<f32>(a10.w), b31, acc41); acc42 = fma(vec4<f32>(a10.w), b32, acc42); acc43 = fma(vec4<f32>(a10.w), b33, acc43);
        acc44 = fma(vec4<f32>(a11.w), b30, acc44); acc45 = fma(vec4<f32>(a11.w), b31, acc45); acc46 = fma(vec4<f32>(a11.w), b32, acc46); acc47 = fma(vec4<f32>(a11.w), b33, acc47);
        acc48 = fma(vec4<f32>(a12.w), b30, acc48); acc49 = fma(vec4<f32>(a12.w), b31, acc49); acc50 = fma(vec4<f32>(a12.w), b32, acc50); acc51 = fma(vec4<f32>(a12.w), b33, acc51);
        acc52 = fma(vec4<f32>(a13.w), b30, acc52); acc53 = fma(vec4<f32>(a13.w), b31, acc53); acc54 = fma(vec4<f32>(a13.w), b32, acc54); acc55 = fma(vec4<f32>(a13.w), b33, acc55);
        acc56 = fma(vec4<f32>(a14.w), b30, acc56); acc57 = fma(vec4<f32>(a14.w), b31, acc57); acc58 = fma(vec4<f32>(a14.w), b32, acc58); acc59 = fma(vec4<f32>(a14.w), b33, acc59);
        acc60 = fma(vec4<f32>(a15.w), b30, acc60); acc61 = fma(vec4<f32>(a15.w), b31, acc61); acc62 = fma(vec4<f32>(a15.w), b32, acc62); acc63 = fma(vec4<f32>(a15.w), b33, acc63);
    }
    if (!stores(mode)) {
        return array<vec4<f32>, RPT>(
            acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15,
            acc16, acc17, acc18, acc19, acc20, acc21, acc22, acc23, acc24, acc25, acc26, acc27, acc28, acc29, acc30, acc31,
            acc32, acc33, acc34, acc35, acc36, acc37, acc38, acc39, acc40, acc41, acc42, acc43, acc44, acc45, acc46, acc47,
            acc48, acc49, acc50, acc51, acc52, acc53, acc54, acc55, acc56, acc57, acc58, acc59, acc60, acc61, acc62, acc63);
    }
    put4(mode, row0 + 0u, cb + 0u, acc0); put4(mode, row0 + 0u, cb + 4u, acc1); put4(mode, row0 + 0u, cb + 8u, acc2); put4(mode, row0 + 0u, cb + 12u, acc3);
    put4(mode, row0 + 1u, cb + 0u, acc4); put4(mode, row0 + 1u, cb + 4u, acc5); put4(mode, row0 + 1u, cb + 8u, acc6); put4(mode, row0 + 1u, cb + 12u, acc7);
    put4(mode, row0 + 2u, cb + 0u, acc8); put4(mode, row0 + 2u, cb + 4u, acc9); put4(mode, row0 + 2u, cb + 8u, acc10); put4(mode, row0 + 2u, cb + 12u, acc11);
    put4(mode, row0 + 3u, cb + 0u, acc12); put4(mode, row0 + 3u, cb + 4u, acc13); put4(mode, row0 + 3u, cb + 8u, acc14); put4(mode, row0 + 3u, cb + 12u, acc15);
    put4(mode, row0 + 4u, cb + 0u, acc16); put4(mode, row0 + 4u, cb + 4u, acc17); put4(mode, row0 + 4u, cb + 8u, acc18); put4(mode, row0 + 4u, cb + 12u, acc19);
    put4(mode, row0 + 5u, cb + 0u, acc20); put4(mode, row0 + 5u, cb + 4u, acc21); put4(mode, row0 + 5u, cb + 8u, acc22); put4(mode, row0 + 5u, cb + 12u, acc23);
    put4(mode, row0 + 6u, cb + 0u, acc24); put4(mode, row0 + 6u, cb + 4u, acc25); put4(mode, row0 + 6u, cb + 8u, acc26); put4(mode, row0 + 6u, cb + 12u, acc27);
    put4(mode, row0 + 7u, cb + 0u, acc28); put4(mode, row0 + 7u, cb + 4u, acc29); put4(mode, row0 + 7u, cb + 8u, acc30); put4(mode, row0 + 7u, cb + 12u, acc31);
    put4(mode, row0 + 8u, cb + 0u, acc32); put4(mode, row0 + 8u, cb + 4u, acc33); put4(mode, row0 + 8u, cb + 8u, acc34); put4(mode, row0 + 8u, cb + 12u, acc35);
    put4(mode, row0 + 9u, cb + 0u, acc36); put4(mode, row0 + 9u, cb + 4u, acc37); put4(mode, row0 + 9u, cb + 8u, acc38); put4(mode, row0 + 9u, cb + 12u, acc39);
    put4(mode, row0 + 10u, cb + 0u, acc40); put4(mode, row0 + 10u, cb + 4u, acc41); put4(mode, row0 + 10u, cb + 8u, acc42); put4(mode, row0 + 10u, cb + 12u, acc43);
    put4(mode, row0 + 11u, cb + 0u, acc44); put4(mode, row0 + 11u, cb + 4u, acc45); put4(mode, row0 + 11u, cb + 8u, acc46); put4(mode, row0 + 11u, cb + 12u, acc47);
    put4(mode, row0 + 12u, cb + 0u, acc48); put4(mode, row0 + 12u, cb + 4u, acc49); put4(mode, row0 + 12u, cb + 8u, acc50); put4(mode, row0 + 12u, cb + 12u, acc51);
    put4(mode, row0 + 13u, cb + 0u, acc52); put4(mode, row0 + 13u, cb + 4u, acc53); put4(mode, row0 + 13u, cb + 8u, acc54); put4(mode, row0 + 13u, cb + 12u, acc55);
    put4(mode, row0 + 14u, cb + 0u, acc56); put4(mode, row0 + 14u, cb + 4u, acc57); put4(mode, row0 + 14u, cb + 8u, acc58); put4(mode, row0 + 14u, cb + 12u, acc59);
    put4(mode, row0 + 15u, cb + 0u, acc60); put4(mode, row0 + 15u, cb + 4u, acc61); put4(mode, row0 + 15u, cb + 8u, acc62); put4(mode, row0 + 15u, cb + 12u, acc63);
    return array<vec4<f32>, RPT>();
}
