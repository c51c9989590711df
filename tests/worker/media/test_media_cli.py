from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.worker.media.conftest import MakeMedia, lavfi_av
from worker.media.cli import media_app

runner = CliRunner()


def test_probe_accepts_with_json(make_media: MakeMedia) -> None:
    src = make_media("cli-ok.mp4", *lavfi_av("320x240", 25, 1))
    result = runner.invoke(media_app, ["probe", str(src)])
    assert result.exit_code == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["video"]["display_width"] == 320
    assert described["audio"]["codec"] == "aac"


def test_probe_rejects_with_one_chinese_line(tmp_path: Path) -> None:
    fake = tmp_path / "lecture.mp4"
    fake.write_text("#EXTM3U\n#EXTINF:2,\nhttp://127.0.0.1:9/x.ts\n")
    result = runner.invoke(media_app, ["probe", str(fake)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "无法识别的文件格式" in lines[0]


def test_transcode_writes_ladder(make_media: MakeMedia, tmp_path: Path) -> None:
    src = make_media("cli-tr.mp4", *lavfi_av("320x240", 25, 3))
    result = runner.invoke(media_app, ["transcode", str(src), str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["renditions"] == ["240p", "a64k"]
    assert (tmp_path / "out" / "master.m3u8").is_file()


def test_transcode_rejects_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = runner.invoke(media_app, ["transcode", str(empty), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "文件为空" in result.stderr
    assert not (tmp_path / "out" / "master.m3u8").exists()


def test_module_entry_point(tmp_path: Path) -> None:
    zipped = tmp_path / "a.mp4"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    done = subprocess.run([sys.executable, "-m", "worker.media.cli", "probe", str(zipped)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and "无法识别" in done.stderr
