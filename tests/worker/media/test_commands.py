from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import m3u8

from worker.media import commands
from worker.media.ladder import Rendition, build_ladder
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


def per_stream(argv: list[str], flag: str) -> dict[str, str]:
    """Values of a per-stream option (`-crf:v:2 23`) by stream specifier ("v:2")."""
    prefix = flag + ":"
    return {arg.removeprefix(prefix): argv[i + 1] for i, arg in enumerate(argv) if arg.startswith(prefix)}


def tee_slaves(argv: list[str]) -> list[str]:
    """The one tee output's slave specs, one per rung."""
    assert values_of(argv, "-f").count("tee") == 1
    return next(arg for arg in argv if arg.startswith("[select=")).split("|")


@dataclass(frozen=True)
class Filter:
    text: str  # name=args, as ffmpeg reads it
    inputs: list[str]
    outputs: list[str]


def graph_of(argv: list[str]) -> dict[str, Filter]:
    """The filter graph by output pad label (ffmpeg-python writes one filter per chain)."""
    producers: dict[str, Filter] = {}
    for chain in values_of(argv, "-filter_complex")[0].split(";"):
        found = re.fullmatch(r"((?:\[[^\]]+\])+)(.+?)((?:\[[^\]]+\])+)", chain)
        assert found, chain
        inputs, text, outputs = (re.findall(r"\[([^\]]+)\]", found.group(1)), found.group(2),
                                 re.findall(r"\[([^\]]+)\]", found.group(3)))
        for label in outputs:
            producers[label] = Filter(text, inputs, outputs)
    return producers


def lineage(graph: dict[str, Filter], label: str) -> list[str]:
    """The filters a pad's pictures went through, from the input stream on; splits left out."""
    steps: list[str] = []
    while label in graph:
        step = graph[label]
        if not step.text.startswith(("split=", "asplit=")):
            steps.insert(0, step.text)
        [label] = step.inputs
    return [label, *steps]


def mapped(argv: list[str]) -> list[str]:
    """Pad labels in `-map` order: the tee's video rungs lowest first, its audio, then sprite tiles and poster."""
    return [m.strip("[]") for m in values_of(argv, "-map")]


def test_input_is_locked_down() -> None:
    argv = argv_for()
    assert argv[:3] == ["ffmpeg", "-hide_banner", "-nostdin"]
    i = argv.index("-i")
    assert argv[i + 1] == "file:/work/x/source"
    assert values_of(argv[:i], "-f") == ["matroska"]
    assert values_of(argv, "-protocol_whitelist") == ["file"]
    assert values_of(argv, "-format_whitelist") == ["matroska,webm"]
    assert values_of(argv, "-max_pixels") == [str(4096 * 4096)]
    assert argv.count("-i") == 1
    assert values_of(argv, "-progress") == ["pipe:1"]
    assert values_of(argv[:i], "-threads") == ["1"]  # decoder threads, an input option before -i
    assert values_of(argv, "-filter_complex_threads") == ["1"]


def test_one_decode_split_per_rung_and_first_streams_only() -> None:
    argv = argv_for()
    graph = graph_of(argv)
    readers = [f for f in {id(f): f for f in graph.values()}.values() if any(":" in label for label in f.inputs)]
    # Decoded once: one filter reads the source's chosen video stream, one its first audio stream.
    assert sorted(f.inputs[0] + " " + f.text for f in readers) == [
        "0:a:0 aresample=48000:async=1:first_pts=0", "0:v:1 fps=30"]
    texts = [f.text for f in {id(f): f for f in graph.values()}.values()]
    assert sum(t.startswith("scale=") for t in texts) == 3  # the source's rung, sprite, poster
    assert sum(t.startswith("zscale=") for t in texts) == 3  # rungs scaled from a rung's yuv420p picture
    assert "asplit=2" in texts  # 96k shared by the video rungs, 64k for the audio-only rung
    assert all(label in graph for label in mapped(argv))  # only filter outputs, never whole inputs


def test_rungs_scale_in_a_cascade_of_large_steps() -> None:
    video = [r for r in build_ladder(INFO) if r.has_video]
    assert [r.name for r in video] == ["360p", "480p", "720p", "1080p"]
    # Each rung from the next bigger one; 1080p from the source.
    assert commands.scale_parents(video) == [1, 2, 3, None]
    argv = argv_for()
    graph = graph_of(argv)
    v360, v480, v720, v1080, _a96, _a64, sprite, poster = mapped(argv)
    top = ["0:v:1", "fps=30", "scale=1920:1080:flags=lanczos", "setsar=1", "format=yuv420p"]
    middle = [*top, "zscale=1280:720:filter=lanczos", "setsar=1"]
    assert lineage(graph, v1080) == top
    assert lineage(graph, v720) == middle
    assert lineage(graph, v480) == [*middle, "zscale=854:480:filter=lanczos", "setsar=1"]
    assert lineage(graph, v360) == [*middle, "zscale=854:480:filter=lanczos", "setsar=1",
                                    "zscale=640:360:filter=lanczos", "setsar=1"]
    assert lineage(graph, sprite) == [*lineage(graph, v360),
                                      r"select=isnan(prev_selected_t)+gte(t-prev_selected_t\,5)",
                                      "scale=160:90", "setsar=1"]
    assert lineage(graph, poster) == [*middle, r"select=eq(n\,0)+gte(t\,12.0)", "scale=1280:-2", "setsar=1"]


