//! Rebuild when migrations or message templates change: both are embedded in the binary, and
//! the macros that embed them cannot see a file being added.
fn main() {
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-changed=message-templates");
}
