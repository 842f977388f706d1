//! Compiles `proto/*.proto` with protox (pure Rust; no protoc on the build machine) and
//! generates the tonic/prost code from the descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["raft.proto", "broker.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    let fds = protox::compile(files, [&dir])?;
    tonic_prost_build::configure().bytes(".").compile_fds(fds)?;
    Ok(())
}
