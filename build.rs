//! Rebuild when what the binary embeds changes: migrations, message templates, the console's
//! templates and its assets. The macros that embed them cannot see a file being added.
fn main() {
    for embedded in ["migrations", "message-templates", "templates", "assets"] {
        println!("cargo::rerun-if-changed={embedded}");
    }
}
