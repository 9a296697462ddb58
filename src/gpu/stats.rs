//! A GPU compiler's verdict without a GPU: every shader variant the engine
//! builds (file × GEMM core × kind of sums, each entry point), compiled by a
//! Vulkan driver that reports pipeline statistics (VK_KHR_pipeline_executable_
//! properties), with its registers, spills, scratch, shared memory and occupancy.
//! Mesa's RADV does this with no AMD GPU present when RADV_FORCE_FAMILY names a
//! chip (scripts/shader-stats.sh): a null device whose pipelines compile with
//! AMD's production compiler (ACO) and run nothing. wgpu cannot open such a
//! device, so this is a small harness of its own: naga's SPIR-V, as wgpu would
//! write it for the trusted modules, straight to the driver through `ash`.

use crate::error::{Error, Result};
use crate::kernels::shaders::{Coop, Shader};
use ash::vk;
use naga::back::spv;
use naga::valid::{Capabilities, ShaderStages, SubgroupOperationSet, ValidationFlags, Validator};
use serde_json::{json, Value};

/// One entry point of one variant, as the driver compiled it.
pub struct Stat {
    pub shader: &'static str,
    pub entry: String,
    /// The GEMM core pasted in ("-" for files without one).
    pub core: &'static str,
    pub subgroup_sums: bool,
    /// The device the driver made (e.g. "AMD Radeon RX 6800 (RADV NAVI21)").
    pub target: String,
    pub workgroup: [u32; 3],
    /// Every statistic the driver reports, by its own name ("VGPRs", "Spilled VGPRs", ...).
    pub values: Vec<(String, Value)>,
    /// The driver's internal representations (for RADV: NIR and the ACO disassembly), where asked for.
    pub ir: Option<String>,
}

impl Stat {
    fn get(&self, name: &str) -> Value {
        self.values.iter().find(|(n, _)| n == name).map_or(Value::Null, |(_, v)| v.clone())
    }

    /// A file name for this variant's internal representation.
    pub fn ir_file(&self) -> String {
        let sums = if self.subgroup_sums { "subgroup" } else { "tree" };
        format!(
            "{}-{}-{}-{sums}.txt",
            self.shader.trim_end_matches(".wgsl"),
            self.entry,
            self.core.replace('-', "none")
        )
    }

    /// The JSON line `gpunet shader-stats` prints: the fields every target names
    /// alike first (RADV's names mapped to them), then all of the driver's own.
    pub fn json(&self) -> Value {
        let n = |name: &str| self.get(name);
        let all: serde_json::Map<String, Value> = self.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        json!({
            "shader": self.shader,
            "entry": self.entry,
            "core": self.core,
            "sums": if self.subgroup_sums { "subgroup" } else { "tree" },
            "target": self.target,
            "workgroup": self.workgroup,
            "vgprs": n("VGPRs"),
            "sgprs": n("SGPRs"),
            "spilled_vgprs": n("Spilled VGPRs"),
            "spilled_sgprs": n("Spilled SGPRs"),
            "scratch_bytes": n("Scratch size"),
            "lds_bytes": n("LDS size"),
            "waves_per_simd": n("Subgroups per SIMD"),
            "instructions": n("Instructions"),
            "driver": all,
        })
    }
}

fn vkerr(what: &'static str) -> impl Fn(vk::Result) -> Error {
    move |e| Error::Gpu(format!("shader-stats: {what}: {e}"))
}

/// Compiles every variant on the first device that reports pipeline statistics
/// (and keeps the driver's internal representations with `ir`).
pub fn collect(ir: bool) -> Result<Vec<Stat>> {
    // SAFETY: loading the system's Vulkan loader, as wgpu does.
    let entry = unsafe { ash::Entry::load() }
        .map_err(|e| Error::Gpu(format!("shader-stats: no Vulkan loader ({e}); install libvulkan1")))?;
    let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
    // SAFETY: plain Vulkan calls with valid create infos; every object made here is
    // destroyed below, children before parents.
    unsafe {
        let instance = entry
            .create_instance(&vk::InstanceCreateInfo::default().application_info(&app), None)
            .map_err(vkerr("vkCreateInstance"))?;
        let out = with_instance(&entry, &instance, ir);
        instance.destroy_instance(None);
        out
    }
}

