//! Batch assembly on the GPU: the whole image store lives on the device as packed
//! bytes, and each step gathers its rows through an index list (the epoch's
//! shuffle), so no pixel crosses the bus during training.
//!
//! With `augment` set (training batches only), each image is resampled through a
//! random affine map: rotation, zoom and shift about the image centre, bilinear,
//! zero outside; before it, a random crop (an integer offset within ±crop,
//! zero outside: the padded crop of the CIFAR recipes) and a left-right flip of
//! half the images. Every channel moves with the same maps. Its four parameters come from hash(seed, step, store row), so a
//! run (and a resumed run) sees the same images at the same steps. With `elastic`
//! the output point first moves by a smooth random warp (the elastic distortion
//! of Simard et al., approximated: random displacements at a 4x4 grid of control
//! points, interpolated bilinearly, instead of a Gaussian-smoothed random field).

struct Gather {
    n: u32,              // rows in this batch
    offset: u32,         // first entry of `index` used by this batch
    pixels: u32,         // pixels per image (784)
    row_words: u32,      // u32 words per packed image row (pixels / 4, rounded up)
    side: u32,           // image width (augmentation: pixels = channels · side · height)
    seed: u32, step: u32,
    augment: u32,        // 1: random affine per image
    inv_scale: f32,      // 1 / pixel divisor
    rotate: f32,         // largest rotation, radians: angle ~ U[-rotate, rotate]
    zoom: f32,           // largest relative zoom: factor ~ U[1 - zoom, 1 + zoom]
    shift: f32,          // largest shift, pixels: dx, dy ~ U[-shift, shift]
    elastic: f32,        // largest warp displacement, pixels, at each control point
    height: u32,         // image height
    crop: u32,           // largest crop offset, pixels: dx, dy uniform integers in [-crop, crop]
    flip: u32,           // 1: half the images mirrored left to right
}

@group(0) @binding(0) var<uniform> ga: Gather;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;      // (n, pixels)
@group(0) @binding(2) var<storage, read_write> y: array<u32>;      // (n) labels
@group(0) @binding(3) var<storage, read> store: array<u32>;        // (rows, row_words) 4 pixels per word, low byte first
@group(0) @binding(4) var<storage, read> store_labels: array<u32>; // (rows)
@group(0) @binding(5) var<storage, read> index: array<u32>;        // row numbers into the store

// the counter hash of dropout.wgsl
fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// Salt of the augmentation hash, apart from every dropout layer's (their layer index).
const AUGMENT_SALT: u32 = 0x41554721u;

// Uniform in [-1, 1) from the k-th hash of store row `src` at this step.
fn unit(src: u32, k: u32) -> f32 {
    let key = pcg(ga.seed ^ pcg(ga.step ^ pcg(AUGMENT_SALT)));
    return f32(pcg((src * 4u + k) ^ key) >> 8u) * (2.0 / 16777216.0) - 1.0;
}

// Salt of the crop's and flip's hash, apart from the affine map's and the warp's.
const CROP_SALT: u32 = 0x43524f50u;

// Uniform in [-1, 1) from the k-th crop hash of store row `src` at this step.
fn crop_unit(src: u32, k: u32) -> f32 {
    let key = pcg(ga.seed ^ pcg(ga.step ^ pcg(CROP_SALT)));
    return f32(pcg((src * 4u + k) ^ key) >> 8u) * (2.0 / 16777216.0) - 1.0;
}

// A crop offset of row `src`: an integer in [-crop, crop], each equally likely.
fn crop_offset(src: u32, k: u32) -> f32 {
    let n = f32(2u * ga.crop + 1u);
    return min(floor((crop_unit(src, k) + 1.0) * 0.5 * n), n - 1.0) - f32(ga.crop);
}

// Salt of the warp's hash, apart from the affine map's.
const ELASTIC_SALT: u32 = 0x454c4153u;
// Control points per side of the warp's grid.
const GRID: u32 = 4u;

// Uniform in [-1, 1) from the k-th warp hash of store row `src` at this step.
fn warp_unit(src: u32, k: u32) -> f32 {
    let key = pcg(ga.seed ^ pcg(ga.step ^ pcg(ELASTIC_SALT)));
    return f32(pcg((src * 2u * GRID * GRID + k) ^ key) >> 8u) * (2.0 / 16777216.0) - 1.0;
}

