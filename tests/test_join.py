"""The join of a film's segments (vidcolor.join), on its own: segments coloured apart become one
film with the source's audio and every frame's time, and segments that do not belong together are
refused with nothing written."""
from dataclasses import replace

import numpy as np
import pytest
from media import make_clip, probe

from vidcolor import Colorizer, VideoError, VideoOptions
from vidcolor.decode import VideoReader
from vidcolor.join import join_segments
from vidcolor.segments import plan_segments, scan_film, segment_path, segment_token
from vidcolor.video import colorize_segment

FRAMES = 40


def segments(tmp_path, tiny_model, options=(VideoOptions(smoothing=0.0),) * 2):
    """The test film's segments coloured apart (``options`` per segment); (film, results)."""
    film = make_clip(tmp_path / "film.mkv", frames=FRAMES, grey=True, keyint=10, audio="aac")
    reader = VideoReader(film)
    index = scan_film(reader)
    reader.close()
    plan = plan_segments(index, FRAMES / 25 / 2, warmup=0)
    assert len(plan) == 2
    token, colorizer = segment_token(), Colorizer(tiny_model, precision="fp32")
    results = [colorize_segment(colorizer, film, segment_path(tmp_path / "out.mkv", token, seg.number), seg, video)
               for seg, video in zip(plan, options)]
    return film, results


def test_segments_join_into_the_film_with_its_sound_and_times(tmp_path, tiny_model):
    film, results = segments(tmp_path, tiny_model)
    summary = join_segments(film, tmp_path / "out.mkv", results[::-1])  # any order: they are sorted
    assert summary["frames"] == FRAMES and summary["packets_copied"] > 0
    before, after = probe(film), probe(tmp_path / "out.mkv")
    assert after["times"] == before["times"] and after["audio_packets"] == before["audio_packets"]
    assert after["duration"] == before["duration"]
    silent = join_segments(film, tmp_path / "silent.mkv", results, audio=False)
    assert silent["packets_copied"] == 0 and not probe(tmp_path / "silent.mkv")["audio"]


def test_segments_that_do_not_belong_together_are_refused(tmp_path, tiny_model):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    other = VideoOptions(smoothing=0.0, crf=30)  # another encoder setting: other stream headers
    film, results = segments(tmp_path / "a", tiny_model, (VideoOptions(smoothing=0.0), other))
    with pytest.raises(VideoError, match="other stream headers than segment 0's"):
        join_segments(film, tmp_path / "a" / "out.mkv", results)
    film, results = segments(tmp_path / "b", tiny_model)
    cut = replace(results[1], timestamps=results[1].timestamps[:-3])  # packets nobody encoded
    with pytest.raises(VideoError, match="holds more packets than were encoded"):
        join_segments(film, tmp_path / "b" / "out.mkv", [results[0], cut])
    short = replace(results[1], timestamps=np.vstack([results[1].timestamps, results[1].timestamps[-1:] + 1]))
    with pytest.raises(VideoError, match="cut short"):
        join_segments(film, tmp_path / "b" / "out.mkv", [results[0], short])
    for sub in ("a", "b"):  # nothing written, no temporary left (the segments are the caller's)
        assert sorted(p.name for p in (tmp_path / sub).iterdir() if "segment" not in p.name) == ["film.mkv"]
