//! Integrated gradients: how much each model input moved one output away
//! from an all-zero baseline. With inputs standardised on training rows,
//! zero is the "average applicant", an absent category or a black pixel, so
//! the attributions answer "what about this row made the difference".

use crate::EngineError;
use crate::head::Head;
use crate::model::Mlp;
use crate::weights::MlpWeights;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};

type Grad = Autodiff<Flex>;

/// Attributions of `rows` preprocessed rows (`x`, row-major) towards the
/// probability of `classes[i]` for row `i`. Row-major like `x`; each row's
/// attributions sum to (about) `p(x) - p(baseline)` — the completeness
/// property of integrated gradients, closer the more `steps`.
pub fn integrated_gradients(
    weights: &MlpWeights,
    head: Head,
    x: &[f32],
    classes: &[usize],
    steps: usize,
) -> Result<Vec<f32>, EngineError> {
    let width = weights.inputs();
    let rows = classes.len();
    if width == 0 || x.len() != rows * width {
        return Err(EngineError::Shape(format!(
            "{} values are not {rows} rows of {width}",
            x.len()
        )));
    }
    let outputs = head.outputs();
    let classes_out = match head {
        Head::Binary => 2,
        _ => outputs,
    };
    if let Some(bad) = classes.iter().find(|&&c| c >= classes_out) {
        return Err(EngineError::Shape(format!(
            "output {bad} does not exist (the head has {classes_out})"
        )));
    }
    let steps = steps.max(1);
    let device = Default::default();
    let model: Mlp<Grad> = Mlp::from_weights(weights, 0.0, &device);
    // Midpoint rule over the straight path from 0 to x: step k scales x by
    // (k + 0.5) / steps.
    let mut path = Vec::with_capacity(rows * steps * width);
    let mut pick = vec![0.0f32; rows * steps * outputs];
    for (r, row) in x.chunks_exact(width).enumerate() {
        for k in 0..steps {
            let alpha = (k as f32 + 0.5) / steps as f32;
            path.extend(row.iter().map(|v| v * alpha));
            let at = (r * steps + k) * outputs;
            match head {
                // One sigmoid column: class 1 is p, class 0 is 1 - p, whose
                // gradient is the negated one.
                Head::Binary => pick[at] = if classes[r] == 1 { 1.0 } else { -1.0 },
                _ => pick[at + classes[r]] = 1.0,
            }
        }
    }
    let input = Tensor::<Grad, 2>::from_data(TensorData::new(path, [rows * steps, width]), &device)
        .require_grad();
    let pick =
        Tensor::<Grad, 2>::from_data(TensorData::new(pick, [rows * steps, outputs]), &device);
    let chosen = (head.activate(model.forward(input.clone(), None)) * pick).sum();
    let grads = chosen.backward();
    let gradient = input
        .grad(&grads)
        .ok_or_else(|| EngineError::Shape("no gradient reached the inputs".into()))?
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| EngineError::Shape(format!("gradient read-back failed: {e:?}")))?;
    let mut out = vec![0.0f32; rows * width];
    for r in 0..rows {
        for k in 0..steps {
            let g = &gradient[(r * steps + k) * width..(r * steps + k + 1) * width];
            for (o, gi) in out[r * width..(r + 1) * width].iter_mut().zip(g) {
                *o += gi;
            }
        }
        for (o, xi) in out[r * width..(r + 1) * width]
            .iter_mut()
            .zip(&x[r * width..(r + 1) * width])
        {
            *o *= xi / steps as f32;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::Predictor;
    use crate::weights::DenseWeights;
    use indus_spec::{Activation, BackendKind};

    /// A small tanh network with fixed, varied weights.
    fn model(head: Head, inputs: usize) -> MlpWeights {
        let dense = |i: usize, o: usize, salt: f32| DenseWeights {
            inputs: i,
            outputs: o,
            weight: (0..i * o)
                .map(|k| ((k as f32 + salt) * 0.618).sin() * 0.9)
                .collect(),
            bias: (0..o)
                .map(|k| ((k as f32 + salt) * 1.3).cos() * 0.1)
                .collect(),
        };
        MlpWeights {
            hidden: vec![dense(inputs, 8, 1.0), dense(8, 4, 2.0)],
            norms: vec![],
            output: dense(4, head.outputs(), 3.0),
            activation: Activation::Tanh,
            embeddings: vec![],
            convs: Vec::new(),
            image: None,
        }
    }

    /// Completeness: attributions add up to the change of the explained
    /// probability between the baseline and the row.
    #[test]
    fn attributions_add_up_to_the_change_in_probability() {
        for head in [Head::Multiclass { classes: 3 }, Head::Binary] {
            let w = model(head, 5);
            let x = vec![0.8, -1.2, 0.3, 2.0, -0.5, 1.1, 0.0, -0.7, 0.4, 0.9];
            let classes = [1usize, 0];
            let attr = integrated_gradients(&w, head, &x, &classes, 256).unwrap();
            let predictor = Predictor::new(&w, head, BackendKind::Flex).unwrap();
            let at = predictor.predict(&x).unwrap();
            let base = predictor.predict(&[0.0; 10]).unwrap();
            for r in 0..2 {
                let p = |v: &[f32]| match head {
                    Head::Binary if classes[r] == 0 => 1.0 - v[r],
                    Head::Binary => v[r],
                    _ => v[r * 3 + classes[r]],
                };
                let total: f32 = attr[r * 5..(r + 1) * 5].iter().sum();
                let change = p(&at) - p(&base);
                assert!(
                    (total - change).abs() < 2e-3,
                    "{head:?} row {r}: attributions sum to {total}, probability moved {change}"
                );
            }
        }
    }

    #[test]
    fn an_input_at_the_baseline_gets_no_attribution() {
        let head = Head::Multiclass { classes: 3 };
        let w = model(head, 4);
        let attr = integrated_gradients(&w, head, &[1.0, 0.0, -2.0, 0.0], &[2], 16).unwrap();
        assert_eq!(attr[1], 0.0);
        assert_eq!(attr[3], 0.0);
        assert!(attr[0] != 0.0 && attr[2] != 0.0);
    }

    #[test]
    fn an_unknown_output_is_refused() {
        let head = Head::Binary;
        let w = model(head, 2);
        assert!(integrated_gradients(&w, head, &[1.0, 2.0], &[2], 4).is_err());
    }
}
