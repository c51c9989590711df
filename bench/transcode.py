"""Transcode benchmark: our single-decode ladder vs PeerTube-style one process per rung.

    python bench/transcode.py

Source: a generated 120 s 1080p30 lecture (static slides whose text changes every 20 s, a small
moving talking-head inset, speech-like audio). Prints per-rung bitrate and VMAF against the
source, wall times and their ratio (each contender timed twice, interleaved: see `timed_runs`),
the CPU seconds and their ratio (the work apart from how busy each side keeps the cores), time
to first playable for a 10-minute source, and our overhead against running our own ffmpeg
argv by hand. Last line: one JSON object.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import m3u8

from worker.media import run
from worker.media.ladder import Rendition, build_ladder
from worker.media.pipeline import transcode_to_dir

SECONDS = 120
LONG_SECONDS = 600
VMAF_SUBSAMPLE = 6
AUDIO_KBPS = 96
TIMING_ORDER = ("ours", "hand", "baseline", "baseline", "hand", "ours")


def ffmpeg_run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stderr


def generate_source(ffmpeg: str, out: Path, seconds: int) -> None:
    page = r"%{eif\:trunc(t/20)+1\:d}"
    text = "drawtext=font=DejaVu Sans:fontcolor=0x1f2f4f"
    slide = ",".join(
        [f"{text}:fontsize=72:x=120:y=90:text='Lecture {page} - Workplace Safety and Rights'"]
        + [
            f"{text}:fontsize=46:x=160:y={260 + 110 * line}:"
            f"text='{line + 1}. Key point {line + 1} of section {page}\\: rules, duties and examples'"
            for line in range(6)
        ]
        + [f"{text}:fontsize=30:x=1700:y=1020:text='{page} / 6'"]
    )
    graph = (
        f"color=c=0xf4f1ea:s=1920x1080:r=30:d={seconds},{slide}[slides];"
        f"testsrc2=s=320x240:r=30:d={seconds},hue=s=0.4[head];"
        "[slides][head]overlay=x=W-w-80+30*sin(t/3):y=H-h-120+12*sin(t/2)[v];"
        f"aevalsrc='0.5*sin(2*PI*(150+40*sin(2*PI*0.7*t))*t)*(0.5+0.5*sin(2*PI*3.3*t))"
        f"*gt(sin(2*PI*0.23*t),-0.7)':s=48000:d={seconds}[a]"
    )
    ffmpeg_run([
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-g", "60", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", str(out),
    ])


def baseline(ffmpeg: str, src: Path, outdir: Path, rungs: list[Rendition]) -> None:
    """PeerTube's approach: one ffmpeg per resolution, run one after another."""
    for rung in rungs:
        (outdir / rung.name).mkdir(parents=True)
        ffmpeg_run([
            ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", str(src),
            "-vf", f"scale=w={rung.width}:h={rung.height}", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "23", "-maxrate", f"{rung.video_kbps}k", "-bufsize", f"{rung.video_kbps * 2}k",
            "-g", str(round(2 * rung.fps)), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k",
            "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_segment_filename", f"{rung.name}/seg_%05d.m4s", f"{rung.name}/index.m3u8",
        ], cwd=outdir)


def joined(rung_dir: Path) -> Path:
    playlist = m3u8.loads((rung_dir / "index.m3u8").read_text())
    out = rung_dir.with_name(rung_dir.name + "-joined.mp4")
    with out.open("wb") as f:
        f.write((rung_dir / "init.mp4").read_bytes())
        for segment in playlist.segments:
            f.write((rung_dir / segment.uri).read_bytes())
    return out


def video_kbps(rung_dir: Path) -> float:
    with av.open(str(joined(rung_dir))) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        size = sum(p.size for p in packets)
        pts = [p.pts for p in packets if p.pts is not None]
        seconds = float((max(pts) - min(pts)) * stream.time_base) + 1 / 30
    return size * 8 / seconds / 1000


def vmaf(ffmpeg: str, rung_dir: Path, src: Path) -> float:
    graph = (
        "[0:v]scale=1920:1080:flags=bicubic,setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[r];"
        f"[d][r]libvmaf=n_subsample={VMAF_SUBSAMPLE}:n_threads=2"
    )
    log = ffmpeg_run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(joined(rung_dir)), "-i", str(src),
                      "-lavfi", graph, "-f", "null", "-"])
    found = re.search(r"VMAF score: ([\d.]+)", log)
    if found is None:
        raise RuntimeError(log[-1000:])
    return float(found.group(1))


