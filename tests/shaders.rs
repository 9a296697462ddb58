//! Every shader parses, validates and translates to SPIR-V, MSL and HLSL with naga,
//! so a shader that would break on Vulkan, Metal or DX12 fails here without a GPU.

use gpunet::kernels::shaders::{Coop, Gemm, Shader};
use naga::back::{hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

#[test]
fn every_shader_validates_and_translates() {
    let variants = Shader::ALL.iter().flat_map(|&s| s.variants(true, None).into_iter().map(move |(g, sg)| (s, g, sg)));
    for (shader, gemm, subgroups) in variants {
        let name =
            &format!("{} ({} gemm{})", shader.file(), gemm.name(), if subgroups { ", subgroup sums" } else { "" });
        // subgroup operations need their capability, HLSL's shader model 6 and MSL 2.1
        let caps = if subgroups { Capabilities::SUBGROUP } else { Capabilities::empty() };
        let (module, info) = validated(name, &shader.source(gemm, subgroups), caps);
        assert!(!module.entry_points.is_empty(), "{name} has no entry point");
        check_workgroup_size(name, &module, &info);
        translated(name, &module, &info, if subgroups { (2, 1) } else { (1, 0) });
        for ep in &module.entry_points {
            let hlsl_pipe = hlsl::PipelineOptions { entry_point: Some((ep.stage, ep.name.clone())) };
            let mut out = String::new();
            let sm = if subgroups { hlsl::ShaderModel::V6_0 } else { hlsl::Options::default().shader_model };
            let hlsl_opts = hlsl::Options { shader_model: sm, ..Default::default() };
            hlsl::Writer::new(&mut out, &hlsl_opts, &hlsl_pipe)
                .write(&module, &info, None)
                .unwrap_or_else(|e| panic!("{name}::{}: HLSL: {e:?}", ep.name));
        }
    }
}

/// The cooperative-matrix core in the shapes adapters offer (lavapipe's 8x8 on
/// subgroups of 8, Apple's 8x8 on 32, NVIDIA's and RDNA3's 16x16 on 32) parses,
/// validates, keeps within the 32 KiB of workgroup memory those adapters grant
/// (browsers have no cooperative matrices), and translates to SPIR-V and MSL.
#[test]
fn cooperative_matrix_cores_validate_and_translate() {
    let caps = Capabilities::COOPERATIVE_MATRIX | Capabilities::SHADER_FLOAT16 | Capabilities::SUBGROUP;
    for (frag, lanes) in [(8, 8), (8, 32), (16, 32)] {
        let core = Gemm::Coop(Coop { frag, lanes });
        for shader in Shader::ALL.into_iter().filter(|s| s.uses_gemm()) {
            assert!(shader.variants(false, Some(Coop { frag, lanes })).contains(&(core, false)));
            let name = &format!("{} (coop {frag}x{frag} on {lanes} lanes)", shader.file());
            let (module, info) = validated(name, &shader.source(core, true), caps);
            assert!(workgroup_bytes(&module, &info).into_iter().all(|b| b <= 32768), "{name}: over 32 KiB");
            translated(name, &module, &info, (2, 3));
        }
    }
}

/// `source` parsed and validated with `caps`, and held to the uniform layout
/// and the workgroup-store rules.
fn validated(name: &str, source: &str, caps: Capabilities) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: parse error:\n{}", e.emit_to_string(source)));
    let info = Validator::new(ValidationFlags::all(), caps)
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: validation error: {e:?}"));
    check_uniform_layouts(name, &module);
    check_workgroup_stores(name, &module, &info);
    (module, info)
}

/// Every entry point written as SPIR-V and as MSL of `msl_version`. Entry points
/// of one file may share binding slots (each declares its own interface), so
/// every backend writes one entry point at a time, as wgpu does when it builds a
/// pipeline.
fn translated(name: &str, module: &naga::Module, info: &naga::valid::ModuleInfo, msl_version: (u8, u8)) {
    for ep in &module.entry_points {
        let spv_pipe = spv::PipelineOptions { shader_stage: ep.stage, entry_point: ep.name.clone() };
        spv::write_vec(module, info, &spv::Options::default(), Some(&spv_pipe))
            .unwrap_or_else(|e| panic!("{name}::{}: SPIR-V: {e:?}", ep.name));
        let msl_pipe = msl::PipelineOptions { entry_point: Some((ep.stage, ep.name.clone())), ..Default::default() };
        let msl_opts = msl::Options { lang_version: msl_version, ..Default::default() };
        msl::write_string(module, info, &msl_opts, &msl_pipe)
            .unwrap_or_else(|e| panic!("{name}::{}: MSL: {e:?}", ep.name));
    }
}

/// WebGPU grants 16 KiB of workgroup memory unless a page asks for more (the
/// training and selftest pages do not): every entry point keeps within it.
fn check_workgroup_size(name: &str, module: &naga::Module, info: &naga::valid::ModuleInfo) {
    for (ep, bytes) in module.entry_points.iter().zip(workgroup_bytes(module, info)) {
        assert!(bytes <= 16384, "{name}::{}: {bytes} bytes of workgroup memory (WebGPU grants 16384)", ep.name);
    }
}

