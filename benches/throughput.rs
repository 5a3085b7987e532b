//! Criterion benchmarks: tokenization and the lexical head alone, model forward per batch size, and end-to-end
//! `classify_batch` over a fixed realistic set of posts (the test split), in posts/s; and one
//! training epoch, in training examples/s.
//!
//! `PANTAU_BENCH_DEVICE=cuda` runs them on a GPU when built with `--features cuda`.

use std::path::PathBuf;

use candle_core::Device;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pantau::classify::BatchOptions;
use pantau::text::normalize::normalize;
use pantau::{parse_device, Classifier};

fn posts() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/test.jsonl");
    std::fs::read_to_string(path)
        .expect("data/test.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect()
}

fn device() -> Device {
    parse_device(&std::env::var("PANTAU_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into()))
        .expect("device")
}

fn load() -> Classifier {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(pantau::DEFAULT_MODEL);
    Classifier::load_dir(&dir, &device()).expect("shipped model")
}

fn tokenization(c: &mut Criterion) {
    let clf = load();
    let posts = posts();
    let mut g = c.benchmark_group("tokenization");
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.bench_function("normalize", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|p| normalize(black_box(p)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("normalize+encode", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|p| clf.encode(black_box(p)).unwrap().len())
                .sum::<usize>()
        })
    });
    // The lexical head's share of the per-post work (hashing, TF-IDF, the dot product), on text
    // already prepared.
    let prepared: Vec<String> = posts.iter().map(|p| clf.prepare(p).text).collect();
    if clf.lexical().is_some() {
        g.bench_function("lexical_head", |b| {
            b.iter(|| {
                prepared
                    .iter()
                    .map(|p| clf.lexical_offset(black_box(p)).unwrap()[0])
                    .sum::<f32>()
            })
        });
    }
    g.finish();
}

fn forward(c: &mut Criterion) {
    let clf = load();
    let ids: Vec<Vec<u32>> = posts().iter().map(|p| clf.encode(p).unwrap()).collect();
    let mut g = c.benchmark_group("forward");
    for bs in [1usize, 8, 32, 64, 128, 256] {
        // Consecutive posts of the test set: realistic length mix, padded to the longest.
        let batch: Vec<&[u32]> = ids.iter().take(bs).map(Vec::as_slice).collect();
        g.throughput(Throughput::Elements(bs as u64));
        g.bench_with_input(BenchmarkId::from_parameter(bs), &batch, |b, batch| {
            b.iter(|| clf.predict_batch(black_box(batch)).unwrap())
        });
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let posts = posts();
    let mut g = c.benchmark_group("classify_batch");
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.sample_size(20);
    let default = BatchOptions::for_device(&device());
    let clf = load();
    g.bench_with_input(
        BenchmarkId::new("default", default.token_budget),
        &posts,
        |b, posts| b.iter(|| clf.classify_batch(black_box(posts)).unwrap()),
    );
    if std::env::var("PANTAU_BENCH_SWEEP").is_ok() {
        // Token budgets, and the two ways of sharing the cores between rayon and candle's matmuls.
        for budget in [512usize, 1024, 4096, 8192] {
            let clf = load().with_batching(BatchOptions {
                token_budget: budget,
                max_batch: budget,
                ..default
            });
            g.bench_with_input(
                BenchmarkId::new("token_budget", budget),
                &posts,
                |b, posts| b.iter(|| clf.classify_batch(black_box(posts)).unwrap()),
            );
        }
        let sequential = load().with_batching(BatchOptions {
            parallel_batches: false,
            ..default
        });
        g.bench_with_input(
            BenchmarkId::new("sequential_batches_parallel_matmul", 0),
            &posts,
            |b, posts| b.iter(|| sequential.classify_batch(black_box(posts)).unwrap()),
        );
        // candle sizes its matmul parallelism from RAYON_NUM_THREADS on every call; the global pool
        // is already built, so this makes matmuls single-threaded while batches stay parallel.
        std::env::set_var("RAYON_NUM_THREADS", "1");
        g.bench_with_input(
            BenchmarkId::new("parallel_batches_serial_matmul", 0),
            &posts,
            |b, posts| b.iter(|| clf.classify_batch(black_box(posts)).unwrap()),
        );
        std::env::remove_var("RAYON_NUM_THREADS");
    }
    g.finish();
}

/// The machine's measured f32 matmul peak through candle (Throughput = FLOPs, so criterion's
/// "elem/s" reads as FLOP/s), to put the end-to-end figure in proportion.
fn matmul_peak(c: &mut Criterion) {
    let dev = device();
    let mut g = c.benchmark_group("matmul_peak");
    for n in [256usize, 1024] {
        let a = candle_core::Tensor::randn(0f32, 1.0, (n, n), &dev).unwrap();
        let b = candle_core::Tensor::randn(0f32, 1.0, (n, n), &dev).unwrap();
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let c = a.matmul(&b).unwrap();
                dev.synchronize().unwrap();
                c
            })
        });
    }
    g.finish();
}

