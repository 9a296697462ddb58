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
    Gap,
    Normalize,
}

/// A cooperative-matrix core's shape: the side of the f16 x f16 -> f32
/// fragments the adapter offers, and its subgroup's lanes (a workgroup is one
/// subgroup).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Coop {
    pub frag: u32,
    pub lanes: u32,
}

impl Coop {
    /// The core an adapter can run, from the sides of the square f16 x f16 ->
    /// f32 subgroup fragments it offers and its smallest subgroup size: the
    /// largest fragment of 8 or 16 a side, on workgroups of that many lanes,
    /// which one subgroup always holds whole (AMD's RDNA runs 32 or 64 lanes: a
    /// 32-invocation workgroup is one subgroup either way). None where it offers
    /// no such fragment, or the lanes do not divide a tile's 4 fragments of columns.
    pub fn choose(sides: impl IntoIterator<Item = u32>, lanes: u32) -> Option<Coop> {
        let frag = sides.into_iter().filter(|s| matches!(s, 8 | 16)).max()?;
        (lanes > 0 && (4 * frag) % lanes == 0).then_some(Coop { frag, lanes })
    }
}

/// Which GEMM core `//#include gemm.wgsl` pastes: the shared-memory tiles, the
/// double-buffered register blocks of gemm_wide.wgsl in four shapes (GPUs), or
/// the barrier-free register blocks of gemm_block.wgsl (CPU adapters: the choice
/// `Register`, which resolves to the `Block` core in convs and dense products). `Auto` picks
/// a GPU core per launch from its output's shape. A choice resolves to the core a
/// launch runs with [`Gemm::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gemm {
    Tiled,
    Register,
    Wide,
    Mid,
    Narrow,
    /// gemm_wide.wgsl's 32 x 32 tile on 64 invocations: outputs of at most 32
    /// columns (conv1's weight gradient, 32 x 25; a 10-class output layer), and
    /// launches too small to fill the device on any bigger tile.
    Thin,
    /// gemm_block.wgsl: what `Register` runs (a core, not a choice).
    Block,
    /// gemm_coop.wgsl: f16 operands on the matrix units, f32 sums (`--precision
    /// mixed`, where the adapter has cooperative matrices).
    Coop(Coop),
    Auto,
}

impl Gemm {
    /// Every choice but `Auto` (what `Auto` chooses among; what the pipelines are
    /// built for, each resolved per file).
    pub const ALL: [Gemm; 6] = [Gemm::Tiled, Gemm::Register, Gemm::Wide, Gemm::Mid, Gemm::Narrow, Gemm::Thin];

    pub fn name(self) -> &'static str {
        match self {
            Gemm::Tiled => "tiled",
            Gemm::Register => "register",
            Gemm::Wide => "wide",
            Gemm::Mid => "mid",
            Gemm::Narrow => "narrow",
            Gemm::Thin => "thin",
            Gemm::Block => "block",
            Gemm::Coop(_) => "coop",
            Gemm::Auto => "auto",
        }
    }

    /// `GPUNET_GEMM`'s spelling of a core.
    pub fn parse(s: &str) -> Option<Gemm> {
        [Gemm::Auto].into_iter().chain(Gemm::ALL).find(|g| g.name() == s)
    }

    /// The core that computes an m x n output in `splits` layers in a launch of
    /// `shader`: `Auto` takes the register-blocked core whose tile wastes least
    /// of the output: the thin 32 x 32 one for at most 32 columns (conv1's weight
    /// gradient is 32 x 25: a 128-wide tile would compute 103 empty columns), else
    /// by the height (32 output channels, as conv1 and conv2 have, fill a narrow
    /// tile, not half of a 64-row one); then, given the workgroups that fill the
    /// device (`fill`), the next smaller tile while the launch would make fewer
    /// than a quarter of them: cnn6's 7x7 convs (128 x 24,500) make 192 wide
    /// tiles for an H200's 132 SMs, 384 mid ones; its dense layer's forward
    /// (500 x 256) 32 narrow ones, 128 thin ones. A fixed choice is its
    /// [`Gemm::core_for`] the file.
    pub fn resolve(self, shader: Shader, m: u32, n: u32, splits: u32, fill: Option<usize>) -> Gemm {
        let mut core = match self {
            Gemm::Auto if n <= 32 => Gemm::Thin,
            Gemm::Auto if m <= 32 => Gemm::Narrow,
            Gemm::Auto if m <= 64 => Gemm::Mid,
            Gemm::Auto => Gemm::Wide,
            choice => return choice.core_for(shader),
        };
        let starved = |core: Gemm| {
            let [x, y, z] = core.groups(m, n, splits);
            fill.is_some_and(|f| (x as usize * y as usize * z as usize) < f / 4)
        };
        while starved(core) {
            core = match core {
                Gemm::Wide => Gemm::Mid,
                Gemm::Mid => Gemm::Narrow,
                Gemm::Narrow => Gemm::Thin,
                _ => break,
            };
        }
        core
    }

    /// The core a fixed choice (one of [`Gemm::ALL`]) pastes into `shader`:
    /// `Register` is the block core (matmul.wgsl and conv2d.wgsl, the files that
    /// include a core, define the clamped reads it needs); every other choice is itself.
    pub fn core_for(self, _shader: Shader) -> Gemm {
        match self {
            Gemm::Register => Gemm::Block,
            choice => choice,
        }
    }

    /// The (rows, columns) of C one workgroup computes (TM, TN in the core);
    /// for `Auto`, its middle core's.
    pub fn tile(self) -> (u32, u32) {
        match self {
            Gemm::Tiled | Gemm::Auto => (64, 64),
            Gemm::Register | Gemm::Block => (16, 128),
            Gemm::Wide => (128, 128),
            Gemm::Mid => (64, 128),
            Gemm::Narrow => (32, 128),
            Gemm::Thin => (32, 32),
            Gemm::Coop(c) => (2 * c.frag, 4 * c.frag),
        }
    }

    /// The workgroups of a launch of this core (a resolved one) computing an
    /// m x n output with `splits` split-K layers, as the core's tile_origin reads
    /// the workgroup id.
    pub fn groups(self, m: u32, n: u32, splits: u32) -> [u32; 3] {
        let (tm, tn) = self.tile();
        let (rows, cols) = (m.div_ceil(tm).max(1), n.div_ceil(tn).max(1));
        match self {
            Gemm::Register | Gemm::Block => [rows, cols, splits],
            _ => [cols, rows, splits],
        }
    }

    fn core(self) -> Cow<'static, str> {
        let wide = include_str!("../../shaders/gemm_wide.wgsl");
        // WG_X, WG_Y, MR, NR (gemm_wide.wgsl's header)
        let shaped = |c: [u32; 4]| {
            let names = ["WG_X", "WG_Y", "MR", "NR"];
            let mut s: String = names.iter().zip(c).map(|(n, v)| format!("const {n}: u32 = {v}u;\n")).collect();
            s.push_str(wide);
            Cow::Owned(s)
        };
        match self {
            Gemm::Tiled | Gemm::Auto => Cow::Borrowed(include_str!("../../shaders/gemm.wgsl")),
            Gemm::Register | Gemm::Block => Cow::Borrowed(include_str!("../../shaders/gemm_block.wgsl")),
            Gemm::Wide => shaped([16, 16, 2, 2]),
            Gemm::Mid => shaped([32, 8, 2, 1]),
            Gemm::Narrow => shaped([32, 8, 1, 1]),
            Gemm::Thin => shaped([8, 8, 1, 1]),
            Gemm::Coop(Coop { frag, lanes }) => {
                let frag_type = |t: &str, role: &str| format!("coop_mat{frag}x{frag}<{t}, {role}>");
                Cow::Owned(format!(
                    "const F: u32 = {frag}u;\nconst SG: u32 = {lanes}u;\nalias FragA = {};\nalias FragB = {};\nalias FragC = {};\n{}",
                    frag_type("f16", "A"),
                    frag_type("f16", "B"),
                    frag_type("f32", "C"),
                    include_str!("../../shaders/gemm_coop.wgsl")
                ))
            }
        }
    }
}

