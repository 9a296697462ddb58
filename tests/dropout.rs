//! Dropout masks as the engines draw them (GPU, native, twin): the keep rate lies
//! within binomial bounds for several p and seeds, and masks of neighbouring
//! steps, layers and elements are independent (joint keep rate ≈ (1-p)²).

mod common;

use gpunet::engine::Engine;
use gpunet::kernels;
use gpunet::kernels::op::{self, View};

const N: usize = 200_000;

/// The kept-element mask dropout_forward draws on `engine` for ones.
fn mask(engine: &mut dyn Engine, p: f32, seed: u32, step: u32, salt: u32) -> Vec<bool> {
    let x = engine.buffer(N, "ones").unwrap();
    engine.write_f32(x, 0, &vec![1.0; N]).unwrap();
    let y = engine.buffer(N, "y").unwrap();
    let d = kernels::DropoutDims::new(N, p, seed, step, salt);
    let plan = engine.plan(vec![op::dropout_forward(View::whole(y, N), View::whole(x, N), d)]).unwrap();
    engine.run(plan).unwrap();
    engine.read_f32(View::whole(y, N)).unwrap().iter().map(|&v| v != 0.0).collect()
}

/// |count - n·q| within 5 binomial standard deviations (a false alarm about once in 3.5 million).
fn assert_binomial(what: &str, count: usize, n: usize, q: f64) {
    let (mean, sd) = (n as f64 * q, (n as f64 * q * (1.0 - q)).sqrt());
    assert!((count as f64 - mean).abs() <= 5.0 * sd, "{what}: {count} of {n}, expected {mean:.0} ± {:.0}", 5.0 * sd);
}

fn joint(a: &[bool], b: &[bool]) -> usize {
    a.iter().zip(b).filter(|(x, y)| **x && **y).count()
}

fn engines() -> Vec<Box<dyn Engine>> {
    common::every_engine()
}

#[test]
fn keep_rates_lie_within_binomial_bounds() {
    let mut checked = 0;
    for mut e in engines() {
        for p in [0.1f32, 0.25, 0.5, 0.75] {
            for seed in [1u32, 42, 123_457] {
                let kept = mask(&mut *e, p, seed, 7, 3).iter().filter(|&&k| k).count();
                assert_binomial(&format!("{} p={p} seed={seed}", e.name()), kept, N, 1.0 - p as f64);
                checked += 1;
            }
        }
    }
    assert!(checked >= 24, "only {checked} masks checked");
}

#[test]
fn masks_of_neighbouring_steps_layers_and_elements_are_independent() {
    let mut checked = 0;
    for mut e in engines() {
        for p in [0.25f32, 0.5] {
            let q = (1.0 - p as f64).powi(2);
            let base = mask(&mut *e, p, 42, 10, 3);
            let next_step = mask(&mut *e, p, 42, 11, 3);
            let next_layer = mask(&mut *e, p, 42, 10, 4);
            let other_seed = mask(&mut *e, p, 43, 10, 3);
            let name = e.name();
            assert_binomial(&format!("{name} p={p} step vs step+1"), joint(&base, &next_step), N, q);
            assert_binomial(&format!("{name} p={p} layer vs layer+1"), joint(&base, &next_layer), N, q);
            assert_binomial(&format!("{name} p={p} seed vs seed+1"), joint(&base, &other_seed), N, q);
            assert_binomial(&format!("{name} p={p} element i vs i+1"), joint(&base[..N - 1], &base[1..]), N - 1, q);
            // and the masks are not one another
            assert_ne!(base, next_step);
            assert_ne!(base, next_layer);
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} engine/p pairs checked");
}
