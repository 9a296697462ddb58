//! The GPU fusion pass (src/kernels/fuse.rs) on cnn6's training step at batch
//! 500 as a discrete GPU plans it: 60 launches as the layers emit them, 30 fused,
//! each small memory-bound launch folded into a GEMM or merged. What the fused
//! kernels compute is the selftest's (every class on lavapipe, the browser page);
//! that fused plans train as the reference engine does, its training steps.

use gpunet::data::{Images, PIXELS};
use gpunet::engine::Recorder;
use gpunet::gpu::{Class, Tuning};
use gpunet::kernels::{ConvDims, Dims, Kernel, MatmulDims};
use gpunet::kernels::{FLAG_GRAD_BIAS, FLAG_MASK, FLAG_UNPOOL};
use gpunet::model::{Mode, Net, NetConfig, Spec};
use gpunet::optim::Optim;

/// The kernels of `arch`'s training plan at batch 500 under `tuning`, in order, with their params.
fn plan(arch: &str, tuning: Tuning) -> Vec<(Kernel, gpunet::kernels::Params)> {
    let mut rec = Recorder::for_tuning(&tuning);
    let images = Images::digits(vec![0; 500 * PIXELS], Some(vec![0; 500]));
    let cfg = NetConfig { batch: 500, norm: Default::default(), optim: Some(Optim::adam(1e-3)), seed: 0 };
    let mut net = Net::new(&mut rec, Spec::parse(arch).unwrap(), &images, cfg).unwrap();
    let id = net.plan(&mut rec, Mode::Train, 500).unwrap();
    rec.host.ops(id).iter().map(|op| (op.kernel, op.params)).collect()
}

#[test]
fn cnn6_trains_in_30_launches_fused_and_60_not() {
    let fused = Class::Discrete.tuning(true, None);
    let unfused = Tuning { fuse: false, ..fused };
    let (ops, plain) = (plan("cnn6", fused), plan("cnn6", unfused));
    assert_eq!((ops.len(), plain.len()), (30, 60));
    let count = |k: Kernel| ops.iter().filter(|o| o.0 == k).count();
    for gone in
        [Kernel::ReluBackward, Kernel::MaxpoolBackward, Kernel::BiasGrad, Kernel::XentAccumulate, Kernel::SumSplits]
    {
        assert_eq!(count(gone), 0, "{}", gone.name());
    }
    assert_eq!(count(Kernel::SumSegments), 1);
    // the three pools' backward in the GEMMs after them (one dense, two convs), with
    // the ReLU below each; the other four ReLUs masked by the GEMM before them
    let flags = |k: Kernel, f: u32| {
        ops.iter()
            .filter(|o| o.0 == k)
            .filter(|o| match k {
                Kernel::Matmul | Kernel::MatmulGrad => MatmulDims::from_params(&o.1).flags == f,
                _ => ConvDims::from_params(&o.1).flags == f,
            })
            .count()
    };
    let (unpool, mask) = (FLAG_UNPOOL | FLAG_MASK, FLAG_MASK);
    assert_eq!(flags(Kernel::MatmulGrad, unpool) + flags(Kernel::Conv2dBackwardInput, unpool), 3);
    assert_eq!(flags(Kernel::MatmulGrad, mask) + flags(Kernel::Conv2dBackwardInput, mask), 4);
    // six conv and two dense bias gradients beside their weight gradients
    assert_eq!(flags(Kernel::MatmulGrad, FLAG_GRAD_BIAS) + flags(Kernel::Conv2dBackwardWeight, FLAG_GRAD_BIAS), 8);
    assert_eq!((count(Kernel::XentSums), count(Kernel::SoftmaxXent), count(Kernel::XentAccumulate)), (1, 0, 0));
    // the ops a run sets keep their own launches: the gather first, the optimizer last
    assert_eq!((ops[0].0, ops[29].0), (Kernel::Gather, Kernel::Adam));
}

#[test]
fn every_class_fuses_the_dense_and_batch_norm_nets_too() {
    for class in [Class::Cpu, Class::Integrated, Class::Discrete] {
        let t = class.tuning(true, None);
        for arch in ["mlp", "cnn8-dropout", "conv8k3lin,bn,relu,pool2,conv16k3,gap,out10"] {
            let (ops, plain) = (plan(arch, t), plan(arch, Tuning { fuse: false, ..t }));
            let count = |k: Kernel| ops.iter().filter(|o| o.0 == k).count();
            assert!(ops.len() < plain.len(), "{arch} under {}: {} of {}", class.name(), ops.len(), plain.len());
            assert_eq!(count(Kernel::XentAccumulate), 0, "{arch}");
            assert!(count(Kernel::SumSplits) + count(Kernel::SumSegments) <= 1, "{arch} under {}", class.name());
        }
    }
}
