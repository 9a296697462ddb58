//! scripts/records-gpu.sh, the accuracy records' one call on a lent GPU: its dry
//! run (two seeds of a tiny recipe with every accuracy tool, on lavapipe) leaves
//! the files the machine hands back, with each seed's epochs, each member's and
//! the ensemble's t10k accuracy with and without test-time augmentation.

mod common;

#[test]
fn the_records_dry_run_trains_every_seed_and_evaluates_the_ensemble() {
    if gpunet::gpu::for_tests().is_none() {
        return;
    }
    let (out, files) = common::dry_run("records-gpu.sh");
    let log = std::fs::read_to_string(out.path().join("log.txt")).unwrap();
    assert_eq!(
        files,
        ["eval.txt", "log.txt", "m1.safetensors", "m2.safetensors", "seeds.csv", "summary.json"],
        "{log}"
    );
    let read = |f: &str| std::fs::read_to_string(out.path().join(f)).unwrap();
    let s: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    assert_eq!(s["finished_seeds"], serde_json::json!(["1", "2"]), "{s:#}");
    for tta in ["plain", "tta5"] {
        let t = &s["t10k"][tta];
        let members = t["members"].as_array().unwrap();
        assert_eq!(members.len(), 2, "{s:#}");
        assert!(members.iter().all(|a| (0.0..=1.0).contains(&a.as_f64().unwrap())), "{s:#}");
        assert!(t["ensemble"].as_f64().unwrap() > 0.0, "{s:#}");
    }
    let seeds = read("seeds.csv");
    assert!(seeds.starts_with("seed,epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr\n"), "{seeds}");
    assert!(seeds.lines().any(|l| l.starts_with("1,1,")) && seeds.lines().any(|l| l.starts_with("2,1,")), "{seeds}");
    assert!(read("eval.txt").contains("tta 5: test-time augmentation"), "{}", read("eval.txt"));
    assert!(read("log.txt").contains("== seed 2: exit 0"), "{log}");
}
