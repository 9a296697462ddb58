//! The WGSL sources, embedded at build time, with `//#include FILE` expanded.
//! One loader serves the pipelines and the naga validation test, so both see the
//! exact text the adapter compiles.

use std::borrow::Cow;

/// A shader file under shaders/ (one per op family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Matmul,
    Conv2d,
    Maxpool,
    Relu,
    SoftmaxXent,
    Dropout,
    Optim,
    Data,
}

const GEMM: &str = include_str!("../../shaders/gemm.wgsl");

impl Shader {
    pub const ALL: [Shader; 8] = [
        Shader::Matmul,
        Shader::Conv2d,
        Shader::Maxpool,
        Shader::Relu,
        Shader::SoftmaxXent,
        Shader::Dropout,
        Shader::Optim,
        Shader::Data,
    ];

    pub fn file(self) -> &'static str {
        match self {
            Shader::Matmul => "matmul.wgsl",
            Shader::Conv2d => "conv2d.wgsl",
            Shader::Maxpool => "maxpool.wgsl",
            Shader::Relu => "relu.wgsl",
            Shader::SoftmaxXent => "softmax_xent.wgsl",
            Shader::Dropout => "dropout.wgsl",
            Shader::Optim => "optim.wgsl",
            Shader::Data => "data.wgsl",
        }
    }

    fn raw(self) -> &'static str {
        match self {
            Shader::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Shader::Conv2d => include_str!("../../shaders/conv2d.wgsl"),
            Shader::Maxpool => include_str!("../../shaders/maxpool.wgsl"),
            Shader::Relu => include_str!("../../shaders/relu.wgsl"),
            Shader::SoftmaxXent => include_str!("../../shaders/softmax_xent.wgsl"),
            Shader::Dropout => include_str!("../../shaders/dropout.wgsl"),
            Shader::Optim => include_str!("../../shaders/optim.wgsl"),
            Shader::Data => include_str!("../../shaders/data.wgsl"),
        }
    }

    /// The source as compiled: includes expanded in place.
    pub fn source(self) -> Cow<'static, str> {
        let raw = self.raw();
        if !raw.contains("//#include ") {
            return Cow::Borrowed(raw);
        }
        let mut out = String::with_capacity(raw.len() + GEMM.len());
        for line in raw.lines() {
            match line.strip_prefix("//#include ") {
                Some("gemm.wgsl") => out.push_str(GEMM),
                Some(other) => panic!("{}: unknown include {other}", self.file()),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        Cow::Owned(out)
    }
}
