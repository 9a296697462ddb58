//! --augment: the gather's random affine maps do what they say (the twin here;
//! selftest holds the GPU and native kernels to the twin), and the flag parses.

use gpunet::augment::Augment;
use gpunet::cpu;
use gpunet::kernels::GatherDims;

const SIDE: usize = 28;

/// One 28x28 image per entry of `images` in a packed store; gathers rows 0..n.
fn gather(images: &[Vec<u8>], d: GatherDims) -> Vec<f32> {
    let store: Vec<u32> = images
        .iter()
        .flat_map(|img| img.chunks(4).map(|c| c.iter().rev().fold(0u32, |w, &b| w << 8 | b as u32)).collect::<Vec<_>>())
        .collect();
    let n = images.len();
    let (mut x, mut y) = (vec![0f32; n * 784], vec![0u32; n]);
    let index: Vec<u32> = (0..n as u32).collect();
    cpu::gather(&mut x, &mut y, &store, &vec![0; n], &index, &d);
    x
}

fn blob(cx: usize, cy: usize) -> Vec<u8> {
    let mut img = vec![0u8; 784];
    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        img[(cy + dy) * SIDE + cx + dx] = 255;
    }
    img
}

#[test]
fn zero_ranges_give_back_the_image() {
    let img: Vec<u8> = (0..784).map(|i| (i * 37 % 256) as u8).collect();
    let plain = gather(std::slice::from_ref(&img), GatherDims::new(1, 0, 784, 255.0));
    let same = gather(&[img], GatherDims::new(1, 0, 784, 255.0).augmented((SIDE, SIDE), 0.0, 0.0, 0.0, 3, 9));
    assert_eq!(plain, same);
}

#[test]
fn a_blob_lands_where_the_map_sends_it() {
    // a 2x2 blob centred at (p, q) must come out centred at c + z·R(θ)·((p, q) - c) + t
    let c = (SIDE as f64 - 1.0) / 2.0;
    let mut checked = 0;
    for step in 0..40u32 {
        for &(bx, by) in &[(8usize, 10usize), (17, 6), (12, 18)] {
            let d = GatherDims::new(1, 0, 784, 255.0).augmented((SIDE, SIDE), 0.4, 0.2, 3.0, 5, step);
            let x = gather(&[blob(bx, by)], d);
            let [theta, z, tx, ty] = cpu::affine(&d, 0).map(|v| v as f64);
            let (px, py) = (bx as f64 + 0.5 - c, by as f64 + 0.5 - c);
            let want = (
                c + z * (theta.cos() * px - theta.sin() * py) + tx,
                c + z * (theta.sin() * px + theta.cos() * py) + ty,
            );
            let mass: f64 = x.iter().map(|&v| v as f64).sum();
            let mx = x.iter().enumerate().map(|(i, &v)| (i % SIDE) as f64 * v as f64).sum::<f64>() / mass;
            let my = x.iter().enumerate().map(|(i, &v)| (i / SIDE) as f64 * v as f64).sum::<f64>() / mass;
            // bilinear resampling keeps a blob's centroid to within a fraction of a pixel
            let err = ((mx - want.0).powi(2) + (my - want.1).powi(2)).sqrt();
            assert!(
                err < 0.25,
                "step {step}, blob ({bx},{by}): centroid ({mx:.2},{my:.2}), map says ({:.2},{:.2})",
                want.0,
                want.1
            );
            // and its mass scales with the area, z²
            assert!((mass / (4.0 * z * z) - 1.0).abs() < 0.1, "mass {mass} for zoom {z}");
            checked += 1;
        }
    }
    assert_eq!(checked, 120);
}

