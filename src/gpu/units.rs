//! How many compute units a device has, where its Vulkan driver says:
//! streaming multiprocessors through `VK_NV_shader_sm_builtins`, compute units
//! through `VK_AMD_shader_core_properties` (shader engines × arrays per engine
//! × units per array). Other drivers and backends say nothing, and the adapter
//! class's defaults stand (`gpunet info` prints which).

use ash::vk;

/// The compute units of `adapter` and the extension that told, where one did.
pub fn compute_units(adapter: &wgpu::Adapter) -> Option<(u32, &'static str)> {
    // SAFETY: the raw handles are only read, while `adapter` (and its instance) lives
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    let (instance, device) = (hal.shared_instance().raw_instance(), hal.raw_physical_device());
    // SAFETY: a valid physical device of this instance
    let extensions = unsafe { instance.enumerate_device_extension_properties(device) }.ok()?;
    let has = |name: &std::ffi::CStr| extensions.iter().any(|e| e.extension_name_as_c_str() == Ok(name));
    if has(vk::NV_SHADER_SM_BUILTINS_NAME) {
        let mut nv = vk::PhysicalDeviceShaderSMBuiltinsPropertiesNV::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut nv);
        // SAFETY: the chained struct's extension is supported
        unsafe { instance.get_physical_device_properties2(device, &mut props) };
        return (nv.shader_sm_count > 0).then_some((nv.shader_sm_count, "VK_NV_shader_sm_builtins"));
    }
    if has(vk::AMD_SHADER_CORE_PROPERTIES_NAME) {
        let mut amd = vk::PhysicalDeviceShaderCorePropertiesAMD::default();
        let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut amd);
        // SAFETY: the chained struct's extension is supported
        unsafe { instance.get_physical_device_properties2(device, &mut props) };
        let units = amd.shader_engine_count * amd.shader_arrays_per_engine_count * amd.compute_units_per_shader_array;
        return (units > 0).then_some((units, "VK_AMD_shader_core_properties"));
    }
    None
}
