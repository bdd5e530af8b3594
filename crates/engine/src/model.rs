//! The shared MLP trunk as a burn module, its seeded initialisation, and the
//! conversion to and from backend-free [`MlpWeights`].

use crate::weights::{DenseWeights, EmbeddingWeights, MlpWeights, NormWeights};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use indus_spec::{Activation, Init, ModelSpec, Norm};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};

/// Size and place of one embedded input, for initialising its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingShape {
    /// Position of the index among a row's model inputs.
    pub position: usize,
    /// Rows of the table.
    pub rows: usize,
    /// Length of each vector.
    pub dim: usize,
}

/// Embedding tables, hidden layers, optional layer norms, dropout and the
/// output layer.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    embeddings: Vec<Param<Tensor<B, 2>>>,
    #[module(skip)]
    embedding_positions: Vec<usize>,
    #[module(skip)]
    plain_positions: Vec<usize>,
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
    /// `inputs` counts model inputs as they arrive (one index per
    /// embedded input); each table starts uniform in ±0.05 like Keras'.
    pub fn init(
        spec: &ModelSpec,
        inputs: usize,
        embeddings: &[EmbeddingShape],
        outputs: usize,
        rng: &mut StdRng,
        device: &B::Device,
    ) -> Self {
        let tables: Vec<EmbeddingWeights> = embeddings
            .iter()
            .map(|e| EmbeddingWeights {
                position: e.position,
                rows: e.rows,
                dim: e.dim,
                table: (0..e.rows * e.dim)
                    .map(|_| rng.random_range(-0.05f32..=0.05))
                    .collect(),
            })
            .collect();
        let first = inputs - embeddings.len() + embeddings.iter().map(|e| e.dim).sum::<usize>();
        let mut widths = vec![first];
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
            embeddings: tables,
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
        let embedding_positions: Vec<usize> = w.embeddings.iter().map(|e| e.position).collect();
        let plain_positions = (0..w.inputs())
            .filter(|p| !embedding_positions.contains(p))
            .collect();
        Mlp {
            embeddings: w
                .embeddings
                .iter()
                .map(|e| {
                    Param::from_tensor(Tensor::from_data(
                        TensorData::new(e.table.clone(), [e.rows, e.dim]),
                        device,
                    ))
                })
                .collect(),
            embedding_positions,
            plain_positions,
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
        if !self.embeddings.is_empty() {
            x = self.embed(x, dropout_rng.as_deref_mut());
        }
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

    /// Replaces each embedded input's index by its table row (with dropout
    /// in training), keeping the plain inputs in front.
    fn embed(&self, x: Tensor<B, 2>, mut dropout_rng: Option<&mut StdRng>) -> Tensor<B, 2> {
        let device = x.device();
        let [rows, _] = x.dims();
        let mut parts = Vec::with_capacity(self.embeddings.len() + 1);
        if !self.plain_positions.is_empty() {
            let plain: Vec<i64> = self.plain_positions.iter().map(|&p| p as i64).collect();
            let n = plain.len();
            parts.push(x.clone().select(
                1,
                Tensor::<B, 1, Int>::from_data(TensorData::new(plain, [n]), &device),
            ));
        }
        for (table, &position) in self.embeddings.iter().zip(&self.embedding_positions) {
            let table = table.val();
            let last = table.dims()[0] as i64 - 1;
            let ids = x
                .clone()
                .narrow(1, position, 1)
                .reshape([rows])
                .int()
                .clamp(0, last);
            let mut vectors = table.select(0, ids);
            if self.dropout_rate > 0.0
                && let Some(rng) = dropout_rng.as_deref_mut()
            {
                B::seed(&device, rng.next_u64());
                vectors = self.dropout.forward(vectors);
            }
            parts.push(vectors);
        }
        Tensor::cat(parts, 1)
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
            embeddings: self
                .embeddings
                .iter()
                .zip(&self.embedding_positions)
                .map(|(t, &position)| {
                    let [rows, dim] = t.val().dims();
                    EmbeddingWeights {
                        position,
                        rows,
                        dim,
                        table: values(t.val()),
                    }
                })
                .collect(),
        }
    }
}
