//! Resident memory per key for 1,000,000 keys (16-byte keys, 32-byte
//! values) written through the embedded key-value API:
//! `cargo run --release -p memdb-engine --example kv_memory`.

use memdb_engine::{Config, Database, resident_memory};

fn main() -> Result<(), memdb_engine::Error> {
    let db = Database::open(Config::memory())?;
    let kv = db.kv();
    let before = resident_memory();
    let value = [b'v'; 32];
    for i in 0..1_000_000u64 {
        kv.set(format!("key:{i:012}").as_bytes(), &value, None)?;
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after = resident_memory();
    println!("{} keys, {} bytes per key (resident set growth)", kv.len(), (after - before) / 1_000_000);
    Ok(())
}
