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
        let mut y = model.forward(input, None);
        if y.dims()[1] != head.outputs() {
            // A model trained with auxiliary heads: `head` owns the first
            // columns.
            y = y.narrow(1, 0, head.outputs());
        }
        let y = head.activate(y);
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

/// A trained network (or an ensemble of networks of the same shape) ready
/// to answer requests.
pub struct Predictor {
    members: Vec<Loaded>,
    weights: Vec<MlpWeights>,
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
        Predictor::ensemble(std::slice::from_ref(weights), head, backend)
    }

    /// Builds networks whose activated outputs are averaged: probabilities
    /// for classifiers, values for regression and reconstruction.
    pub fn ensemble(
        members: &[MlpWeights],
        head: Head,
        backend: BackendKind,
    ) -> Result<Predictor, EngineError> {
        let Some(first) = members.first() else {
            return Err(EngineError::Shape(
                "an ensemble needs at least one network".into(),
            ));
        };
        for (i, weights) in members.iter().enumerate() {
            if weights.outputs() != head.outputs() {
                return Err(EngineError::Shape(format!(
                    "network {}: weights give {} outputs, the head needs {}",
                    i + 1,
                    weights.outputs(),
                    head.outputs()
                )));
            }
            if weights.inputs() != first.inputs() {
                return Err(EngineError::Shape(format!(
                    "network {} takes {} inputs, network 1 takes {}",
                    i + 1,
                    weights.inputs(),
                    first.inputs()
                )));
            }
        }
        crate::backend::probe(backend)?;
        crate::backend::check_convolutions(backend, !first.convs.is_empty())?;
        let build = |weights: &MlpWeights| match backend {
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
            members: members.iter().map(build).collect(),
            weights: members.to_vec(),
            head,
            inputs: first.inputs(),
        })
    }

    /// Inputs expected per row.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The weights of each network it averages (one unless an ensemble).
    pub fn members(&self) -> &[MlpWeights] {
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
        let one = |loaded: &Loaded| match loaded {
            Loaded::Flex(m) => forward_outputs(m, self.head, x, self.inputs, &Default::default()),
            Loaded::Ndarray(m) => {
                forward_outputs(m, self.head, x, self.inputs, &Default::default())
            }
            #[cfg(feature = "cuda")]
            Loaded::Cuda(m) => forward_outputs(m, self.head, x, self.inputs, &Default::default()),
        };
        let mut sum = one(&self.members[0]);
        if self.members.len() > 1 {
            for member in &self.members[1..] {
                for (s, v) in sum.iter_mut().zip(one(member)) {
                    *s += v;
                }
            }
            let n = self.members.len() as f32;
            sum.iter_mut().for_each(|s| *s /= n);
        }
        Ok(sum)
    }

    /// Integrated-gradient attributions of the averaged output: the mean of
    /// each network's (the gradient of a mean is the mean of gradients).
    pub fn integrated_gradients(
        &self,
        x: &[f32],
        classes: &[usize],
        steps: usize,
    ) -> Result<Vec<f32>, EngineError> {
        let mut sum =
            crate::explain::integrated_gradients(&self.weights[0], self.head, x, classes, steps)?;
        if self.weights.len() > 1 {
            for w in &self.weights[1..] {
                let a = crate::explain::integrated_gradients(w, self.head, x, classes, steps)?;
                for (s, v) in sum.iter_mut().zip(a) {
                    *s += v;
                }
            }
            let n = self.weights.len() as f32;
            sum.iter_mut().for_each(|s| *s /= n);
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::DenseWeights;
    use indus_spec::Activation;

    /// One input, no hidden layer, one sigmoid output: `sigmoid(w * x + b)`.
    fn logistic(w: f32, b: f32) -> MlpWeights {
        MlpWeights {
            hidden: Vec::new(),
            norms: Vec::new(),
            output: DenseWeights {
                inputs: 1,
                outputs: 1,
                weight: vec![w],
                bias: vec![b],
            },
            activation: Activation::Relu,
            embeddings: Vec::new(),
            convs: Vec::new(),
            image: None,
        }
    }

    #[test]
    fn an_ensemble_averages_its_members_probabilities() {
        let (a, b) = (logistic(2.0, 0.0), logistic(-1.0, 1.0));
        let x = [0.5f32, -3.0];
        let p = |w: &MlpWeights| {
            Predictor::new(w, Head::Binary, BackendKind::Flex)
                .unwrap()
                .predict(&x)
                .unwrap()
        };
        let both = Predictor::ensemble(&[a.clone(), b.clone()], Head::Binary, BackendKind::Flex)
            .unwrap()
            .predict(&x)
            .unwrap();
        let (pa, pb) = (p(&a), p(&b));
        for i in 0..2 {
            assert!(
                (both[i] - (pa[i] + pb[i]) / 2.0).abs() < 1e-6,
                "{both:?} {pa:?} {pb:?}"
            );
        }
        let wide = MlpWeights {
            output: DenseWeights {
                inputs: 1,
                outputs: 2,
                weight: vec![1.0, 1.0],
                bias: vec![0.0, 0.0],
            },
            ..a.clone()
        };
        assert!(Predictor::ensemble(&[a, wide], Head::Binary, BackendKind::Flex).is_err());
        assert!(Predictor::ensemble(&[], Head::Binary, BackendKind::Flex).is_err());
    }
}