unsafe fn with_instance(entry: &ash::Entry, instance: &ash::Instance, ir: bool) -> Result<Vec<Stat>> {
    let ext = ash::khr::pipeline_executable_properties::NAME;
    let mut found = None;
    for pd in instance.enumerate_physical_devices().map_err(vkerr("vkEnumeratePhysicalDevices"))? {
        let exts = instance.enumerate_device_extension_properties(pd).map_err(vkerr("device extensions"))?;
        if exts.iter().any(|e| e.extension_name_as_c_str() == Ok(ext)) {
            found = Some((pd, exts));
            break;
        }
    }
    let (pd, exts) = found.ok_or_else(|| {
        Error::Gpu(
            "shader-stats: no Vulkan device reports pipeline statistics (VK_KHR_pipeline_executable_properties); \
             scripts/shader-stats.sh makes one with Mesa's RADV (RADV_FORCE_FAMILY)"
                .into(),
        )
    })?;
    let props = instance.get_physical_device_properties(pd);
    let target = props.device_name_as_c_str().map(|c| c.to_string_lossy().to_string()).unwrap_or_default();
    let family = instance
        .get_physical_device_queue_family_properties(pd)
        .iter()
        .position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .ok_or_else(|| Error::Gpu(format!("shader-stats: {target} has no compute queue")))?;
    let priorities = [1.0];
    let queues = [vk::DeviceQueueCreateInfo::default().queue_family_index(family as u32).queue_priorities(&priorities)];
    let has = |name: &std::ffi::CStr| exts.iter().any(|e| e.extension_name_as_c_str() == Ok(name));
    let coop = if has(ash::khr::cooperative_matrix::NAME) { coop_shape(entry, instance, pd)? } else { None };
    let mut names = vec![ext.as_ptr()];
    let mut info = vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default().pipeline_executable_info(true);
    // the cooperative-matrix core's SPIR-V: f16, the Vulkan memory model, the matrices
    let mut coop_features = vk::PhysicalDeviceCooperativeMatrixFeaturesKHR::default().cooperative_matrix(true);
    let mut v12 = vk::PhysicalDeviceVulkan12Features::default().shader_float16(true).vulkan_memory_model(true);
    let mut create = vk::DeviceCreateInfo::default().queue_create_infos(&queues).push_next(&mut info);
    if coop.is_some() {
        names.push(ash::khr::cooperative_matrix::NAME.as_ptr());
        create = create.push_next(&mut coop_features).push_next(&mut v12);
    }
    let create = create.enabled_extension_names(&names);
    let device = instance.create_device(pd, &create, None).map_err(vkerr("vkCreateDevice"))?;
    let spirv = match vk::api_version_minor(props.api_version) {
        0 => (1, 0),
        1 => (1, 3),
        2 => (1, 5),
        _ => (1, 6),
    };
    let out = with_device(instance, &device, &target, spirv, coop, ir);
    device.destroy_device(None);
    out
}

/// The cooperative-matrix core the device would run, as `gpu::coop_shape` finds
/// it through wgpu ([`Coop::choose`] of its square f16 x f16 -> f32 subgroup
/// fragments and smallest subgroup size).
unsafe fn coop_shape(entry: &ash::Entry, instance: &ash::Instance, pd: vk::PhysicalDevice) -> Result<Option<Coop>> {
    let coop = ash::khr::cooperative_matrix::Instance::new(entry, instance);
    let offered = coop.get_physical_device_cooperative_matrix_properties(pd).map_err(vkerr("cooperative matrices"))?;
    let sides = offered
        .iter()
        .filter(|p| p.m_size == p.n_size && p.n_size == p.k_size)
        .filter(|p| p.a_type == vk::ComponentTypeKHR::FLOAT16 && p.b_type == vk::ComponentTypeKHR::FLOAT16)
        .filter(|p| p.c_type == vk::ComponentTypeKHR::FLOAT32 && p.result_type == vk::ComponentTypeKHR::FLOAT32)
        .filter(|p| p.scope == vk::ScopeKHR::SUBGROUP)
        .map(|p| p.m_size);
    let mut sizes = vk::PhysicalDeviceSubgroupSizeControlProperties::default();
    let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut sizes);
    instance.get_physical_device_properties2(pd, &mut props);
    Ok(Coop::choose(sides, sizes.min_subgroup_size))
}

