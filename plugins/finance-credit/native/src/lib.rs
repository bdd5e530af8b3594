//! Native hooks of the `finance-credit` plugin. `derive_features` adds
//! three affordability columns (monthly payment, an income estimate from the
//! instalment rate, loan length against age) that a small network does not
//! find from 1,000 rows by itself. `postprocess` turns the
//! model's probability of a bad risk into scorecard points (the usual
//! "points to double the odds" scaling, configurable in `plugin.yaml`) and
//! names the top reasons behind each applicant's risk: the columns whose
//! integrated-gradient attribution pushed the probability of `bad` up most.
//! `metrics` adds the approval rate and the bad rate among approved
//! applicants to every evaluation.

use indus_plugin_sdk::serde_json::Value;
use indus_plugin_sdk::{Column, Columns, Plugin, Table, export_plugin};

/// Scorecard scaling: `base_points` at odds (good:bad) of `base_odds`, and
/// `points_to_double_odds` more points each time the odds double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// Points at the base odds.
    pub base_points: f64,
    /// Good:bad odds that earn the base points.
    pub base_odds: f64,
    /// Points that double the odds (PDO).
    pub points_to_double_odds: f64,
}

impl Scaling {
    /// Scorecard points for a probability of default `p_bad`, rounded.
    pub fn points(&self, p_bad: f64) -> i64 {
        let p = p_bad.clamp(1e-6, 1.0 - 1e-6);
        let factor = self.points_to_double_odds / std::f64::consts::LN_2;
        let offset = self.base_points - factor * self.base_odds.ln();
        (offset + factor * ((1.0 - p) / p).ln()).round() as i64
    }
}

/// The plugin: scaling and how many reasons to give.
pub struct FinanceCredit {
    scaling: Scaling,
    reasons: usize,
}

fn number(config: &Value, key: &str, default: f64) -> Result<f64, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| format!("config `{key}` must be a positive number, got {v}")),
    }
}

/// Plain-language reason for a column pushing towards a bad risk.
fn reason(column: &str) -> String {
    let text = match column {
        "status_of_existing_checking_account" => "checking account status",
        "duration_in_month" => "loan duration",
        "credit_history" => "credit history",
        "purpose" => "purpose of the loan",
        "credit_amount" => "amount requested",
        "savings_account_and_bonds" => "savings",
        "present_employment_since" => "time in current employment",
        "installment_rate_in_percentage_of_disposable_income" => "instalment share of income",
        "personal_status_and_sex" => "personal status",
        "other_debtors_or_guarantors" => "guarantors",
        "present_residence_since" => "time at current residence",
        "property" => "property owned",
        "age_in_years" => "age",
        "other_installment_plans" => "other instalment plans",
        "housing" => "housing",
        "number_of_existing_credits_at_this_bank" => "existing credits at this bank",
        "job" => "employment type",
        "number_of_people_being_liable_to_provide_maintenance_for" => "dependants",
        "telephone" => "telephone on record",
        "foreign_worker" => "foreign worker status",
        "log_monthly_payment" => "monthly payment",
        "log_income_estimate" => "income implied by the instalment rate",
        "loan_years_per_age" => "loan length for the applicant's age",
        other => other,
    };
    text.to_string()
}

impl Plugin for FinanceCredit {
    fn new(config: &Value) -> Result<Self, String> {
        let scaling = Scaling {
            base_points: number(config, "base_points", 600.0)?,
            base_odds: number(config, "base_odds", 50.0)?,
            points_to_double_odds: number(config, "points_to_double_odds", 20.0)?,
        };
        let reasons = number(config, "reasons", 3.0)? as usize;
        Ok(FinanceCredit { scaling, reasons })
    }

    fn derive_features(&self, rows: &Table) -> Result<Columns, String> {
        let amount = rows.f64("credit_amount")?;
        let months = rows.f64("duration_in_month")?;
        let age = rows.f64("age_in_years")?;
        let rate = rows.f64("installment_rate_in_percentage_of_disposable_income")?;
        let per_month: Vec<f64> = amount
            .iter()
            .zip(&months)
            .map(|(a, m)| (a / m.max(1.0)).ln_1p())
            .collect();
        // The instalment rate is a share of disposable income (1-4): the
        // monthly payment divided by it estimates that income.
        let income: Vec<f64> = amount
            .iter()
            .zip(&months)
            .zip(&rate)
            .map(|((a, m), r)| (a / m.max(1.0) / r.max(1.0)).ln_1p())
            .collect();
        let years_to_repay_per_age: Vec<f64> = months
            .iter()
            .zip(&age)
            .map(|(m, a)| m / 12.0 / a.max(18.0))
            .collect();
        Ok(vec![
            ("log_monthly_payment".into(), Column::F64(per_month)),
            ("log_income_estimate".into(), Column::F64(income)),
            (
                "loan_years_per_age".into(),
                Column::F64(years_to_repay_per_age),
            ),
        ])
    }

    fn postprocess(&self, predictions: &Table, _rows: &Table) -> Result<Columns, String> {
        let p_bad = predictions.f64("p:bad")?;
        let points: Vec<i64> = p_bad.iter().map(|&p| self.scaling.points(p)).collect();
        let attributions: Vec<(String, Vec<f64>)> = predictions
            .names()
            .into_iter()
            .filter_map(|n| n.strip_prefix("attr:").map(str::to_string))
            .map(|c| predictions.f64(&format!("attr:{c}")).map(|v| (c, v)))
            .collect::<Result<_, _>>()?;
        let mut columns: Columns = vec![("score_points".into(), Column::I64(points))];
        for k in 0..self.reasons {
            let texts = (0..predictions.len())
                .map(|row| {
                    let mut up: Vec<(&str, f64)> = attributions
                        .iter()
                        .map(|(c, v)| (c.as_str(), v[row]))
                        .filter(|(_, v)| *v > 0.0)
                        .collect();
                    up.sort_by(|a, b| b.1.total_cmp(&a.1));
                    up.get(k).map(|(c, _)| reason(c)).unwrap_or_default()
                })
                .collect();
            columns.push((format!("reason_{}", k + 1), Column::Text(texts)));
        }
        Ok(columns)
    }

    /// Credit-policy numbers at the served decision threshold: the share of
    /// applicants approved (decided `good`) and the share of bad risks among
    /// them — what a credit committee reads first.
    fn metrics(&self, predictions: &Table, truth: &Table) -> Result<Vec<(String, f64)>, String> {
        let decided = predictions.text("label")?;
        let actual = truth.text("label")?;
        let good = Some("good".to_string());
        let bad = Some("bad".to_string());
        let approved = decided.iter().filter(|d| **d == good).count();
        let bad_approved = decided
            .iter()
            .zip(&actual)
            .filter(|(d, a)| **d == good && **a == bad)
            .count();
        let n = decided.len().max(1) as f64;
        Ok(vec![
            ("approval_rate".into(), approved as f64 / n),
            (
                "bad_rate_among_approved".into(),
                if approved == 0 {
                    0.0
                } else {
                    bad_approved as f64 / approved as f64
                },
            ),
        ])
    }
}

export_plugin!("finance-credit", FinanceCredit);