#[test]
fn maps_fill_their_ranges_and_repeat_only_for_the_same_step() {
    let d = GatherDims::new(1, 0, 784, 255.0).augmented((SIDE, SIDE), 0.2, 0.1, 2.8, 42, 3);
    let maps: Vec<[f32; 4]> = (0..4000).map(|src| cpu::affine(&d, src)).collect();
    let limits = [0.2, 0.1, 2.8, 2.8];
    let centre = [0.0, 1.0, 0.0, 0.0];
    for k in 0..4 {
        let v: Vec<f32> = maps.iter().map(|m| m[k] - centre[k]).collect();
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        assert!(lo >= -limits[k] && hi < limits[k], "parameter {k}: [{lo}, {hi}] outside ±{}", limits[k]);
        assert!(lo < -0.98 * limits[k] && hi > 0.98 * limits[k], "parameter {k} does not fill its range: [{lo}, {hi}]");
        // uniform on [-L, L): the mean of 4000 has σ = L/√12000
        assert!(mean.abs() < 5.0 * limits[k] / 12000f32.sqrt(), "parameter {k}: mean {mean}");
    }
    assert_eq!(cpu::affine(&d, 7), cpu::affine(&d, 7));
    let next = GatherDims { step: 4, ..d };
    assert_ne!(cpu::affine(&d, 7), cpu::affine(&next, 7));
    let other_seed = GatherDims { seed: 43, ..d };
    assert_ne!(cpu::affine(&d, 7), cpu::affine(&other_seed, 7));
}

#[test]
fn the_flag_parses_and_rejects_clearly() {
    let a = Augment::parse("rotate=10,zoom=0.1,shift=0.1").unwrap().unwrap();
    assert_eq!(a, Augment { rotate: 10.0, zoom: 0.1, shift: 0.1, elastic: 0.0, crop: 0, flip: false });
    assert_eq!(Augment::parse(&Augment::text(Some(a))).unwrap(), Some(a));
    assert_eq!(Augment::parse("none").unwrap(), None);
    assert_eq!(
        Augment::parse("shift=0.2").unwrap(),
        Some(Augment { rotate: 0.0, zoom: 0.0, shift: 0.2, elastic: 0.0, crop: 0, flip: false })
    );
    for bad in ["", "rotate", "rotate=x", "spin=3", "rotate=1,rotate=2", "zoom=1.5", "shift=-0.1", "rotate=200"] {
        let e = Augment::parse(bad).expect_err(bad).to_string();
        assert!(e.contains("expected none or rotate="), "{bad}: {e}");
    }
}

/// The gather's own cos and sin (WGSL's may be off by 2^-11) are within 5e-7 (four float ulps) of
/// the true values over every angle --augment allows, ±180 degrees.
#[test]
fn cos_sin_polynomials_are_exact_to_float_rounding() {
    let mut worst = 0f64;
    for i in -4000..=4000 {
        let theta = (i as f64 / 4000.0 * std::f64::consts::PI) as f32;
        let (c, s) = cpu::cos_sin(theta);
        let t = theta as f64;
        worst = worst.max((c as f64 - t.cos()).abs()).max((s as f64 - t.sin()).abs());
    }
    assert!(worst < 5e-7, "worst error {worst:e}");
}

/// The elastic warp: bounded by its size, smooth (bilinear between control points
/// 9 pixels apart), different per image and step, and zero when off; a blob of the
/// source lands where the warp sends it (the output point q samples q + warp(q)).
#[test]
fn the_elastic_warp_is_smooth_bounded_and_moves_blobs_where_it_says() {
    let e = 2.5f32;
    let d = |step| GatherDims::new(1, 0, 784, 255.0).augmented((SIDE, SIDE), 0.0, 0.0, 0.0, 5, step).warped(e);
    let field = |step: u32, src: u32| -> Vec<(f32, f32)> {
        (0..784).map(|j| cpu::warp(&d(step), src, (j % SIDE) as f32, (j / SIDE) as f32)).collect()
    };
    let f = field(3, 0);
    assert!(f.iter().all(|&(x, y)| x.abs() <= e && y.abs() <= e), "a displacement beyond {e}");
    assert!(f.iter().any(|&(x, _)| x.abs() > 0.5 * e), "the warp hardly moves anything");
    // neighbours differ by at most the slope of a bilinear patch: 2e over 9 pixels, per axis
    let slope = 2.0 * e / 9.0 + 1e-4;
    for j in 0..784 {
        for k in [j + 1, j + SIDE].into_iter().filter(|&k| k < 784 && (k == j + SIDE || k % SIDE != 0)) {
            let (a, b) = (f[j], f[k]);
            assert!((a.0 - b.0).abs() <= slope && (a.1 - b.1).abs() <= slope, "pixels {j} and {k}: {a:?} {b:?}");
        }
    }
    assert_ne!(f, field(4, 0), "the warp does not change with the step");
    assert_ne!(f, field(3, 1), "the warp does not change with the image");
    // off: the affine path's result exactly
    let img: Vec<u8> = (0..784).map(|i| (i * 37 % 256) as u8).collect();
    let plain = GatherDims::new(1, 0, 784, 255.0).augmented((SIDE, SIDE), 0.2, 0.1, 2.0, 3, 9);
    assert_eq!(gather(std::slice::from_ref(&img), plain), gather(std::slice::from_ref(&img), plain.warped(0.0)));
    assert_ne!(gather(std::slice::from_ref(&img), plain), gather(&[img], plain.warped(e)));
    // a blob at s comes out near the q with q + warp(q) = s
    let mut checked = 0;
    for step in 0..30u32 {
        for &(bx, by) in &[(8usize, 10usize), (17, 6), (12, 18)] {
            let x = gather(&[blob(bx, by)], d(step));
            let mass: f64 = x.iter().map(|&v| v as f64).sum();
            let qx = x.iter().enumerate().map(|(i, &v)| (i % SIDE) as f64 * v as f64).sum::<f64>() / mass;
            let qy = x.iter().enumerate().map(|(i, &v)| (i / SIDE) as f64 * v as f64).sum::<f64>() / mass;
            let (wx, wy) = cpu::warp(&d(step), 0, qx as f32, qy as f32);
            let (sx, sy) = (qx + wx as f64, qy + wy as f64);
            let err = ((sx - (bx as f64 + 0.5)).powi(2) + (sy - (by as f64 + 0.5)).powi(2)).sqrt();
            assert!(err < 0.35, "step {step}, blob ({bx}, {by}): lands {err:.3} px off");
            checked += 1;
        }
    }
    assert_eq!(checked, 90);
}

