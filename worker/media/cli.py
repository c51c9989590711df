"""`jiangtang media …`: the probe and the local transcode from the command line.

Exit status 2 with a one-line Chinese reason on stderr means the input was rejected.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import typer

from worker.media import run
from worker.media.pipeline import transcode_to_dir
from worker.media.probe import probe as probe_file
from worker.media.types import MediaRejected

REJECTED_EXIT = 2

media_app = typer.Typer(help="媒体探测与本地转码", no_args_is_help=True, add_completion=False)


def _reject(exc: MediaRejected) -> typer.Exit:
    typer.echo(exc.reason_zh, err=True)
    return typer.Exit(REJECTED_EXIT)


@media_app.command("probe")
def probe_command(path: Path) -> None:
    """Print the JSON description of PATH if it would be accepted."""
    if not path.is_file():
        typer.echo("文件不存在", err=True)
        raise typer.Exit(REJECTED_EXIT)
    # ffmpeg only ever sees a name we chose; a link avoids copying a large file just to probe it.
    with tempfile.TemporaryDirectory(prefix="jiangtang-probe-") as work:
        private = Path(work) / "source"
        private.symlink_to(path.resolve())
        try:
            info = probe_file(private)
        except MediaRejected as exc:
            raise _reject(exc) from None
    typer.echo(json.dumps(info.to_json(), ensure_ascii=False))


@media_app.command("transcode")
def transcode_command(path: Path, outdir: Path) -> None:
    """Write the HLS ladder (master.m3u8, renditions, poster, sprite) for PATH to OUTDIR."""
    if not path.is_file():
        typer.echo("文件不存在", err=True)
        raise typer.Exit(REJECTED_EXIT)

    def report(progress: run.Progress) -> None:
        if progress.percent is not None:
            eta = f"，剩余约 {progress.eta_s:.0f} 秒" if progress.eta_s is not None else ""
            print(f"\r转码 {progress.percent:5.1f}%{eta}   ", end="", file=sys.stderr, flush=True)

    try:
        result = transcode_to_dir(path, outdir, ffmpeg=run.default_ffmpeg(), on_progress=report)
    except MediaRejected as exc:
        print(file=sys.stderr)
        raise _reject(exc) from None
    print(file=sys.stderr)
    summary = {
        "duration_s": result.duration_s,
        "master": result.master,
        "renditions": [r.name for r in result.renditions],
        "poster": result.poster,
        "sprite": result.sprite,
        "sprite_vtt": result.sprite_vtt,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    media_app()
