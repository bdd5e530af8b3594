//! Scorecard arithmetic and reason codes, checked by hand.

use finance_credit_native::{FinanceCredit, Scaling};
use indus_plugin_sdk::serde_json::json;
use indus_plugin_sdk::{Column, Plugin, Table};

#[test]
fn points_follow_the_points_to_double_the_odds_scaling() {
    let s = Scaling {
        base_points: 600.0,
        base_odds: 50.0,
        points_to_double_odds: 20.0,
    };
    // Odds 50:1 (p_bad = 1/51) earn the base points; doubling the odds adds 20.
    assert_eq!(s.points(1.0 / 51.0), 600);
    assert_eq!(s.points(1.0 / 101.0), 620);
    assert_eq!(s.points(1.0 / 26.0), 580);
    // Even odds: 600 - 20 * log2(50) = 487.1.
    assert_eq!(s.points(0.5), 487);
    assert!(s.points(0.99) < s.points(0.01));
}

#[test]
fn reasons_are_the_columns_pushing_towards_bad() {
    let plugin = FinanceCredit::new(&json!({"reasons": 2})).unwrap();
    let predictions = Table::from_columns(
        &vec![
            ("p:bad".into(), Column::F64(vec![0.8, 0.1])),
            (
                "attr:duration_in_month".into(),
                Column::F64(vec![0.20, -0.1]),
            ),
            ("attr:credit_history".into(), Column::F64(vec![0.05, 0.02])),
            ("attr:age_in_years".into(), Column::F64(vec![-0.3, -0.2])),
        ],
        2,
    )
    .unwrap();
    let out = plugin.postprocess(&predictions, &predictions).unwrap();
    assert_eq!(
        out[1].1,
        Column::Text(vec!["loan duration".into(), "credit history".into()])
    );
    assert_eq!(
        out[2].1,
        Column::Text(vec!["credit history".into(), String::new()])
    );
    assert!(FinanceCredit::new(&json!({"base_odds": -1})).is_err());
}

#[test]
fn policy_metrics_count_approvals_and_bad_risks_among_them() {
    let plugin = FinanceCredit::new(&json!(null)).unwrap();
    let text = |v: &[&str]| Column::Text(v.iter().map(|s| s.to_string()).collect());
    let decided = Table::from_columns(
        &vec![("label".into(), text(&["good", "good", "bad", "good"]))],
        4,
    )
    .unwrap();
    let truth = Table::from_columns(
        &vec![("label".into(), text(&["good", "bad", "bad", "good"]))],
        4,
    )
    .unwrap();
    let m = plugin.metrics(&decided, &truth).unwrap();
    assert_eq!(m[0], ("approval_rate".to_string(), 0.75));
    assert!((m[1].1 - 1.0 / 3.0).abs() < 1e-12, "{m:?}");
}

#[test]
fn affordability_columns_are_computed_from_amount_duration_rate_and_age() {
    let plugin = FinanceCredit::new(&json!({})).unwrap();
    let rows = Table::from_columns(
        &vec![
            ("credit_amount".into(), Column::F64(vec![1200.0, 5000.0])),
            ("duration_in_month".into(), Column::F64(vec![12.0, 0.0])),
            (
                "installment_rate_in_percentage_of_disposable_income".into(),
                Column::F64(vec![4.0, 2.0]),
            ),
            ("age_in_years".into(), Column::F64(vec![40.0, 16.0])),
        ],
        2,
    )
    .unwrap();
    let out = plugin.derive_features(&rows).unwrap();
    let col = |name: &str| match &out.iter().find(|(n, _)| n == name).unwrap().1 {
        Column::F64(v) => v.clone(),
        _ => panic!("{name} is not numeric"),
    };
    // 1200 over 12 months is 100 a month; at rate 4, an income of ~25.
    assert_eq!(col("log_monthly_payment")[0], 101f64.ln());
    assert_eq!(col("log_income_estimate")[0], 26f64.ln());
    assert_eq!(col("loan_years_per_age")[0], 1.0 / 40.0);
    // A zero duration counts as one month; an age under 18 as 18.
    assert_eq!(col("log_monthly_payment")[1], 5001f64.ln());
    assert_eq!(col("loan_years_per_age")[1], 0.0);
}
