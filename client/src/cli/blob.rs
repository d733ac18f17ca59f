//! `cec blob put|get`, and uploading evidence files with a progress bar.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cec_client::wire::BlobJson;

use super::Ctx;
use super::output::{self, outln};

#[derive(Debug, Subcommand)]
pub(crate) enum BlobCmd {
    /// Store a file; prints its SHA-256, which portfolio entries cite as evidence
    Put {
        /// The file
        file: PathBuf,
    },
    /// Fetch a stored file by its SHA-256
    Get {
        /// The SHA-256 (hex)
        sha256: String,
        /// Where to write it (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub(crate) async fn run(ctx: &Ctx, cmd: BlobCmd) -> anyhow::Result<()> {
    match cmd {
        BlobCmd::Put { file } => {
            let blob = upload(ctx, &file).await?;
            ctx.emit(&blob, |b| {
                outln!("{} ({} bytes)", b.sha256, b.size);
                Ok(())
            })
        }
        BlobCmd::Get { sha256, output: Some(path) } if path.as_os_str() != "-" => {
            let n = ctx.client.get_blob_to_file(&sha256, &path).await?;
            eprintln!("wrote {} ({n} bytes)", path.display());
            Ok(())
        }
        BlobCmd::Get { sha256, .. } => {
            let bytes = ctx.client.get_blob(&sha256).await?;
            output::write_report(None, &bytes, false)
        }
    }
}

/// Uploads a file as a blob, with a progress bar on stderr (hidden with `--json`).
pub(crate) async fn upload(ctx: &Ctx, path: &Path) -> anyhow::Result<BlobJson> {
    let bar = ProgressBar::new(0);
    if ctx.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")?.progress_chars("=> "),
    );
    bar.set_message(format!("uploading {name}"));
    let progress = {
        let bar = bar.clone();
        Arc::new(move |sent: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(sent);
        })
    };
    let result = ctx.client.put_blob_file(path, Some(progress)).await;
    match &result {
        Ok(_) => bar.finish_and_clear(),
        Err(_) => bar.abandon(),
    }
    Ok(result?)
}