/// `crop=P,flip` on colour images that are not square: each image comes out as
/// itself, or mirrored, moved by an integer offset within ±P with black coming
/// in, every channel alike; over many steps both flips and every offset occur.
#[test]
fn crop_and_flip_move_every_channel_by_whole_pixels() {
    let (c, h, w, crop) = (3usize, 9usize, 13usize, 3i64);
    let plane = h * w;
    let img: Vec<u8> = (0..c * plane).map(|i| (i * 37 % 251 + 1) as u8).collect();
    let mut seen_offsets = std::collections::BTreeSet::new();
    let mut flips = [0; 2];
    for step in 0..200u32 {
        let d = GatherDims::new(1, 0, c * plane, 255.0)
            .augmented((h, w), 0.0, 0.0, 0.0, 7, step)
            .cropped(crop as u32, true);
        let store: Vec<u32> = img.chunks(4).map(|q| q.iter().rev().fold(0u32, |w, &b| w << 8 | b as u32)).collect();
        let (mut x, mut y) = (vec![0f32; c * plane], vec![0u32; 1]);
        cpu::gather(&mut x, &mut y, &store, &[0], &[0], &d);
        let (ox, oy, flip) = cpu::crop_flip(&d, 0);
        let (ox, oy) = (ox as i64, oy as i64);
        assert!(ox.abs() <= crop && oy.abs() <= crop, "offset ({ox}, {oy})");
        seen_offsets.insert((ox, oy));
        flips[flip as usize] += 1;
        for ch in 0..c {
            for py in 0..h as i64 {
                for px in 0..w as i64 {
                    let sx = if flip { w as i64 - 1 - px } else { px } + ox;
                    let sy = py + oy;
                    let inside = (0..w as i64).contains(&sx) && (0..h as i64).contains(&sy);
                    let want = if inside {
                        img[ch * plane + (sy * w as i64 + sx) as usize] as f32 * (1.0 / 255.0)
                    } else {
                        0.0
                    };
                    let got = x[ch * plane + (py * w as i64 + px) as usize];
                    assert_eq!(got, want, "step {step}, channel {ch}, ({px}, {py})");
                }
            }
        }
    }
    assert_eq!(seen_offsets.len(), 49, "every offset within ±3 in x and y occurs in 200 steps");
    assert!(flips[0] > 60 && flips[1] > 60, "{flips:?}");
    let a = Augment::parse("crop=4,flip").unwrap();
    assert_eq!(Augment::text(a), "rotate=0,zoom=0,shift=0,crop=4,flip");
    assert_eq!(Augment::parse(&Augment::text(a)).unwrap(), a);
    for bad in ["crop=0", "crop=2.5", "flip,flip", "crop=3,crop=4"] {
        assert!(Augment::parse(bad).is_err(), "{bad}");
    }
}
