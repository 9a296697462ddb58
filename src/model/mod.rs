//! Named architectures and layer specs, the network on an engine, checkpoints.

pub mod checkpoint;
pub mod checksum;
pub mod launch;
pub mod layers;
pub mod net;
pub mod onnx;
pub mod plan;
pub mod spec;

pub use layers::Layer;
pub use net::{Acc, Mode, Net, NetConfig};
pub use spec::Spec;
