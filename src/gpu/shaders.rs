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
    Batchnorm,
}

/// Which GEMM core `//#include gemm.wgsl` pastes: the shared-memory tiles
/// (GPUs) or the barrier-free register blocks (CPU adapters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gemm {
    Tiled,
    Register,
}

impl Gemm {
    pub const ALL: [Gemm; 2] = [Gemm::Tiled, Gemm::Register];

    pub fn name(self) -> &'static str {
        match self {
            Gemm::Tiled => "tiled",
            Gemm::Register => "register",
        }
    }

    /// The (rows, columns) of C one workgroup computes (TM, TN in the core).
    pub fn tile(self) -> (u32, u32) {
        match self {
            Gemm::Tiled => (64, 64),
            Gemm::Register => (8, 512),
        }
    }

    /// The workgroups of a launch computing an m x n output with `splits`
    /// split-K layers, as each core's tile_origin reads the workgroup id.
    pub fn groups(self, m: u32, n: u32, splits: u32) -> [u32; 3] {
        let (tm, tn) = self.tile();
        let (rows, cols) = (m.div_ceil(tm).max(1), n.div_ceil(tn).max(1));
        match self {
            Gemm::Tiled => [cols, rows, splits],
            Gemm::Register => [rows, cols, splits],
        }
    }

    fn core(self) -> &'static str {
        match self {
            Gemm::Tiled => include_str!("../../shaders/gemm.wgsl"),
            Gemm::Register => include_str!("../../shaders/gemm_reg.wgsl"),
        }
    }
}

impl Shader {
    pub const ALL: [Shader; 9] = [
        Shader::Matmul,
        Shader::Conv2d,
        Shader::Maxpool,
        Shader::Relu,
        Shader::SoftmaxXent,
        Shader::Dropout,
        Shader::Optim,
        Shader::Data,
        Shader::Batchnorm,
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
            Shader::Batchnorm => "batchnorm.wgsl",
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
            Shader::Batchnorm => include_str!("../../shaders/batchnorm.wgsl"),
        }
    }

    /// Whether the file includes the GEMM core (and so comes in two variants).
    pub fn uses_gemm(self) -> bool {
        self.raw().contains("//#include gemm.wgsl")
    }

    /// The source as compiled: includes expanded in place.
    pub fn source(self, gemm: Gemm) -> Cow<'static, str> {
        let raw = self.raw();
        if !raw.contains("//#include ") {
            return Cow::Borrowed(raw);
        }
        let mut out = String::with_capacity(raw.len() + gemm.core().len());
        for line in raw.lines() {
            match line.strip_prefix("//#include ") {
                Some("gemm.wgsl") => out.push_str(gemm.core()),
                Some(other) => panic!("{}: unknown include {other}", self.file()),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        Cow::Owned(out)
    }
}
