//! Choosing where tensors live: `cpu`, `cuda` or `cuda:N`.

use candle_core::Device;

use crate::error::{Error, Result};

/// Parses a device name. `cuda` needs the crate's `cuda` feature and a visible GPU; the error says which is missing.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = match spec.as_str() {
        "cuda" | "gpu" => 0,
        s => match s.strip_prefix("cuda:") {
            Some(n) => n.parse::<usize>().map_err(|_| {
                Error::Device(format!(
                    "{spec:?}: expected cuda:N with N a GPU number, e.g. cuda:0"
                ))
            })?,
            None => {
                return Err(Error::Device(format!(
                    "unknown device {spec:?}: use cpu, cuda or cuda:N"
                )))
            }
        },
    };
    cuda_device(ordinal)
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal)
        .map_err(|e| Error::Device(format!("cuda:{ordinal} is not available: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(ordinal: usize) -> Result<Device> {
    Err(Error::Device(format!(
        "cuda:{ordinal} was asked for, but this pantau was built without CUDA: rebuild with `cargo build --release --features cuda`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses() {
        assert!(parse_device("CPU").unwrap().is_cpu());
    }

    #[test]
    fn bad_specs_are_explained() {
        assert!(parse_device("tpu")
            .unwrap_err()
            .to_string()
            .contains("unknown device"));
        assert!(parse_device("cuda:x")
            .unwrap_err()
            .to_string()
            .contains("cuda:N"));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let e = parse_device("cuda:1").unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
    }
}
