//! The `nightshift` command: a thin entry point over [`nightshift::run`].

fn main() {
    std::process::exit(nightshift::run(std::env::args_os()));
}