def test_every_rung_is_h264_with_aligned_two_second_gops() -> None:
    argv = argv_for()
    codecs = {**{f"v:{i}": "libx264" for i in range(4)}, "a:0": "aac", "a:1": "aac"}
    assert {stream: codec for stream, codec in per_stream(argv, "-c").items() if stream != "v"} == codecs
    assert set(per_stream(argv, "-g").values()) == {"60"} and set(per_stream(argv, "-keyint_min").values()) == {"60"}
    assert set(per_stream(argv, "-sc_threshold").values()) == {"0"}
    assert per_stream(argv, "-b") == {"a:0": "96k", "a:1": "64k"}  # each audio encoding once
    assert list(per_stream(argv, "-maxrate").values()) == ["691k", "1107k", "2212k", "4355k"]
    assert values_of(argv, "-flags") == ["+global_header"]  # avcC / esds in init.mp4, as plain HLS would
    slaves = tee_slaves(argv)
    hls = ("f=hls:hls_time=2:hls_playlist_type=event:hls_list_size=0:hls_segment_type=fmp4:"
           "hls_fmp4_init_filename=init.mp4:hls_flags=independent_segments+temp_file")
    assert slaves == [
        f"[select=\\'{streams}\\':{hls}:hls_segment_filename={name}/seg_%05d.m4s]{name}/index.m3u8"
        for name, streams in [("360p", "v:0,a:0"), ("480p", "v:1,a:0"), ("720p", "v:2,a:0"), ("1080p", "v:3,a:0"),
                              ("a64k", "a:1")]
    ]
    assert values_of(argv, "-t") == ["21600"]


def test_side_outputs_begin_with_the_first_frame() -> None:
    """ffmpeg reports progress only once every output has begun: none may wait for a full sprite sheet."""
    argv = argv_for()
    tee = next(i for i, arg in enumerate(argv) if arg.startswith("[select="))
    tiles, poster = (output.split() for output in " ".join(argv[tee + 1 :]).split("-map ")[1:])
    assert tiles[-1] == commands.SPRITE_TILES and values_of(tiles, "-c:v") == ["rawvideo"]
    assert "tile=" not in values_of(argv, "-filter_complex")[0]
    assert poster[-1] == commands.POSTER
    # The first frame, then the one at the poster time replacing it, each as it comes.
    assert values_of(poster, "-frames:v") == ["2"] and values_of(poster, "-update") == ["1"]
    assert values_of(poster, "-fps_mode") == ["passthrough"]


def test_sprite_sheet_tiles_the_thumbnails_afterwards() -> None:
    argv = commands.sprite_sheet_argv("ffmpeg", commands.sprite_plan(120, 1920, 1080))
    i = argv.index("-i")
    assert argv[i + 1] == f"file:{commands.SPRITE_TILES}"
    assert values_of(argv[:i], "-f") == ["nut"] and values_of(argv, "-protocol_whitelist") == ["file"]
    assert values_of(argv, "-filter_complex") == ["[0:v]tile=10x3[s0]"]
    assert values_of(argv, "-frames:v") == ["1"] and argv[-1] == commands.SPRITE


def test_outputs_are_relative_paths() -> None:
    argv = argv_for()
    outputs = [a for a in argv[argv.index("-filter_complex") + 2 :] if "/" in a or a.endswith(".jpg")]
    assert outputs and not any(o.startswith("/") for o in outputs)


def test_audio_only_has_no_video_branch() -> None:
    argv = argv_for(MediaInfo("mov", "mov", 30.0, 1, None, AUDIO))
    graph = values_of(argv, "-filter_complex")[0]
    assert "0:v" not in graph and not per_stream(argv, "-c").keys() - {"a:0", "a:1"}
    assert per_stream(argv, "-b") == {"a:0": "64k", "a:1": "128k"}
    assert [slave.split("]")[0].split(":")[0] for slave in tee_slaves(argv)] == ["[select=\\'a"] * 2


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


def test_each_rung_gets_the_settings_of_its_size_tier() -> None:
    argv = argv_for()
    top, middle, small = commands.EncoderSettings().tiers
    assert per_stream(argv, "-crf") == {"v:0": f"{small.crf:g}", "v:1": f"{small.crf:g}",
                                        "v:2": f"{middle.crf:g}", "v:3": f"{top.crf:g}"}
    assert per_stream(argv, "-x264-params") == {"v:0": small.params, "v:1": small.params,
                                                "v:2": middle.params, "v:3": top.params}
    assert per_stream(argv, "-threads") == {"v:0": "1", "v:1": "1", "v:2": "1", "v:3": "1"}


def test_a_tier_is_chosen_by_the_short_side() -> None:
    tiers = (commands.X264Tier(1080, 23, "a"), commands.X264Tier(720, 24, "b"), commands.X264Tier(0, 25, "c"))
    settings = commands.EncoderSettings(tiers=tiers)

    def tier_of(width: int, height: int) -> str:
        return settings.tier(Rendition("r", width, height, Fraction(30), 1000, 96, 2)).params

    assert [tier_of(1920, 1080), tier_of(3840, 2160), tier_of(1080, 1920)] == ["a", "a", "a"]  # portrait too
    assert [tier_of(1280, 720), tier_of(720, 1280), tier_of(1918, 1078)] == ["b", "b", "b"]
    assert [tier_of(854, 480), tier_of(640, 360), tier_of(32, 18)] == ["c", "c", "c"]