// The warp's displacement at point p of row `src`: bilinear between the four
// control points around p (spaced (width - 1) / 3 and (height - 1) / 3 apart),
// each moved by up to `elastic` pixels in x and y.
fn warp(src: u32, p: vec2<f32>) -> vec2<f32> {
    let g = p * (f32(GRID - 1u) / (vec2<f32>(f32(ga.side), f32(ga.height)) - 1.0));
    let i = min(u32(g.x), GRID - 2u);
    let j = min(u32(g.y), GRID - 2u);
    let f = g - vec2<f32>(f32(i), f32(j));
    let k = 2u * (j * GRID + i);
    let d00 = vec2<f32>(warp_unit(src, k), warp_unit(src, k + 1u));
    let d10 = vec2<f32>(warp_unit(src, k + 2u), warp_unit(src, k + 3u));
    let d01 = vec2<f32>(warp_unit(src, k + 2u * GRID), warp_unit(src, k + 2u * GRID + 1u));
    let d11 = vec2<f32>(warp_unit(src, k + 2u * GRID + 2u), warp_unit(src, k + 2u * GRID + 3u));
    let top = (1.0 - f.x) * d00 + f.x * d10;
    let bottom = (1.0 - f.x) * d01 + f.x * d11;
    return ga.elastic * ((1.0 - f.y) * top + f.y * bottom);
}

fn byte_at(src: u32, j: u32) -> f32 {
    return f32((store[src * ga.row_words + j / 4u] >> (8u * (j % 4u))) & 255u);
}

// Pixel (ix, iy) of channel `ch` of row `src`, zero outside the image.
fn texel(src: u32, ch: u32, ix: i32, iy: i32) -> f32 {
    let w = i32(ga.side);
    if (ix < 0 || iy < 0 || ix >= w || iy >= i32(ga.height)) { return 0.0; }
    return byte_at(src, ch * ga.side * ga.height + u32(iy * w + ix));
}

// (cos θ, sin θ) for |θ| <= π from + and × alone. WGSL promises its cos and sin
// only to 2^-11 absolute on [-π, π] (SwiftShader uses that freedom), which moves a
// sample point by up to 1/100 pixel; these polynomials in θ/2 (Taylor to degree
// 11 and 12) with the double-angle formulas are within 5e-7 everywhere and give
// every compiler, and the twin, the same map to the last few bits.
fn cos_sin(theta: f32) -> vec2<f32> {
    let h = 0.5 * theta;
    let q = h * h;
    let s = h * (1.0 + q * (-1.0 / 6.0 + q * (1.0 / 120.0 + q * (-1.0 / 5040.0 + q * (1.0 / 362880.0 + q * (-1.0 / 39916800.0))))));
    let c = 1.0 + q * (-0.5 + q * (1.0 / 24.0 + q * (-1.0 / 720.0 + q * (1.0 / 40320.0 + q * (-1.0 / 3628800.0 + q * (1.0 / 479001600.0))))));
    return vec2<f32>((c - s) * (c + s), 2.0 * s * c);
}

// Output value j of row `src` (channel ch, pixel p) under its random maps: p
// mirrored (flip) and moved by the crop's integer offset, then by the warp;
// the source point is c + R(-θ)·(p - c - t) / z, sampled bilinearly (an
// identity map samples the pixel itself).
fn augmented(src: u32, j: u32) -> f32 {
    let theta = ga.rotate * unit(src, 0u);
    let z = 1.0 + ga.zoom * unit(src, 1u);
    let tx = ga.shift * unit(src, 2u);
    let ty = ga.shift * unit(src, 3u);
    let c = (vec2<f32>(f32(ga.side), f32(ga.height)) - 1.0) * 0.5;
    let plane = ga.side * ga.height;
    let ch = j / plane;
    let k = j % plane;
    var p = vec2<f32>(f32(k % ga.side), f32(k / ga.side));
    if (ga.flip != 0u && crop_unit(src, 2u) < 0.0) { p.x = f32(ga.side - 1u) - p.x; }
    if (ga.crop != 0u) { p += vec2<f32>(crop_offset(src, 0u), crop_offset(src, 1u)); }
    if (ga.elastic != 0.0) { p += warp(src, p); }
    let dx = p.x - c.x - tx;
    let dy = p.y - c.y - ty;
    let rot = cos_sin(theta);
    let cs = rot.x;
    let sn = rot.y;
    let sx = c.x + (cs * dx + sn * dy) / z;
    let sy = c.y + (cs * dy - sn * dx) / z;
    let x0 = floor(sx);
    let y0 = floor(sy);
    let fx = sx - x0;
    let fy = sy - y0;
    let ix = i32(x0);
    let iy = i32(y0);
    let top = (1.0 - fx) * texel(src, ch, ix, iy) + fx * texel(src, ch, ix + 1, iy);
    let bottom = (1.0 - fx) * texel(src, ch, ix, iy + 1) + fx * texel(src, ch, ix + 1, iy + 1);
    return (1.0 - fy) * top + fy * bottom;
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= ga.n * ga.pixels) { return; }
    let r = i / ga.pixels;
    let j = i % ga.pixels;
    let src = index[ga.offset + r];
    var v = byte_at(src, j);
    if (ga.augment != 0u) { v = augmented(src, j); }
    x[i] = v * ga.inv_scale;
    if (j == 0u) { y[r] = store_labels[src]; }
}