/// Prints the model's useful FLOPs per post on the benchmark set (real tokens, no padding).
fn flops_report(_: &mut Criterion) {
    let clf = load();
    let lens: Vec<usize> = posts()
        .iter()
        .map(|p| clf.encode(p).unwrap().len())
        .collect();
    let total: f64 = lens
        .iter()
        .map(|&t| clf.config().flops_per_token(t) * t as f64)
        .sum();
    let mean_len = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
    eprintln!(
        "model FLOPs: {:.2} MFLOP per post on average ({} posts, {:.1} tokens per post, {} parameters)",
        total / lens.len() as f64 / 1e6,
        lens.len(),
        mean_len,
        clf.config().num_parameters()
    );
}

/// Peak of pantau's own dense kernel on the model's largest projection shape (512 tokens × 128 →
/// 384), one independent batch per thread as in `classify_batch`.
fn dense_peak(c: &mut Criterion) {
    use pantau::model::kernels::{Dense, Post};
    use rayon::prelude::*;
    let dev = candle_core::Device::Cpu;
    let (m, k, n) = (512, 128, 384);
    let lin = candle_nn::Linear::new(
        candle_core::Tensor::randn(0f32, 0.1, (n, k), &dev).unwrap(),
        Some(candle_core::Tensor::zeros(n, candle_core::DType::F32, &dev).unwrap()),
    );
    let dense = Dense::new(&lin).unwrap();
    let threads = rayon::current_num_threads();
    let xs: Vec<_> = (0..threads)
        .map(|_| candle_core::Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap())
        .collect();
    let mut g = c.benchmark_group("matmul_peak");
    g.throughput(Throughput::Elements((threads * 2 * m * k * n) as u64));
    g.bench_function(format!("pantau_dense_{m}x{k}x{n}_x{threads}"), |bench| {
        bench.iter(|| {
            xs.par_iter()
                .map(|x| dense.forward(x, Post::None).unwrap())
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

/// Training speed: one classifier epoch of `train` over 512 training posts (with the shipped
/// tokenizer, so no vocabulary is learned, and no pretraining), dev evaluation on 64 posts and the
/// checkpoint save included; throughput in training examples per second.
fn training(c: &mut Criterion) {
    use pantau::io::read_examples;
    use pantau::train::{train, TrainConfig, TrainData};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let all = read_examples(&root.join("data/train.jsonl")).expect("data/train.jsonl");
    let dev = read_examples(&root.join("data/dev.jsonl")).expect("data/dev.jsonl");
    let data = TrainData {
        train: all[..512].to_vec(),
        dev: dev[..64].to_vec(),
        ..TrainData::default()
    };
    let config = TrainConfig {
        epochs: 1,
        pretrain_epochs: Some(0),
        tokenizer: Some(root.join(pantau::DEFAULT_MODEL).join("tokenizer.json")),
        ..TrainConfig::default()
    };
    let out = tempfile::tempdir().expect("temp dir");
    let dev = device();
    let mut g = c.benchmark_group("train");
    g.throughput(Throughput::Elements(data.train.len() as u64));
    g.sample_size(10);
    g.bench_function("epoch_512", |b| {
        b.iter(|| train(&config, &data, &out.path().join("m"), &dev, |_| {}).unwrap())
    });
    g.finish();
}

criterion_group!(
    benches,
    training,
    flops_report,
    tokenization,
    forward,
    end_to_end,
    matmul_peak,
    dense_peak
);
criterion_main!(benches);
