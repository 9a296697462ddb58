//! Max-pool K×K, stride K: `pool{K}`. A trailing row or column that does not
//! fill a window is dropped (7 -> 3), as PyTorch's floor mode does.

use super::{size, Emit, Kind, OnnxAt, Place, Shape};
use crate::kernels::op::{self, View};
use crate::kernels::PoolDims;
use crate::model::onnx::{Attr, Graph};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool {
    pub k: usize,
}

impl Pool {
    pub const SYNTAX: &str = "pool{K}";

    pub fn parse(tok: &str) -> Option<Pool> {
        Some(Pool { k: size(tok.strip_prefix("pool")?)? })
    }

    fn dims(&self, n: usize, (c, h, w): Shape) -> PoolDims {
        PoolDims::new(n, c, h, w, self.k)
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pool{}", self.k)
    }
}

impl Kind for Pool {
    fn out_shape(&self, at: &Place) -> Result<Shape, String> {
        let (c, h, w) = at.input;
        at.spatial()?;
        if self.k > h || self.k > w {
            return Err(format!("is larger than its {h}x{w} input"));
        }
        Ok((c, h / self.k, w / self.k))
    }

    /// The index of each output's maximum, which backward sends the gradient to.
    fn aux(&self, n: usize, _input: Shape, (c, h, w): Shape) -> Option<(&'static str, usize)> {
        Some(("argmax", n * c * h * w))
    }

    fn forward(&self, e: &mut Emit) -> bool {
        let arg = e.aux.expect("pool without its argmax");
        e.push(op::maxpool_forward(e.y, arg, e.x, self.dims(e.n, e.input)));
        true
    }

    fn backward(&self, e: &mut Emit) {
        if let Some(dx) = e.dx {
            let dy = e.dy();
            let arg = View { len: dy.len, ..e.aux.expect("pool without its argmax") };
            e.push(op::maxpool_backward(dx, dy, arg, self.dims(e.n, e.input)));
        }
    }

    /// `MaxPool` (floor: a trailing odd row is dropped, as here).
    fn onnx(&self, g: &mut Graph, _at: &OnnxAt, _flat: &mut bool) {
        let k = self.k as i64;
        g.node("MaxPool", &[], &[("kernel_shape", Attr::Ints(vec![k, k])), ("strides", Attr::Ints(vec![k, k]))]);
    }
}
