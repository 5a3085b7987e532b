//! The model card (`README.md`) written into every trained model directory.

use crate::model::config::Config;
use crate::train::report::TrainReport;

/// The marker after which `pantau eval --update-card` writes test metrics.
pub const CARD_EVAL_MARKER: &str = "<!-- pantau:eval -->";

/// Hugging Face model-card metadata, so hub tooling shows the card correctly. The model loads
/// through pantau (the CLI or its library), which normalizes text exactly as in training;
/// `transformers` cannot run it.
pub const FRONT_MATTER: &str = "---\nlanguage:\n- id\nlicense: apache-2.0\nlibrary_name: pantau\npipeline_tag: text-classification\ntags:\n- election-monitoring\n- asn-neutrality\nmetrics:\n- f1\n- accuracy\n---\n\n";

pub(super) fn model_card(cfg: &Config, report: &TrainReport) -> String {
    let c = &report.config;
    let dev = report
        .best_dev
        .as_ref()
        .map(|d| {
            format!(
                "dev accuracy {:.4}, dev macro-F1 {:.4} (epoch {})",
                d.accuracy, d.macro_f1, report.best_epoch
            )
        })
        .unwrap_or_default();
    format!(
        "{FRONT_MATTER}# pantau model\n\n\
         A {layers}-layer pre-LN transformer encoder (hidden {d}, {heads} heads, FFN {ff}, max {len} tokens, \
         vocabulary {vocab}) with mean pooling and a 3-way head: neutral, promotional, campaigning.\n\
         {params} parameters{lexical_size}, stored as float16 ({mb:.1} MB of weights).\n\n\
         ## Training\n\n\
         {command}\
         {init}\
         {pretrain}\
         {train} training and {devn} dev examples; seed {seed}, {epochs} epochs max (early stopping, patience {pat}), \
         batch {bs} (length-bucketed), AdamW lr {lr} (warmup {wu}, linear decay), weight decay {wd}, \
         dropout {dp}, token dropout {td}, label smoothing {ls}, weight average (EMA) decay {ema}, \
         gradient clip {clip}, class weights {cw}. Best {dev}.\n\
         {lexical}\
         Per-epoch numbers are in `training.json`.\n\n\
         ## Evaluation\n\n{marker}\n",
        command = c
            .command
            .as_deref()
            .map(|cmd| format!("```sh\n{cmd}\n```\n\n"))
            .unwrap_or_default(),
        init = c
            .init
            .as_deref()
            .map(|m| format!("Fine-tuned from `{m}`. "))
            .unwrap_or_default(),
        pretrain = if c.pretrain_epochs() > 0 {
            format!(
                "Encoder pretrained as a masked language model for {} epochs on the training text{}. ",
                c.pretrain_epochs(),
                if report.unlabeled_texts > 0 {
                    format!(" and {} unlabeled posts", report.unlabeled_texts)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        },
        layers = cfg.num_hidden_layers,
        d = cfg.hidden_size,
        heads = cfg.num_attention_heads,
        ff = cfg.intermediate_size,
        len = cfg.max_position_embeddings,
        vocab = cfg.vocab_size,
        params = cfg.num_parameters(),
        lexical_size = match cfg.lexical_values() {
            0 => String::new(),
            n => format!(" and {n} in the lexical head"),
        },
        mb = (cfg.num_parameters() + cfg.lexical_values()) as f64 * 2.0 / 1e6,
        train = report.train_examples,
        devn = report.dev_examples,
        seed = c.seed,
        epochs = c.epochs,
        pat = c.patience,
        bs = c.batch_size,
        lr = c.learning_rate,
        wu = c.warmup_ratio,
        wd = c.weight_decay,
        dp = c.dropout,
        td = c.token_dropout,
        ls = c.label_smoothing,
        ema = c.ema_decay,
        clip = c.max_grad_norm,
        cw = c.class_weights,
        marker = CARD_EVAL_MARKER,
        lexical = report
            .lexical
            .as_ref()
            .map(|l| {
                format!(
                    "\nA lexical head beside the encoder: logistic regression (C {}, balanced labels) over \
                     hashed TF-IDF word 1–2-grams and character 2–5-grams ({} buckets per block, {} \
                     kept), fitted on the same {} rows; its logits join the encoder's with weight {} \
                     (chosen on dev: macro-F1 {:.4} alone, {:.4} with the encoder).\n",
                    l.options.c,
                    l.options.buckets,
                    l.kept_buckets,
                    l.train_rows,
                    l.weight,
                    l.dev_macro_f1_alone,
                    l.dev_macro_f1_at(l.weight)
                )
            })
            .unwrap_or_default(),
    )
}
