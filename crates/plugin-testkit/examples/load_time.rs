//! Prints how long loading a native plugin takes in a fresh process: find
//! the file, dlopen, ABI check, configure. Used by benches/plugin_load.sh.
//!
//!   cargo run --release -p indus-plugin-testkit --example load_time -- PLUGIN_DIR NAME LIBRARY

use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, name, library] = args.as_slice() else {
        return Err("usage: load_time PLUGIN_DIR NAME LIBRARY".into());
    };
    let started = Instant::now();
    let path = indus_plugin::find_library(name, library, Path::new(dir))?;
    let found = started.elapsed();
    let plugin = indus_plugin::NativePlugin::load(name, &path, &serde_json::Value::Null)?;
    let loaded = started.elapsed();
    println!(
        "find_ms={:.3} total_ms={:.3} abi={}.{} path={}",
        found.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3,
        plugin.abi().0,
        plugin.abi().1,
        path.display()
    );
    Ok(())
}
