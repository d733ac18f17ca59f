//! The `cec` command line.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("cec is not runnable yet")
}
