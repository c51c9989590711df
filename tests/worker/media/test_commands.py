from __future__ import annotations

from fractions import Fraction

import m3u8

from worker.media import commands
from worker.media.ladder import build_ladder
from worker.media.types import AudioInfo, MediaInfo, MediaLimits, VideoInfo

LIMITS = MediaLimits()
VIDEO = VideoInfo(index=1, codec="h264", width=1920, height=1080, rotation=0, fps=Fraction(30))
AUDIO = AudioInfo(codec="aac", sample_rate=44100, channels=2)
INFO = MediaInfo("matroska", "matroska,webm", 120.0, 3, VIDEO, AUDIO)


def argv_for(info: MediaInfo = INFO) -> list[str]:
    sprite = commands.sprite_plan(info.duration_s, 1920, 1080) if info.video else None
    return commands.transcode_argv(
        ffmpeg="ffmpeg", src="/work/x/source", info=info, renditions=build_ladder(info),
        limits=LIMITS, sprite=sprite, poster_at=12.0 if info.video else None,
    )


def values_of(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_input_is_locked_down() -> None:
    argv = argv_for()
    assert argv[:3] == ["ffmpeg", "-hide_banner", "-nostdin"]
    i = argv.index("-i")
    assert argv[i + 1] == "file:/work/x/source"
    assert argv[i - 2 : i] == ["-f", "matroska"]
    assert values_of(argv, "-protocol_whitelist") == ["file"]
    assert values_of(argv, "-format_whitelist") == ["matroska,webm"]
    assert values_of(argv, "-max_pixels") == [str(4096 * 4096)]
    assert argv.count("-i") == 1
    assert values_of(argv, "-progress") == ["pipe:1"]


def test_one_decode_split_per_rung_and_first_streams_only() -> None:
    argv = argv_for()
    graph = values_of(argv, "-filter_complex")[0]
    assert graph.startswith("[0:v:1]fps=30[s3];")  # decoded once, only the top rung scales the source
    assert "[0:a:0]aresample=48000:async=1:first_pts=0,asplit=5" in graph
    assert graph.count("scale=") == 6  # 4 rungs + sprite + poster
    assert graph.count("[0:v:1]") == 1
    assert "0:s" not in graph and "0:d" not in graph
    maps = values_of(argv, "-map")
    assert all(m.startswith("[") for m in maps)  # only filter outputs, never whole inputs


def test_rungs_scale_in_a_cascade_of_large_steps() -> None:
    video = [r for r in build_ladder(INFO) if r.has_video]
    assert [r.name for r in video] == ["360p", "480p", "720p", "1080p"]
    # 360p from 720p (2×), not from 480p (1.33×); 480p from 720p (1.5×); 720p from 1080p; 1080p from the source.
    assert commands.scale_parents(video) == [2, 2, 3, None]
    graph = values_of(argv_for(), "-filter_complex")[0]
    assert "[s3]scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p,split=2[v3][s2]" in graph
    assert "[s2]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=4[v2][s0][s1][poster_in]" in graph
    assert "[s0]scale=640:360:flags=bicubic,setsar=1,format=yuv420p,split=2[v0][sprite_in]" in graph
    assert "[poster_in]trim=start=12.0,scale=1280:-2" in graph


def test_every_rung_is_h264_with_aligned_two_second_gops() -> None:
    argv = argv_for()
    assert set(values_of(argv, "-c:v")) == {"libx264", "mjpeg"}
    assert values_of(argv, "-c:v").count("libx264") == 4
    assert set(values_of(argv, "-g")) == {"60"} and set(values_of(argv, "-keyint_min")) == {"60"}
    assert set(values_of(argv, "-sc_threshold")) == {"0"}
    assert set(values_of(argv, "-hls_segment_type")) == {"fmp4"}
    assert set(values_of(argv, "-hls_time")) == {"2"}
    assert set(values_of(argv, "-hls_playlist_type")) == {"event"}
    assert values_of(argv, "-b:a") == ["96k", "96k", "96k", "96k", "64k"]
    assert values_of(argv, "-maxrate") == ["691k", "1107k", "2212k", "4355k"]
    assert [a for a in argv if a.endswith("index.m3u8")] == [
        "360p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8", "1080p/index.m3u8", "a64k/index.m3u8",
    ]
    assert set(values_of(argv, "-t")) == {"21600"}


def test_outputs_are_relative_paths() -> None:
    argv = argv_for()
    outputs = [a for a in argv[argv.index("-filter_complex") + 2 :] if "/" in a or a.endswith(".jpg")]
    assert outputs and not any(o.startswith("/") for o in outputs)


def test_audio_only_has_no_video_branch() -> None:
    argv = argv_for(MediaInfo("mov", "mov", 30.0, 1, None, AUDIO))
    graph = values_of(argv, "-filter_complex")[0]
    assert "0:v" not in graph and "-c:v" not in argv
    assert values_of(argv, "-b:a") == ["64k", "128k"]


def test_sprite_plan_and_vtt() -> None:
    plan = commands.sprite_plan(3600, 1920, 1080)
    assert plan.count <= commands.SPRITE_MAX_TILES
    assert (plan.tile_width, plan.tile_height, plan.columns) == (160, 90, 10)
    vtt = commands.sprite_vtt(commands.sprite_plan(12, 1280, 720), 12.0)
    assert vtt.splitlines()[:4] == ["WEBVTT", "", "00:00:00.000 --> 00:00:05.000", "sprite.jpg#xywh=0,0,160,90"]
    assert "00:00:10.000 --> 00:00:12.000" in vtt and "sprite.jpg#xywh=320,0,160,90" in vtt


def test_master_playlist_parses() -> None:
    rungs = build_ladder(INFO)
    text = commands.master_playlist(rungs, {r.name: (1000 * (i + 1), 900) for i, r in enumerate(rungs)})
    master = m3u8.loads(text)
    assert master.is_variant
    assert [p.uri for p in master.playlists] == [f"{r.name}/index.m3u8" for r in rungs]
    assert master.playlists[3].stream_info.resolution == (1920, 1080)
    assert master.playlists[4].stream_info.codecs == "mp4a.40.2"


def test_large_rungs_get_the_fast_settings() -> None:
    argv = argv_for()
    assert values_of(argv, "-crf") == ["23", "23", "23", "23.8"]
    assert values_of(argv, "-x264-params") == ["bframes=0:me=dia:subme=0:rc-lookahead=5"]
    assert set(values_of(argv, "-threads")) == {"1"}
