//! Rebuilds this crate, and so every crate with queries (they all depend on it), when a
//! migration or the query data in `.sqlx/` changes. `sqlx::migrate!` and the query macros read
//! those files, but cargo on stable Rust does not see what a proc macro reads: without this, a
//! new migration would not be embedded and regenerated query data would not be checked until
//! some source file changed.

fn main() {
    println!("cargo::rerun-if-changed=../migrations");
    println!("cargo::rerun-if-changed=../.sqlx");
}