impl Shader {
    pub const ALL: [Shader; 11] = [
        Shader::Matmul,
        Shader::Conv2d,
        Shader::Maxpool,
        Shader::Relu,
        Shader::SoftmaxXent,
        Shader::Dropout,
        Shader::Optim,
        Shader::Data,
        Shader::Batchnorm,
        Shader::Gap,
        Shader::Normalize,
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
            Shader::Gap => "gap.wgsl",
            Shader::Normalize => "normalize.wgsl",
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
            Shader::Gap => include_str!("../../shaders/gap.wgsl"),
            Shader::Normalize => include_str!("../../shaders/normalize.wgsl"),
        }
    }

    /// Whether the file includes the GEMM core (and so comes in one variant per core).
    pub fn uses_gemm(self) -> bool {
        self.raw().contains("//#include gemm.wgsl")
    }

    /// Whether the file includes the workgroup sums (and so comes with subgroups too).
    pub fn uses_reduce(self) -> bool {
        self.raw().contains("//#include reduce.wgsl")
    }

    /// The module variants the engine builds of this file: one per GEMM core it
    /// includes (each choice resolved for this file, and the cooperative-matrix
    /// core where the adapter has one; `Tiled` stands for "none"), each with tree
    /// sums and, where the file sums over workgroups and the adapter has
    /// subgroups, subgroup sums.
    pub fn variants(self, subgroups: bool, coop: Option<Coop>) -> Vec<(Gemm, bool)> {
        let cores = match self.uses_gemm() {
            true => Gemm::ALL.iter().map(|g| g.core_for(self)).chain(coop.map(Gemm::Coop)).collect(),
            false => vec![Gemm::Tiled],
        };
        let sums = if self.uses_reduce() && subgroups { vec![false, true] } else { vec![false] };
        cores.into_iter().flat_map(|g| sums.iter().map(move |&sg| (g, sg))).collect()
    }

    /// The source as compiled: includes expanded in place (the GEMM core `gemm`;
    /// the workgroup sums on subgroups or a shared-memory tree).
    pub fn source(self, gemm: Gemm, subgroups: bool) -> Cow<'static, str> {
        let raw = self.raw();
        if !raw.contains("//#include ") {
            return Cow::Borrowed(raw);
        }
        let reduce = match subgroups {
            true => include_str!("../../shaders/reduce_subgroup.wgsl"),
            false => include_str!("../../shaders/reduce_tree.wgsl"),
        };
        let core = gemm.core();
        let mut out = String::with_capacity(raw.len() + core.len() + reduce.len());
        if let Gemm::Coop(_) = gemm {
            // directives come before any declaration
            out.push_str("enable f16;\nenable wgpu_cooperative_matrix;\n");
        }
        for line in raw.lines() {
            match line.strip_prefix("//#include ") {
                Some("gemm.wgsl") => out.push_str(&core),
                Some("reduce.wgsl") => out.push_str(reduce),
                Some(other) => panic!("{}: unknown include {other}", self.file()),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        Cow::Owned(out)
    }
}