unsafe fn with_device(
    instance: &ash::Instance,
    device: &ash::Device,
    target: &str,
    spirv: (u8, u8),
    coop: Option<Coop>,
    ir: bool,
) -> Result<Vec<Stat>> {
    let pep = ash::khr::pipeline_executable_properties::Device::new(instance, device);
    // one layout fits every kernel: the parameter block at 0, storage buffers at 1..=6
    let bindings: Vec<vk::DescriptorSetLayoutBinding> = (0..7)
        .map(|b| {
            let ty = if b == 0 { vk::DescriptorType::UNIFORM_BUFFER } else { vk::DescriptorType::STORAGE_BUFFER };
            vk::DescriptorSetLayoutBinding::default()
                .binding(b)
                .descriptor_type(ty)
                .descriptor_count(1)
                .stage_flags(vk::ShaderStageFlags::COMPUTE)
        })
        .collect();
    let set = device
        .create_descriptor_set_layout(&vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings), None)
        .map_err(vkerr("descriptor set layout"))?;
    let sets = [set];
    let layout = device
        .create_pipeline_layout(&vk::PipelineLayoutCreateInfo::default().set_layouts(&sets), None)
        .map_err(vkerr("pipeline layout"));
    let out = match layout {
        Ok(layout) => {
            let r = every_variant(device, &pep, layout, target, spirv, coop, ir);
            device.destroy_pipeline_layout(layout, None);
            r
        }
        Err(e) => Err(e),
    };
    device.destroy_descriptor_set_layout(set, None);
    out
}

unsafe fn every_variant(
    device: &ash::Device,
    pep: &ash::khr::pipeline_executable_properties::Device,
    layout: vk::PipelineLayout,
    target: &str,
    spirv: (u8, u8),
    coop: Option<Coop>,
    ir: bool,
) -> Result<Vec<Stat>> {
    let mut out = Vec::new();
    for shader in Shader::ALL {
        for (core, sums) in shader.variants(true, coop) {
            let text = shader.source(core, sums);
            let module = naga::front::wgsl::parse_str(&text)
                .map_err(|e| Error::Gpu(format!("{}: {}", shader.file(), e.emit_to_string(&text))))?;
            let info = Validator::new(ValidationFlags::all(), Capabilities::all())
                .subgroup_stages(ShaderStages::COMPUTE)
                .subgroup_operations(SubgroupOperationSet::all())
                .validate(&module)
                .map_err(|e| Error::Gpu(format!("{}: {e:?}", shader.file())))?;
            // as wgpu writes a trusted module: no index clamps, no loop counters
            let options = spv::Options {
                lang_version: spirv,
                flags: spv::WriterFlags::empty(),
                bounds_check_policies: naga::proc::BoundsCheckPolicies::default(),
                zero_initialize_workgroup_memory: spv::ZeroInitializeWorkgroupMemoryMode::None,
                force_loop_bounding: false,
                // bindings as the WGSL numbers them: group 0, binding n
                fake_missing_bindings: true,
                ..Default::default()
            };
            for ep in &module.entry_points {
                let pipe =
                    spv::PipelineOptions { shader_stage: naga::ShaderStage::Compute, entry_point: ep.name.clone() };
                let words = spv::write_vec(&module, &info, &options, Some(&pipe))
                    .map_err(|e| Error::Gpu(format!("{} {}: SPIR-V: {e}", shader.file(), ep.name)))?;
                let (values, text) = compile(device, pep, layout, &words, &ep.name, ir)
                    .map_err(|e| Error::Gpu(format!("{} {} ({}): {e}", shader.file(), ep.name, core.name())))?;
                out.push(Stat {
                    shader: shader.file(),
                    entry: ep.name.clone(),
                    core: if shader.uses_gemm() { core.name() } else { "-" },
                    subgroup_sums: sums,
                    target: target.to_string(),
                    workgroup: ep.workgroup_size,
                    values,
                    ir: text,
                });
            }
        }
    }
    Ok(out)
}

/// A driver's statistics by name, and its internal representations as text.
type Compiled = (Vec<(String, Value)>, Option<String>);

