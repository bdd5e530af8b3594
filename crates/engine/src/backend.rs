//! Choosing and probing compute backends. The CPU backends always work; CUDA
//! is only compiled with the `cuda` feature and is probed before use so a
//! machine without a GPU gets an error message instead of a panic.

use crate::EngineError;
use indus_spec::BackendKind;

/// The backend a job will actually run on, after probing and fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBackend {
    /// What the job runs on.
    pub kind: BackendKind,
    /// Set when the requested backend was replaced by the CPU default.
    pub fallback_reason: Option<String>,
}

/// Checks that `requested` can run here. With `fallback_to_cpu`, an
/// unavailable backend is replaced by `flex` and the reason is returned for
/// logging; otherwise it is an error.
pub fn resolve_backend(
    requested: BackendKind,
    fallback_to_cpu: bool,
) -> Result<ResolvedBackend, EngineError> {
    match probe(requested) {
        Ok(()) => Ok(ResolvedBackend {
            kind: requested,
            fallback_reason: None,
        }),
        Err(e) if fallback_to_cpu => Ok(ResolvedBackend {
            kind: BackendKind::Flex,
            fallback_reason: Some(e.to_string()),
        }),
        Err(e) => Err(e),
    }
}

/// Refuses convolution layers on `ndarray`: burn 0.21's ndarray
/// convolutions measured about 400 times slower than `flex` here (one epoch
/// of the BreastMNIST stem on 64 images: 280 s against 0.7 s), so a run
/// would seem to hang rather than fail.
pub(crate) fn check_convolutions(kind: BackendKind, convolutions: bool) -> Result<(), EngineError> {
    if convolutions && kind == BackendKind::Ndarray {
        return Err(EngineError::BackendUnavailable {
            backend: "ndarray",
            reason: "its convolutions run about 400 times slower than `flex` (280 s against 0.7 s for one epoch \
                     of the BreastMNIST stem on 64 images); use `backend: flex` (or `cuda`) for a model with `conv` layers"
                .into(),
        });
    }
    Ok(())
}

/// Succeeds when `kind` can run on this machine with this build.
pub fn probe(kind: BackendKind) -> Result<(), EngineError> {
    match kind {
        BackendKind::Flex | BackendKind::Ndarray => Ok(()),
        BackendKind::Cuda => probe_cuda(),
    }
}

#[cfg(not(feature = "cuda"))]
fn probe_cuda() -> Result<(), EngineError> {
    Err(EngineError::BackendUnavailable {
        backend: "cuda",
        reason: "this indus binary was built without the `cuda` feature; rebuild with `cargo build --release -p indus-cli --features cuda` \
                 or set `backend: flex` (or `fallback_to_cpu: true`) in the scenario"
            .into(),
    })
}

#[cfg(feature = "cuda")]
fn probe_cuda() -> Result<(), EngineError> {
    let unavailable = |reason: String| EngineError::BackendUnavailable {
        backend: "cuda",
        reason,
    };
    // SAFETY: these only try to dlopen the libraries and report presence.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(unavailable(
            "the NVIDIA driver library (libcuda.so) was not found; install the driver or add its folder to LD_LIBRARY_PATH".into(),
        ));
    }
    cudarc::driver::result::init()
        .map_err(|e| unavailable(format!("the CUDA driver did not initialise ({e:?})")))?;
    let count = cudarc::driver::result::device::get_count()
        .map_err(|e| unavailable(format!("cannot count GPUs ({e:?})")))?;
    if count < 1 {
        return Err(unavailable("the CUDA driver reports no GPU".into()));
    }
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(unavailable(
            "the CUDA runtime compiler (libnvrtc.so) was not found; install the CUDA toolkit's nvrtc or add its folder to LD_LIBRARY_PATH"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_backends_always_resolve() {
        assert_eq!(
            resolve_backend(BackendKind::Ndarray, false).unwrap().kind,
            BackendKind::Ndarray
        );
    }

    #[test]
    fn cuda_without_gpu_is_an_error_or_a_logged_fallback() {
        // On machines with a usable GPU and the feature this resolves to cuda; everywhere else
        // it must be a clean error, and a fallback when allowed.
        if probe(BackendKind::Cuda).is_err() {
            let err = resolve_backend(BackendKind::Cuda, false)
                .unwrap_err()
                .to_string();
            assert!(err.contains("cuda"), "{err}");
            let r = resolve_backend(BackendKind::Cuda, true).unwrap();
            assert_eq!(r.kind, BackendKind::Flex);
            assert!(r.fallback_reason.is_some());
        }
    }
}