/// The workgroup memory each entry point uses, in bytes.
fn workgroup_bytes(module: &naga::Module, info: &naga::valid::ModuleInfo) -> Vec<u32> {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    (0..module.entry_points.len())
        .map(|i| {
            let uses = info.get_entry_point(i);
            module
                .global_variables
                .iter()
                .filter(|(h, v)| v.space == naga::AddressSpace::WorkGroup && !uses[*h].is_empty())
                .map(|(_, v)| layouter[v.ty].size)
                .sum()
        })
        .collect()
}

/// The host writes every kernel's parameters as one 64-byte block: eight u32
/// words, then eight f32 (or more u32) words (`gpunet::kernels::Params`). Each
/// uniform struct must keep to that layout, or the shader would read its fields
/// from the wrong bytes.
fn check_uniform_layouts(name: &str, module: &naga::Module) {
    for (_, var) in module.global_variables.iter() {
        if var.space != naga::AddressSpace::Uniform {
            continue;
        }
        let ty = &module.types[var.ty];
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{name}: uniform {:?} is not a struct", var.name);
        };
        assert_eq!(*span, 64, "{name}: uniform struct {:?} is {span} bytes, not 64", ty.name);
        for m in members {
            let scalar = match &module.types[m.ty].inner {
                naga::TypeInner::Scalar(s) => s.kind,
                naga::TypeInner::Vector { scalar, .. } => scalar.kind,
                other => panic!("{name}: {:?}.{:?} has type {other:?}", ty.name, m.name),
            };
            // the second half holds floats, or (conv's stride, padding and output size)
            // more u32 words where the dims struct declares them too
            let ok = scalar == naga::ScalarKind::Uint || (m.offset >= 32 && scalar == naga::ScalarKind::Float);
            assert!(ok, "{name}: {:?}.{:?} at byte {} is {scalar:?}", ty.name, m.name, m.offset);
        }
    }
}

/// WGSL's memory model lets a write to one component of a vector (or a matrix, or
/// a struct member) access the whole of it, so two invocations writing different
/// parts of one workgroup vector race, whatever one driver happens to do. Every
/// store into workgroup memory must write a whole scalar, vector or struct element.
fn check_workgroup_stores(name: &str, module: &naga::Module, info: &naga::valid::ModuleInfo) {
    let functions = module.functions.iter().map(|(h, f)| (f, &info[h]));
    let entries = module.entry_points.iter().enumerate().map(|(i, e)| (&e.function, info.get_entry_point(i)));
    for (f, fi) in functions.chain(entries) {
        let mut stores = Vec::new();
        collect_stores(&f.body, &mut stores);
        for pointer in stores {
            // walk the access chain down to its variable, noting any step into a part
            let (mut e, mut partial) = (pointer, None);
            loop {
                match f.expressions[e] {
                    naga::Expression::Access { base, .. } | naga::Expression::AccessIndex { base, .. } => {
                        let whole = match fi[base].ty.inner_with(&module.types) {
                            naga::TypeInner::Pointer { base: t, .. } => &module.types[*t].inner,
                            other => other,
                        };
                        let part_of = match whole {
                            naga::TypeInner::Vector { .. } | naga::TypeInner::ValuePointer { size: Some(_), .. } => {
                                Some("a vector")
                            }
                            naga::TypeInner::Matrix { .. } => Some("a matrix"),
                            naga::TypeInner::Struct { .. } => Some("a struct"),
                            _ => None,
                        };
                        partial = partial.or(part_of);
                        e = base;
                    }
                    naga::Expression::GlobalVariable(g) => {
                        let var = &module.global_variables[g];
                        if let (naga::AddressSpace::WorkGroup, Some(what)) = (var.space, partial) {
                            panic!(
                                "{name}: {:?} stores into part of {what} in workgroup `{}`: invocations writing parts of one value race",
                                f.name.as_deref().unwrap_or("?"),
                                var.name.as_deref().unwrap_or("?")
                            );
                        }
                        break;
                    }
                    _ => break,
                }
            }
        }
    }
}

/// The pointers of every store in a block, nested blocks included.
fn collect_stores(block: &naga::Block, out: &mut Vec<naga::Handle<naga::Expression>>) {
    for st in block.iter() {
        match st {
            naga::Statement::Store { pointer, .. } => out.push(*pointer),
            naga::Statement::Block(b) => collect_stores(b, out),
            naga::Statement::If { accept, reject, .. } => {
                collect_stores(accept, out);
                collect_stores(reject, out);
            }
            naga::Statement::Switch { cases, .. } => cases.iter().for_each(|c| collect_stores(&c.body, out)),
            naga::Statement::Loop { body, continuing, .. } => {
                collect_stores(body, out);
                collect_stores(continuing, out);
            }
            _ => {}
        }
    }
}

