//! No input makes the engine panic: random values of every type stored
//! into columns of every type, wrong arities, unknown objects, bad bounds
//! and bogus row ids each end in `Ok` or a typed `Error` with a SQLSTATE.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Bound;

use memdb_engine::{
    Array, Column, Config, DataType, Database, IndexSpec, Interval, NumericTypmod, ScanRange, TableSchema, Value,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn data_type() -> impl Strategy<Value = DataType> {
    let scalar = prop_oneof![
        Just(DataType::Bool),
        Just(DataType::Int2),
        Just(DataType::Int4),
        Just(DataType::Int8),
        Just(DataType::Float4),
        Just(DataType::Float8),
        Just(DataType::Numeric(None)),
        Just(DataType::Numeric(Some(NumericTypmod { precision: 5, scale: 2 }))),
        Just(DataType::Text),
        Just(DataType::Varchar(Some(3))),
        Just(DataType::Char(2)),
        Just(DataType::Bytea),
        Just(DataType::Date),
        Just(DataType::Time),
        Just(DataType::Timestamp),
        Just(DataType::TimestampTz),
        Just(DataType::Interval),
        Just(DataType::Uuid),
        Just(DataType::Json),
        Just(DataType::Jsonb),
    ];
    prop_oneof![4 => scalar.clone(), 1 => scalar.prop_map(|t| DataType::Array(Box::new(t)))]
}

fn value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i16>().prop_map(Value::Int2),
        any::<i32>().prop_map(Value::Int4),
        any::<i64>().prop_map(Value::Int8),
        any::<f32>().prop_map(Value::Float4),
        any::<f64>().prop_map(Value::Float8),
        (any::<i64>(), 0u32..28).prop_map(|(m, s)| Value::Numeric(Decimal::new(m, s))),
        ".{0,12}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytea),
        any::<i32>().prop_map(Value::Date),
        any::<i64>().prop_map(Value::Time),
        any::<i64>().prop_map(Value::Timestamp),
        any::<i64>().prop_map(Value::TimestampTz),
        (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| Value::Interval(Interval {
            months,
            days,
            micros
        })),
        any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
        prop_oneof![Just("{\"a\": 1}".to_owned()), Just("[1, 2".to_owned()), ".{0,6}"].prop_map(Value::Json),
        Just(Value::Jsonb(Box::new(serde_json::json!({"k": [1, null]})))),
    ];
    prop_oneof![
        6 => scalar.clone(),
        1 => (data_type(), proptest::collection::vec(scalar, 0..3))
            .prop_map(|(element_type, elements)| Value::Array(Box::new(Array { element_type, elements }))),
    ]
}

fn check(result: Result<impl Sized, memdb_engine::Error>) {
    if let Err(e) = result {
        assert_eq!(e.sqlstate().len(), 5, "{e:?} has a SQLSTATE");
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(debug_assertions) { 96 } else { 512 }, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_values_into_random_columns_never_panic(
        types in proptest::collection::vec(data_type(), 1..4),
        rows in proptest::collection::vec(proptest::collection::vec(value(), 0..5), 1..12),
        probes in proptest::collection::vec((value(), any::<u64>()), 0..6),
    ) {
        let db = Database::open(Config::memory().with_gc_interval(None)).unwrap();
        let mut txn = db.begin().unwrap();
        let mut schema = TableSchema::new("t");
        for (i, ty) in types.iter().enumerate() {
            schema = schema.column(Column::new(format!("c{i}"), ty.clone()));
        }
        txn.create_table(schema.primary_key(["c0"])).unwrap();
        check(txn.create_index(IndexSpec::new("t", ["c0"]).named("t_hash").hash()));
        txn.commit().unwrap();

        let mut txn = db.begin().unwrap();
        let t = txn.table("t").unwrap();
        for row in rows {
            let r = txn.insert(&t, row);
            check(r);
            if txn.is_failed() {
                txn.rollback().unwrap();
                txn = db.begin().unwrap();
            }
        }
        for (probe, row_id) in probes {
            check(txn.get(&t, std::slice::from_ref(&probe)));
            check(txn.get(&t, &[probe.clone(), probe.clone()]));
            check(txn.index_lookup(&t, "t_hash", std::slice::from_ref(&probe)));
            check(txn.index_lookup(&t, "no_such_index", std::slice::from_ref(&probe)));
            check(txn.get_by_id(&t, row_id));
            let range = ScanRange::Index {
                index: "t_pkey".into(),
                lower: Bound::Excluded(vec![probe.clone()]),
                upper: Bound::Included(vec![probe.clone()]),
            };
            match txn.scan(&t, range, row_id % 2 == 0) {
                Ok(scan) => scan.for_each(check),
                Err(e) => check(Err::<(), _>(e)),
            }
            check(txn.update(&t, row_id, vec![probe.clone()]));
            check(txn.delete(&t, row_id));
            if txn.is_failed() {
                txn.rollback().unwrap();
                txn = db.begin().unwrap();
            }
        }
        check(txn.commit());
        db.gc();
    }
}
