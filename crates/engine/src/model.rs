//! The shared MLP trunk as a burn module, its seeded initialisation, and the
//! conversion to and from backend-free [`MlpWeights`].

use crate::weights::{DenseWeights, MlpWeights, NormWeights};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use indus_spec::{Activation, Init, ModelSpec, Norm};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};

/// Hidden layers, optional layer norms, dropout and the output layer.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    hidden: Vec<Linear<B>>,
    norms: Vec<LayerNorm<B>>,
    output: Linear<B>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    dropout_rate: f64,
}

impl<B: Backend> Mlp<B> {
    /// A freshly initialised network. Weights come from `rng` (not from the
    /// backend's global generator) so the same seed gives the same network on
    /// every backend.
    pub fn init(
        spec: &ModelSpec,
        inputs: usize,
        outputs: usize,
        rng: &mut StdRng,
        device: &B::Device,
    ) -> Self {
        let mut widths = vec![inputs];
        widths.extend(spec.hidden.iter().map(|c| c.get()));
        let dense = |i: usize, o: usize, rng: &mut StdRng| {
            let limit = match spec.init {
                Init::GlorotUniform => (6.0 / (i + o) as f64).sqrt(),
                Init::HeUniform => (6.0 / i as f64).sqrt(),
            } as f32;
            DenseWeights {
                inputs: i,
                outputs: o,
                weight: (0..i * o)
                    .map(|_| rng.random_range(-limit..=limit))
                    .collect(),
                bias: vec![0.0; o],
            }
        };
        let hidden: Vec<DenseWeights> = widths.windows(2).map(|w| dense(w[0], w[1], rng)).collect();
        let output = dense(*widths.last().unwrap_or(&inputs), outputs, rng);
        let norms = match spec.norm {
            Norm::None => Vec::new(),
            Norm::Layer => hidden
                .iter()
                .map(|h| NormWeights {
                    gamma: vec![1.0; h.outputs],
                    beta: vec![0.0; h.outputs],
                })
                .collect(),
        };
        let weights = MlpWeights {
            hidden,
            norms,
            output,
            activation: spec.activation,
        };
        Self::from_weights(&weights, spec.dropout.get(), device)
    }

    /// Rebuilds a network from saved weights (dropout only matters in training).
    pub fn from_weights(w: &MlpWeights, dropout: f64, device: &B::Device) -> Self {
        let linear = |d: &DenseWeights| {
            let mut layer = LinearConfig::new(d.inputs, d.outputs).init::<B>(device);
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(d.weight.clone(), [d.inputs, d.outputs]),
                device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(d.bias.clone(), [d.outputs]),
                device,
            )));
            layer
        };
        let norms = w
            .norms
            .iter()
            .map(|n| {
                let mut norm = LayerNormConfig::new(n.gamma.len()).init::<B>(device);
                norm.gamma = Param::from_tensor(Tensor::from_data(
                    TensorData::new(n.gamma.clone(), [n.gamma.len()]),
                    device,
                ));
                norm.beta = Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(n.beta.clone(), [n.beta.len()]),
                    device,
                )));
                norm
            })
            .collect();
        Mlp {
            hidden: w.hidden.iter().map(linear).collect(),
            norms,
            output: linear(&w.output),
            dropout: DropoutConfig::new(dropout).init(),
            activation: w.activation,
            dropout_rate: dropout,
        }
    }

    /// Raw outputs (logits) for a batch `[rows, inputs]`. With `dropout_rng`
    /// (training), each dropout mask is drawn from a seed taken from it.
    pub fn forward(
        &self,
        mut x: Tensor<B, 2>,
        mut dropout_rng: Option<&mut StdRng>,
    ) -> Tensor<B, 2> {
        for (i, layer) in self.hidden.iter().enumerate() {
            x = layer.forward(x);
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            x = match self.activation {
                Activation::Relu => activation::relu(x),
                Activation::Gelu => activation::gelu(x),
                Activation::Tanh => activation::tanh(x),
                Activation::Sigmoid => activation::sigmoid(x),
            };
            if self.dropout_rate > 0.0
                && let Some(rng) = dropout_rng.as_deref_mut()
            {
                B::seed(&x.device(), rng.next_u64());
                x = self.dropout.forward(x);
            }
        }
        self.output.forward(x)
    }

    /// Copies the parameters out to host memory.
    pub fn to_weights(&self) -> MlpWeights {
        let values = |t: Tensor<B, 2>| {
            t.into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default()
        };
        let values1 = |t: Tensor<B, 1>| {
            t.into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default()
        };
        let dense = |l: &Linear<B>| {
            let [inputs, outputs] = l.weight.val().dims();
            DenseWeights {
                inputs,
                outputs,
                weight: values(l.weight.val()),
                bias: l
                    .bias
                    .as_ref()
                    .map(|b| values1(b.val()))
                    .unwrap_or_else(|| vec![0.0; outputs]),
            }
        };
        MlpWeights {
            hidden: self.hidden.iter().map(dense).collect(),
            norms: self
                .norms
                .iter()
                .map(|n| NormWeights {
                    gamma: values1(n.gamma.val()),
                    beta: n
                        .beta
                        .as_ref()
                        .map(|b| values1(b.val()))
                        .unwrap_or_else(|| vec![0.0; n.gamma.val().dims()[0]]),
                })
                .collect(),
            output: dense(&self.output),
            activation: self.activation,
        }
    }
}