/// Every variant compiled by AMD's production compiler (ACO, through Mesa's RADV
/// null devices for RDNA2, RDNA3 and GCN5: scripts/shader-stats.sh) spills no
/// register and uses no scratch memory: a spill would turn the GEMM cores'
/// register blocks into memory traffic on real GPUs. The CPU adapters' block
/// core is exempt (it compiles, and is sized for a CPU's stack). Skipped without RADV,
/// unless GPUNET_REQUIRE_GPU=1.
#[test]
fn amd_compiler_spills_nothing_in_any_variant() {
    let have = std::fs::read_dir("/usr/share/vulkan/icd.d")
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("radeon_icd")))
        .unwrap_or(false);
    if !have {
        assert!(!std::env::var("GPUNET_REQUIRE_GPU").is_ok_and(|v| v == "1"), "GPUNET_REQUIRE_GPU=1 but no RADV");
        return eprintln!("skipping: no RADV manifest (mesa-vulkan-drivers)");
    }
    let o = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/shader-stats.sh"))
        .env("GPUNET", env!("CARGO_BIN_EXE_gpunet"))
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "shader-stats.sh failed:\n{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // every entry point of every variant the engine builds, for each of the three chips
    let variants: usize = Shader::ALL
        .iter()
        .map(|s| {
            s.variants(true, None).len()
                * naga::front::wgsl::parse_str(&s.source(Gemm::Tiled, false)).unwrap().entry_points.len()
        })
        .sum();
    assert_eq!(rows.len(), 3 * variants, "{err}");
    let mut targets: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    targets.dedup();
    assert_eq!(targets.len(), 3, "{targets:?}");
    for r in &rows {
        let name =
            format!("{} {} [{} gemm, {} sums] on {}", r["shader"], r["entry"], r["core"], r["sums"], r["target"]);
        // the block core is the CPU adapters' own (a GPU runs it only when a test
        // asks for the cpu class): its 16x16 block per lane is meant to spill there
        for field in ["spilled_vgprs", "spilled_sgprs", "scratch_bytes"].iter().filter(|_| r["core"] != "block") {
            assert_eq!(r[field].as_u64(), Some(0), "{name}: {field} = {}", r[field]);
        }
        assert!(
            r["vgprs"].as_u64().is_some_and(|v| v > 0) && r["waves_per_simd"].as_u64().is_some_and(|w| w > 0),
            "{name}: {r}"
        );
    }
    for r in rows
        .iter()
        .filter(|r| r["sums"] == "tree" && ["wide", "mid", "narrow", "thin"].contains(&r["core"].as_str().unwrap()))
    {
        if r["shader"] == "conv2d.wgsl" || r["entry"] == "matmul" {
            println!(
                "{:<24} {:<8} {:<28} vgprs {:>3} waves/SIMD {:>2} instructions {:>5}",
                r["entry"].as_str().unwrap(),
                r["core"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
                r["vgprs"],
                r["waves_per_simd"],
                r["instructions"]
            );
        }
    }
}

/// RDNA3's compiler runs the cooperative-matrix core on its matrix instructions:
/// RADV 25's ACO on a null navi31 (scripts/mesa26.sh setup unpacks it; Debian
/// 12's RADV 22 has no cooperative matrices) compiles every coop variant without
/// a spill, and the disassembly of the core is WMMA's f16 x f16 -> f32.
#[test]
fn rdna3_runs_the_coop_core_on_wmma() {
    let tree = std::env::var("MESA26").unwrap_or_else(|_| "/opt/trixie".into());
    if !std::path::Path::new(&tree).join("radv25/radeon_icd.absolute.json").exists() {
        assert!(
            !std::env::var("GPUNET_REQUIRE_GPU").is_ok_and(|v| v == "1"),
            "GPUNET_REQUIRE_GPU=1 but no RADV 25 in {tree} (scripts/mesa26.sh setup)"
        );
        return eprintln!("skipping: no RADV 25 in {tree} (scripts/mesa26.sh setup)");
    }
    let ir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new("bash")
        .args([concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mesa26.sh"), "stats", "navi31"])
        .env("GPUNET", env!("CARGO_BIN_EXE_gpunet"))
        .env("IR", ir.path())
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "mesa26.sh stats failed:\n{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let coop: Vec<&serde_json::Value> = rows.iter().filter(|r| r["core"] == "coop").collect();
    // matmul.wgsl's two GEMM entries and conv2d.wgsl's three, with either kind of sums
    assert!(coop.len() >= 10, "{} coop rows:\n{out}\n{err}", coop.len());
    for r in &coop {
        for field in ["spilled_vgprs", "spilled_sgprs", "scratch_bytes"] {
            assert_eq!(r[field].as_u64(), Some(0), "{} {} coop: {field} = {}", r["shader"], r["entry"], r[field]);
        }
    }
    let text = std::fs::read_to_string(ir.path().join("navi31/matmul-matmul-coop-tree.txt")).unwrap();
    assert!(text.contains("v_wmma_f32_16x16x16_f16"), "no WMMA in the coop core's disassembly");
}
