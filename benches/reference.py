#!/usr/bin/env python3
"""PyTorch reference for pantau's encoder classifier.

Runs the same weights (model.safetensors) and the same tokenizer.json in an HF-style PyTorch
implementation over the same posts with the same number of threads, checks that the predicted
probabilities agree with pantau's to 1e-4, and prints both throughputs and their ratio.

    python3 -m pip install torch safetensors tokenizers
    cargo build --release
    python3 benches/reference.py --threads 2

What is timed:
  pantau   `pantau classify` end to end: process start, model load, reading JSONL, normalization,
           tokenization, inference, writing JSONL (best of --runs).
  pytorch  tokenization (HF tokenizers, Rust) of the already-normalized text + inference with the same
           length-bucketed token-budget batching, at each of --budget (best of --runs each), and the
           best budget is the one compared. Normalization, file I/O and model loading are NOT charged
           to PyTorch, so the ratio understates pantau's advantage.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x, bias):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        ctx = scores.softmax(-1) @ v
        return self.out(ctx.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.up = nn.Linear(d, ff)
        self.down = nn.Linear(ff, d)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.attn_norm = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, cfg["num_attention_heads"])
        self.ffn_norm = nn.LayerNorm(d, eps=eps)
        self.ffn = FeedForward(d, cfg["intermediate_size"])

    def forward(self, x, bias):
        x = x + self.attn(self.attn_norm(x), bias)
        return x + self.ffn(self.ffn_norm(x))


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])
        return self.word_embeddings(ids) + self.position_embeddings(pos)[None]


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.final_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class PantauClassifier(nn.Module):
    """Mirrors src/model.rs: pre-LN encoder, masked mean pooling, linear head."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        self.classifier = nn.Linear(cfg["hidden_size"], 3)

    def forward(self, ids, mask):
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        x = self.embeddings(ids)
        for layer in self.encoder.layers:
            x = layer(x, bias)
        x = self.encoder.final_norm(x)
        m = mask[:, :, None]
        pooled = (x * m).sum(1) / m.sum(1)
        return self.classifier(pooled)


def plan_batches(lengths, budget, max_batch):
    """Same grouping as pantau::batch::plan_batches."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches, cur = [], []
    for i in order:
        longest = max(lengths[i], 1)
        if cur and ((len(cur) + 1) * longest > budget or len(cur) >= max_batch):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def torch_classify(model, tok, pad_id, normalized, budget, max_batch):
    ids = [e.ids for e in tok.encode_batch(normalized)]
    probs = [None] * len(ids)
    with torch.inference_mode():
        for batch in plan_batches([len(x) for x in ids], budget, max_batch):
            t = max(len(ids[i]) for i in batch)
            x = torch.full((len(batch), t), pad_id, dtype=torch.long)
            m = torch.zeros((len(batch), t))
            for r, i in enumerate(batch):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                m[r, : len(ids[i])] = 1.0
            p = model(x, m).softmax(-1)
            for r, i in enumerate(batch):
                probs[i] = p[r].tolist()
    return probs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/pantau-small")
    ap.add_argument("--data", nargs="+", default=["data/test.jsonl", "data/dev.jsonl", "data/train.jsonl"])
    ap.add_argument("--repeat", type=int, default=2, help="repeat the posts to lengthen the run")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pantau", default="target/release/pantau")
    ap.add_argument("--budget", type=int, nargs="+", default=[512, 1024, 2048, 4096],
                    help="token budgets per batch to try for PyTorch; its fastest is compared")
    ap.add_argument("--max-batch", type=int, default=64)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false" if args.threads == 1 else "true"

    texts = []
    for path in args.data:
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    texts = texts * args.repeat
    work = tempfile.mkdtemp(prefix="pantau-ref-")
    posts = os.path.join(work, "posts.jsonl")
    with open(posts, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"i": i, "text": t}, ensure_ascii=False) + "\n")

    # pantau, end to end.
    out = os.path.join(work, "out.jsonl")
    best_pantau = 0.0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        r = subprocess.run(
            [args.pantau, "classify", posts, "-o", out, "--model", args.model, "--threads", str(args.threads)],
            capture_output=True, text=True,
        )
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"pantau failed: {r.stderr}")
        best_pantau = max(best_pantau, len(texts) / wall)
    with open(out, encoding="utf-8") as f:
        ours = [[row["p_neutral"], row["p_promotional"], row["p_campaigning"]] for row in map(json.loads, f)]

    # Same normalized text for PyTorch.
    r = subprocess.run([args.pantau, "normalize", posts], capture_output=True, text=True, check=True)
    normalized = r.stdout.split("\n")[: len(texts)]

    cfg = json.load(open(os.path.join(args.model, "config.json")))
    model = PantauClassifier(cfg)
    state = {k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()}
    model.load_state_dict(state)
    model.eval()
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.enable_truncation(cfg["max_position_embeddings"])
    tok.no_padding()
    pad_id = cfg.get("pad_token_id", 0)

    best_torch, best_budget, probs = 0.0, None, None
    for budget in args.budget:
        for _ in range(args.runs):
            t0 = time.perf_counter()
            probs = torch_classify(model, tok, pad_id, normalized, budget, args.max_batch)
            rate = len(texts) / (time.perf_counter() - t0)
            print(f"  pytorch budget {budget:5}: {rate:,.0f} posts/s", file=sys.stderr)
            if rate > best_torch:
                best_torch, best_budget = rate, budget

    diff = max(abs(a - b) for pa, pb in zip(ours, probs) for a, b in zip(pa, pb))
    agree = sum(max(range(3), key=pa.__getitem__) == max(range(3), key=pb.__getitem__) for pa, pb in zip(ours, probs))
    print(f"posts             {len(texts)} ({args.threads} threads, torch {torch.__version__})")
    print(f"max |p diff|      {diff:.2e} (pantau writes 6 decimals)")
    print(f"same label        {agree}/{len(texts)}")
    print(f"pantau            {best_pantau:,.0f} posts/s (end to end, incl. process start, I/O, normalization)")
    print(f"pytorch           {best_torch:,.0f} posts/s (tokenize + forward only, budget {best_budget})")
    print(f"ratio             {best_pantau / best_torch:.2f}x")
    if diff > 1e-4:
        sys.exit("probabilities disagree by more than 1e-4")


if __name__ == "__main__":
    main()
