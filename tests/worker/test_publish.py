from __future__ import annotations

from pathlib import Path

from server.storage import Storage
from tests.server.media_support import make_video
from worker.media.pipeline import transcode_to_dir
from worker.media.run import default_ffmpeg
from worker.publish import Publisher, listed_files

GROWING = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n"


def test_listed_files_puts_the_init_segment_first() -> None:
    text = GROWING + "#EXTINF:2.0,\nseg_00000.m4s\n#EXTINF:2.0,\nseg_00001.m4s\n#EXT-X-ENDLIST\n"
    assert listed_files(text) == ["init.mp4", "seg_00000.m4s", "seg_00001.m4s"]


def test_segments_publish_before_their_playlist_while_the_engine_writes(storage: Storage, tmp_path: Path) -> None:
    rung = tmp_path / "360p"
    rung.mkdir()
    (rung / "init.mp4").write_bytes(b"init")
    (rung / "seg_00000.m4s").write_bytes(b"s0")
    (rung / "seg_00001.m4s.tmp").write_bytes(b"half")  # being written: not listed, never uploaded
    (rung / "index.m3u8").write_text(GROWING + "#EXTINF:2.0,\nseg_00000.m4s\n")
    puts: list[str] = []
    prefix = "media/00000000-0000-4000-8000-000000000001/1/"
    publisher = Publisher(storage, prefix, tmp_path, on_put=puts.append)

    publisher.sync(["360p", "720p"])  # 720p has written nothing yet
    assert puts == ["360p/init.mp4", "360p/seg_00000.m4s", "360p/index.m3u8"]
    assert publisher.published_rungs() == {"360p"}
    assert "#EXT-X-ENDLIST" not in storage.get_bytes(prefix + "360p/index.m3u8").decode()

    publisher.sync(["360p"])  # nothing new: nothing uploaded again
    (rung / "seg_00001.m4s.tmp").rename(rung / "seg_00001.m4s")
    (rung / "index.m3u8").write_text(GROWING + "#EXTINF:2.0,\nseg_00000.m4s\n#EXTINF:1.0,\nseg_00001.m4s\n"
                                     "#EXT-X-ENDLIST\n")
    publisher.sync(["360p"])
    assert puts[3:] == ["360p/seg_00001.m4s", "360p/index.m3u8"]
    assert storage.get_bytes(prefix + "360p/seg_00001.m4s") == b"half"
    assert not any(k.endswith(".tmp") for k in storage.list_keys(prefix))
    storage.delete_prefix(prefix)


def test_real_ladder_is_published_with_master_last(storage: Storage, tmp_path: Path) -> None:
    ffmpeg = default_ffmpeg()
    src = make_video(ffmpeg, tmp_path / "src.mp4", seconds=2)
    out = tmp_path / "out"
    result = transcode_to_dir(src, out, ffmpeg=ffmpeg)
    puts: list[str] = []
    prefix = "media/00000000-0000-4000-8000-000000000002/1/"
    Publisher(storage, prefix, out, on_put=puts.append).finish(result)
    assert puts[-1] == "master.m3u8"
    for rendition in result.renditions:
        playlist_at = puts.index(rendition.playlist)
        folder = rendition.playlist.rsplit("/", 1)[0]
        assert all(puts.index(p) < playlist_at for p in puts if p.startswith(folder + "/") and p.endswith(".m4s"))
    assert {"poster.jpg", "sprite.jpg", "sprite.vtt"} <= set(puts)
    assert sorted(storage.list_keys(prefix)) == sorted(prefix + p for p in puts)
    storage.delete_prefix(prefix)
