//! Inference: a trained network rebuilt on a backend, answering batches of
//! preprocessed rows with activated head outputs.

use crate::EngineError;
use crate::head::Head;
use crate::model::Mlp;
use crate::weights::MlpWeights;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use indus_spec::BackendKind;

/// Rows per forward pass when predicting many rows (bounds peak memory).
const CHUNK_ROWS: usize = 8192;

/// Runs `model` over row-major `x` and returns activated outputs, row-major.
pub(crate) fn forward_outputs<B: Backend>(
    model: &Mlp<B>,
    head: Head,
    x: &[f32],
    width: usize,
    device: &B::Device,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / width.max(1) * head.outputs());
    for chunk in x.chunks(CHUNK_ROWS * width) {
        let rows = chunk.len() / width;
        let input =
            Tensor::<B, 2>::from_data(TensorData::new(chunk.to_vec(), [rows, width]), device);
        let y = head.activate(model.forward(input, None));
        out.extend(
            y.into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default(),
        );
    }
    out
}

enum Loaded {
    Flex(Mlp<burn::backend::Flex>),
    Ndarray(Mlp<burn::backend::NdArray>),
    #[cfg(feature = "cuda")]
    Cuda(Mlp<burn::backend::Cuda>),
}

/// A trained network ready to answer requests.
pub struct Predictor {
    loaded: Loaded,
    weights: MlpWeights,
    head: Head,
    inputs: usize,
}

impl Predictor {
    /// Builds the network from `weights` on `backend` (probed first).
    pub fn new(
        weights: &MlpWeights,
        head: Head,
        backend: BackendKind,
    ) -> Result<Predictor, EngineError> {
        if weights.outputs() != head.outputs() {
            return Err(EngineError::Shape(format!(
                "weights give {} outputs, the head needs {}",
                weights.outputs(),
                head.outputs()
            )));
        }
        crate::backend::probe(backend)?;
        let loaded = match backend {
            BackendKind::Flex => Loaded::Flex(Mlp::from_weights(weights, 0.0, &Default::default())),
            BackendKind::Ndarray => {
                Loaded::Ndarray(Mlp::from_weights(weights, 0.0, &Default::default()))
            }
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Loaded::Cuda(Mlp::from_weights(weights, 0.0, &Default::default())),
            #[cfg(not(feature = "cuda"))]
            BackendKind::Cuda => unreachable!("probe rejects cuda without the feature"),
        };
        Ok(Predictor {
            loaded,
            weights: weights.clone(),
            head,
            inputs: weights.inputs(),
        })
    }

    /// Inputs expected per row.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The weights it was built from (explanations rebuild the network on
    /// an autodiff backend from them).
    pub fn weights(&self) -> &MlpWeights {
        &self.weights
    }

    /// The head this predictor answers for.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Activated outputs (`rows × head.outputs()`) for preprocessed rows.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f32>, EngineError> {
        if self.inputs == 0 || !x.len().is_multiple_of(self.inputs) {
            return Err(EngineError::Shape(format!(
                "{} values do not split into rows of {}",
                x.len(),
                self.inputs
            )));
        }
        Ok(match &self.loaded {
            Loaded::Flex(m) => forward_outputs(m, self.head, x, self.inputs, &Default::default()),
            Loaded::Ndarray(m) => {
                forward_outputs(m, self.head, x, self.inputs, &Default::default())
            }
            #[cfg(feature = "cuda")]
            Loaded::Cuda(m) => forward_outputs(m, self.head, x, self.inputs, &Default::default()),
        })
    }
}
