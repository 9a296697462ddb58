//! Twin of shaders/data.wgsl: gather a batch from the packed image store.

use super::Dims;

/// Mirrors `struct Gather`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GatherDims {
    pub n: u32,
    pub offset: u32,
    pub pixels: u32,
    pub row_words: u32,
    pub _u: [u32; 4],
    pub inv_scale: f32,
    pub _f: [f32; 7],
}
impl Dims for GatherDims {}

impl GatherDims {
    pub fn new(n: usize, offset: usize, pixels: usize, scale: f32) -> Self {
        GatherDims {
            n: n as u32,
            offset: offset as u32,
            pixels: pixels as u32,
            row_words: pixels.div_ceil(4) as u32,
            _u: [0; 4],
            inv_scale: 1.0 / scale,
            _f: [0.0; 7],
        }
    }
}

pub fn gather(x: &mut [f32], y: &mut [u32], store: &[u32], store_labels: &[u32], index: &[u32], d: &GatherDims) {
    let (px, rw) = (d.pixels as usize, d.row_words as usize);
    for r in 0..d.n as usize {
        let src = index[d.offset as usize + r] as usize;
        for j in 0..px {
            let byte = (store[src * rw + j / 4] >> (8 * (j % 4))) & 255;
            x[r * px + j] = byte as f32 * d.inv_scale;
        }
        y[r] = store_labels[src];
    }
}
