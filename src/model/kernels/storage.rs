//! Views of candle's CPU storage as `f32` slices, and when the fused kernels apply at all.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, DType, Layout, Result, Tensor};

/// Whether the fused kernels can run for tensors of this device and dtype.
pub(crate) fn supported(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        bail!("{what}: fused CPU kernels need f32, got {:?}", s.dtype())
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: fused CPU kernels need a contiguous tensor"),
    }
}

pub(crate) fn f32_slice_mut<'a>(
    s: &'a mut CpuStorage,
    l: &Layout,
    what: &str,
) -> Result<&'a mut [f32]> {
    let dtype = s.dtype();
    let CpuStorage::F32(data) = s else {
        bail!("{what}: fused CPU kernels need f32, got {dtype:?}")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&mut data[a..b]),
        None => bail!("{what}: fused CPU kernels need a contiguous tensor"),
    }
}

/// Size of the last dimension: the row length the per-row kernels work on.
pub(crate) fn last_dim(l: &Layout) -> usize {
    l.dims().last().copied().unwrap_or(1)
}