def first_playable(ffmpeg: str, src: Path, work: Path) -> float:
    """Seconds from 'upload complete' (file on local disk) to the lowest rung's first playlist."""
    long_src = work / "long.mp4"
    listing = work / "long.txt"
    listing.write_text("".join(f"file '{src}'\n" for _ in range(LONG_SECONDS // SECONDS)))
    ffmpeg_run([ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                "-c", "copy", str(long_src)])
    outdir = work / "long-out"
    cancel = threading.Event()
    lowest: list[str] = []
    errors: list[BaseException] = []

    def work_thread() -> None:
        try:
            transcode_to_dir(long_src, outdir, ffmpeg=ffmpeg, cancel=cancel,
                             on_probed=lambda _info, rungs: lowest.append(rungs[0].name))
        except run.ProcessCancelled:
            pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=work_thread)
    thread.start()
    playable = None
    while thread.is_alive() and time.monotonic() - started < 120:
        if lowest and (outdir / lowest[0] / "index.m3u8").exists():
            playable = time.monotonic() - started
            break
        thread.join(0.02)
    cancel.set()
    thread.join()
    if errors or playable is None:
        raise RuntimeError(f"no playable rung: {errors}")
    return playable


def by_hand(argv: list[str], src: Path, work: Path) -> None:
    """Our own argv run directly, with only the copy of the source it expects."""
    work.mkdir(parents=True)
    private = work / "source"
    shutil.copyfile(src, private)
    source_arg = next(a for a in argv if a.startswith("file:"))
    outdir = work / "out"
    # Rung directories, from plain HLS outputs or tee slaves ("[...]360p/index.m3u8|...").
    for name in {name for a in argv for name in re.findall(r"([\w-]+)/index\.m3u8", a)}:
        (outdir / name).mkdir(parents=True)
    ffmpeg_run([f"file:{private}" if a == source_arg else a for a in argv], cwd=outdir)


def children_cpu_s() -> float:
    """CPU seconds of every child process waited for so far (ffmpeg, the probe)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Times = dict[str, list[float]]


def timed_runs(ffmpeg: str, src: Path, work: Path) -> tuple[Times, Times, Path, Path, list[Rendition]]:
    """Wall and CPU times of ours, the baseline and our argv by hand, interleaved in a mirrored order.

    This VM's speed drifts by up to a fifth within minutes (the same argv took 102, 109 and 123
    CPU-seconds in a row), so timing each contender once, one after the other, measured the
    drift as much as the contenders. In the order ours, hand, baseline, baseline, hand, ours
    every contender's runs have the same mean position, which cancels a steady drift, and each
    of our runs sits next to a run by hand, which the overhead compares it with.
    Returns wall times, CPU times, the first run's output dirs (ours, baseline) and the video rungs.
    """
    walls: Times = {"ours": [], "baseline": [], "hand": []}
    cpus: Times = {"ours": [], "baseline": [], "hand": []}
    kept: dict[str, Path] = {}
    argv: list[str] = []
    rungs: list[Rendition] = []
    for i, kind in enumerate(TIMING_ORDER):
        outdir = work / f"{kind}-{i}"
        started, cpu_before = time.monotonic(), children_cpu_s()
        if kind == "ours":
            result = transcode_to_dir(src, outdir, ffmpeg=ffmpeg)
            argv = result.argv
            rungs = [r for r in build_ladder(result.info) if r.has_video]
        elif kind == "baseline":
            baseline(ffmpeg, src, outdir, rungs)
        else:
            by_hand(argv, src, outdir)
        walls[kind].append(time.monotonic() - started)
        cpus[kind].append(children_cpu_s() - cpu_before)
        print(f"run {i + 1}/{len(TIMING_ORDER)} {kind}: {walls[kind][-1]:.1f} s, {cpus[kind][-1]:.1f} CPU-s")
        if kind in kept:
            shutil.rmtree(outdir)
        else:
            kept[kind] = outdir
    return walls, cpus, kept["ours"], kept["baseline"], rungs


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ffmpeg = run.default_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        work = Path(tmp)
        src = work / "lecture.mp4"
        generate_source(ffmpeg, src, SECONDS)
        walls, cpus, ours_dir, base_dir, rungs = timed_runs(ffmpeg, src, work)
        ours_s, base_s, hand_s = (mean(walls[k]) for k in ("ours", "baseline", "hand"))
        ratio = ours_s / base_s
        print(f"wall_time_s (mean of {len(walls['ours'])}): ours {ours_s:.1f}, baseline {base_s:.1f}, "
              f"ratio {ratio:.3f}")
        # The work itself, apart from how well each side keeps the cores busy (wall × busy cores = CPU).
        cpu_ratio = mean(cpus["ours"]) / mean(cpus["baseline"])
        print(f"cpu_s (mean of {len(cpus['ours'])}): ours {mean(cpus['ours']):.1f}, "
              f"baseline {mean(cpus['baseline']):.1f}, ratio {cpu_ratio:.3f}")
        deltas: list[float] = []
        bitrate_ratios: list[float] = []
        for rung in rungs:
            ours_kbps = video_kbps(ours_dir / rung.name)
            base_kbps = video_kbps(base_dir / rung.name)
            ours_vmaf = vmaf(ffmpeg, ours_dir / rung.name, src)
            base_vmaf = vmaf(ffmpeg, base_dir / rung.name, src)
            deltas.append(ours_vmaf - base_vmaf)
            bitrate_ratios.append(ours_kbps / base_kbps)
            print(f"{rung.name}_video_kbps: ours {ours_kbps:.0f}, baseline {base_kbps:.0f}, "
                  f"ratio {ours_kbps / base_kbps:.3f}")
            print(f"{rung.name}_vmaf: ours {ours_vmaf:.2f}, baseline {base_vmaf:.2f}, "
                  f"ratio {ours_vmaf / base_vmaf:.3f}")
        playable_s = first_playable(ffmpeg, src, work)
        print(f"first_playable_s (10-minute source): ours {playable_s:.2f}, baseline "
              f"{base_s / len(rungs) * LONG_SECONDS / SECONDS:.1f} (one whole rung), "
              f"ratio {playable_s / (base_s / len(rungs) * LONG_SECONDS / SECONDS):.3f}")
        overhead = (ours_s - hand_s) / hand_s * 100
        print(f"pipeline_vs_hand_s: ours {ours_s:.1f}, baseline {hand_s:.1f}, ratio {ours_s / hand_s:.3f}")
        print(json.dumps({
            "ratio": round(ratio, 3),
            "cpu_ratio": round(cpu_ratio, 3),
            "vmaf_delta_min": round(min(deltas), 2),
            "bitrate_ratio_max": round(max(bitrate_ratios), 3),
            "first_playable_s": round(playable_s, 2),
            "overhead_pct": round(overhead, 2),
        }))


if __name__ == "__main__":
    main()
