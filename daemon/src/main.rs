//! The `cecd` binary: parse flags, open the data directory, run the node.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("cecd is not runnable yet")
}
