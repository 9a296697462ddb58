//! `GPUNET_VALIDATION=1`: every instance asks for the Khronos validation layer
//! (wgpu turns on its synchronization validation with it, where the layer offers
//! VK_EXT_validation_features), and every warning or error the layer (or the
//! loader) sends is a device fault: `Gpu::check` fails with the first one. A
//! missing layer is a fault too, so a run cannot pass unvalidated by accident.
//! wgpu hands the layer's messages to the `log` crate; this is the logger.

use std::sync::{Mutex, OnceLock};

const MISSING: &str =
    "GPUNET_VALIDATION=1, but no Khronos validation layer loaded (Debian: apt-get install vulkan-validationlayers)";

/// The instance flags for wgpu: validation (and its debug messages) when
/// `requested` (`AdapterChoice::validation`).
pub fn instance_flags(requested: bool) -> wgpu::InstanceFlags {
    if requested {
        install();
        wgpu::InstanceFlags::VALIDATION | wgpu::InstanceFlags::DEBUG
    } else {
        wgpu::InstanceFlags::empty()
    }
}

/// The first fault the layer reported, if any.
pub fn first_fault() -> Option<String> {
    LOGGER.faults.lock().unwrap().first().cloned()
}

/// What the layer said of itself when an instance was made ("Current Enables:",
/// e.g. VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION); None if no
/// layer announced itself.
pub fn layer_status() -> Option<String> {
    LOGGER.status.lock().unwrap().clone()
}

/// One line for a report: which checks the layer runs; an error where
/// validation was asked for and no layer announced itself.
pub fn describe(requested: bool) -> crate::Result<Option<String>> {
    if !requested {
        return Ok(None);
    }
    match layer_status() {
        Some(enables) if enables.contains("SYNCHRONIZATION_VALIDATION") => {
            Ok(Some("Khronos validation layer active, with synchronization validation".into()))
        }
        Some(enables) => Ok(Some(format!("Khronos validation layer active ({enables})"))),
        None => Err(crate::Error::Gpu(MISSING.into())),
    }
}

struct Catch {
    faults: Mutex<Vec<String>>,
    status: Mutex<Option<String>>,
}

static LOGGER: Catch = Catch { faults: Mutex::new(Vec::new()), status: Mutex::new(None) };

impl log::Log for Catch {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("wgpu_hal")
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let text = r.args().to_string();
        // the layer's status message at instance creation (info, so debug level here)
        // says it is active, and which optional checks it runs
        if let Some(at) = text.find("Khronos Validation Layer Active") {
            let enables = text[at..].lines().find_map(|l| l.trim().strip_prefix("Current Enables:"));
            *self.status.lock().unwrap() = Some(enables.unwrap_or("").trim().trim_end_matches('.').to_string());
        }
        let fault = if text.contains("unable to find layer") {
            Some(MISSING.to_string())
        } else {
            (r.level() <= log::Level::Warn).then(|| format!("validation: {}", text.trim()))
        };
        if let Some(fault) = fault {
            let mut f = self.faults.lock().unwrap();
            if f.len() < 100 {
                f.push(fault);
            }
        }
    }
    fn flush(&self) {}
}

/// Installs the logger once; the level lets the layer's info messages through
/// (wgpu asks the layer for the severities the log level admits).
fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::LOGGER;
    use log::{Level, Log, Record};

    fn send(level: Level, target: &str, text: &str) {
        LOGGER.log(&Record::builder().level(level).target(target).args(format_args!("{text}")).build());
    }

    /// What the layer says reaches `Gpu::check` as a fault (warnings and errors,
    /// and a missing layer); its status message is read for what it enables; the
    /// rest of the world's log records are not ours.
    #[test]
    fn layer_messages_become_faults_and_its_status_is_read() {
        send(
            Level::Debug,
            "wgpu_hal::vulkan::instance",
            "GENERAL [Loader Message (0x0)]\n\tSearching for layer manifest files",
        );
        send(Level::Warn, "naga::front", "not the layer's");
        assert_eq!(super::first_fault(), None);
        assert_eq!(super::layer_status(), None);
        let status = "VALIDATION [UNASSIGNED-khronos-validation-createinstance-status-message (0xd7fa5f44)]\n\tValidation Information: [...] | Khronos Validation Layer Active:\n    Settings File: None.\n    Current Enables: VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION.\n    Current Disables: None.";
        send(Level::Debug, "wgpu_hal::vulkan::instance", status);
        assert_eq!(super::layer_status().as_deref(), Some("VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION"));
        send(Level::Error, "wgpu_hal::vulkan::instance", "VALIDATION [SYNC-HAZARD-READ-AFTER-WRITE (0x1)]");
        send(Level::Error, "wgpu_hal::vulkan::instance", "a second one");
        assert_eq!(
            super::first_fault().as_deref(),
            Some("validation: VALIDATION [SYNC-HAZARD-READ-AFTER-WRITE (0x1)]")
        );
    }
}
