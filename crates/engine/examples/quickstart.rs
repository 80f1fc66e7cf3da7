//! A tour of the embedded engine: create a table, load rows, read them back
//! by key and by index, and show what snapshot isolation does.

use memdb_engine::{Column, Config, DataType, Database, IndexSpec, ScanRange, TableSchema, Value};

fn main() -> Result<(), memdb_engine::Error> {
    let db = Database::open(Config::memory())?;
    let mut txn = db.begin()?;
    txn.create_table(
        TableSchema::new("cities")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("name", DataType::Text).not_null())
            .column(Column::new("population", DataType::Int8))
            .primary_key(["id"]),
    )?;
    let by_population = txn.create_index(IndexSpec::new("cities", ["population"]))?;
    let cities = txn.table("cities")?;
    for (id, name, population) in [(1, "Lisbon", 545_000), (2, "Porto", 232_000), (3, "Braga", 193_000)] {
        txn.insert(&cities, vec![Value::Int8(id), name.into(), Value::Int8(population)])?;
    }
    txn.commit()?;

    let mut reader = db.begin()?;
    let mut writer = db.begin()?;
    let cities = writer.table("cities")?;
    writer.delete_by_key(&cities, &[Value::Int8(1)])?;
    writer.commit()?;

    let cities = reader.table("cities")?;
    println!("the reader's snapshot still has Lisbon: {:?}", reader.get(&cities, &[Value::Int8(1)])?.map(|r| r.values));
    println!("cities by population, largest first:");
    for row in reader.scan(
        &cities,
        ScanRange::Index { index: by_population, lower: std::ops::Bound::Unbounded, upper: std::ops::Bound::Unbounded },
        true,
    )? {
        let row = row?;
        println!("  {} {}", row.values[1], row.values[2]);
    }
    reader.commit()?;
    Ok(())
}
