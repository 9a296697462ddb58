//! Batch assembly on the GPU: the whole image store lives on the device as packed
//! bytes, and each step gathers its rows through an index list (the epoch's
//! shuffle), so no pixel crosses the bus during training.

struct Gather {
    n: u32,              // rows in this batch
    offset: u32,         // first entry of `index` used by this batch
    pixels: u32,         // pixels per image (784)
    row_words: u32,      // u32 words per packed image row (pixels / 4, rounded up)
    _u: vec4<u32>,
    inv_scale: f32,      // 1 / pixel divisor
    _f1: f32, _f2: f32, _f3: f32, _f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> ga: Gather;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;      // (n, pixels)
@group(0) @binding(2) var<storage, read_write> y: array<u32>;      // (n) labels
@group(0) @binding(3) var<storage, read> store: array<u32>;        // (rows, row_words) 4 pixels per word, low byte first
@group(0) @binding(4) var<storage, read> store_labels: array<u32>; // (rows)
@group(0) @binding(5) var<storage, read> index: array<u32>;        // row numbers into the store

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= ga.n * ga.pixels) { return; }
    let r = i / ga.pixels;
    let j = i % ga.pixels;
    let src = index[ga.offset + r];
    let word = store[src * ga.row_words + j / 4u];
    x[i] = f32((word >> (8u * (j % 4u))) & 255u) * ga.inv_scale;
    if (j == 0u) { y[r] = store_labels[src]; }
}