/// One compute pipeline with its statistics captured: the first executable's
/// statistics (and internal representations, with `ir`).
unsafe fn compile(
    device: &ash::Device,
    pep: &ash::khr::pipeline_executable_properties::Device,
    layout: vk::PipelineLayout,
    words: &[u32],
    entry: &str,
    ir: bool,
) -> std::result::Result<Compiled, String> {
    let module = device
        .create_shader_module(&vk::ShaderModuleCreateInfo::default().code(words), None)
        .map_err(|e| format!("vkCreateShaderModule: {e}"))?;
    let name = std::ffi::CString::new(entry).map_err(|e| e.to_string())?;
    let stage =
        vk::PipelineShaderStageCreateInfo::default().stage(vk::ShaderStageFlags::COMPUTE).module(module).name(&name);
    let create = [vk::ComputePipelineCreateInfo::default()
        .flags(if ir {
            vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR
                | vk::PipelineCreateFlags::CAPTURE_INTERNAL_REPRESENTATIONS_KHR
        } else {
            vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR
        })
        .stage(stage)
        .layout(layout)];
    let made = device.create_compute_pipelines(vk::PipelineCache::null(), &create, None);
    device.destroy_shader_module(module, None);
    let pipeline = made.map_err(|(_, e)| format!("vkCreateComputePipelines: {e}"))?[0];
    let stats = (|| {
        let execs = pep
            .get_pipeline_executable_properties(&vk::PipelineInfoKHR::default().pipeline(pipeline))
            .map_err(|e| format!("executables: {e}"))?;
        if execs.is_empty() {
            return Err("the driver reported no executable".to_string());
        }
        let exec = vk::PipelineExecutableInfoKHR::default().pipeline(pipeline).executable_index(0);
        let stats = pep.get_pipeline_executable_statistics(&exec).map_err(|e| format!("statistics: {e}"))?;
        let values = stats
            .iter()
            .map(|s| {
                let name = s.name_as_c_str().map(|c| c.to_string_lossy().to_string()).unwrap_or_default();
                let v = match s.format {
                    vk::PipelineExecutableStatisticFormatKHR::BOOL32 => json!(s.value.b32 != 0),
                    vk::PipelineExecutableStatisticFormatKHR::INT64 => json!(s.value.i64),
                    vk::PipelineExecutableStatisticFormatKHR::UINT64 => json!(s.value.u64),
                    _ => json!(s.value.f64),
                };
                (name, v)
            })
            .collect();
        let text = if ir { Some(representations(pep, &exec)?) } else { None };
        Ok((values, text))
    })();
    device.destroy_pipeline(pipeline, None);
    stats
}

/// Every text representation the driver keeps of an executable, one after another
/// under its name (RADV: NIR, ACO IR, the disassembly).
unsafe fn representations(
    pep: &ash::khr::pipeline_executable_properties::Device,
    exec: &vk::PipelineExecutableInfoKHR,
) -> std::result::Result<String, String> {
    let f = pep.fp().get_pipeline_executable_internal_representations_khr;
    let mut count = 0u32;
    f(pep.device(), exec, &mut count, std::ptr::null_mut()).result().map_err(|e| format!("representations: {e}"))?;
    let mut reps = vec![vk::PipelineExecutableInternalRepresentationKHR::default(); count as usize];
    // the first call with the structs reports each one's size; the second fills them
    f(pep.device(), exec, &mut count, reps.as_mut_ptr()).result().map_err(|e| format!("representations: {e}"))?;
    let mut bufs: Vec<Vec<u8>> = reps.iter().map(|r| vec![0u8; r.data_size]).collect();
    for (r, b) in reps.iter_mut().zip(&mut bufs) {
        r.p_data = b.as_mut_ptr().cast();
    }
    f(pep.device(), exec, &mut count, reps.as_mut_ptr()).result().map_err(|e| format!("representations: {e}"))?;
    let mut out = String::new();
    for (r, b) in reps.iter().zip(&bufs) {
        if r.is_text != 0 {
            let name = r.name_as_c_str().map(|c| c.to_string_lossy().to_string()).unwrap_or_default();
            let text = String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[]));
            out += &format!("==== {name}\n{text}\n");
        }
    }
    Ok(out)
}
