//! CUDA path: predictions on the GPU agree with the CPU within 1e-3 on the test split.
//! Runs only when built with `--features cuda` and a GPU is visible; otherwise it says why it skipped.

mod common;

use candle_core::Device;
use pantau::io::read_examples;
use pantau::{parse_device, Classifier};

#[test]
fn gpu_predictions_match_cpu_on_the_test_split() {
    let gpu = match parse_device("cuda") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let examples = read_examples(&common::root().join("data/test.jsonl")).unwrap();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let cpu = Classifier::load_dir(&common::model_dir(), &Device::Cpu).unwrap();
    let cuda = Classifier::load_dir(&common::model_dir(), &gpu).unwrap();
    let a = cpu.classify_batch(&texts).unwrap();
    let b = cuda.classify_batch(&texts).unwrap();
    let mut worst = 0f32;
    for (x, y) in a.iter().zip(&b) {
        for k in 0..3 {
            worst = worst.max((x.probabilities[k] - y.probabilities[k]).abs());
        }
    }
    eprintln!(
        "max |p_cpu - p_gpu| over {} posts: {worst:.2e}",
        texts.len()
    );
    assert!(worst < 1e-3, "GPU and CPU disagree by {worst}");
}
