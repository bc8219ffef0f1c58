"""The video pipeline on synthetic clips: frames, timing, audio, metadata, colour, errors."""
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import REPO, cli, gradient_image, one_error_line
from media import make_clip, probe

import vidcolor
from vidcolor import Colorizer, VideoError
from vidcolor.cli import main
from vidcolor.color import rgb_to_lab
from vidcolor.video import colorize_video


def lab(frames) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0)


def test_frames_timing_size_audio_and_color(tmp_path, tiny_model):
    src = make_clip(tmp_path / "in.mp4", frames=30, grey=True)
    summary = colorize_video(tiny_model, src, tmp_path / "out.mp4", batch_size=4, progress=False)
    before, after = probe(src), probe(tmp_path / "out.mp4")
    assert summary.frames == 30 == len(after["times"])
    assert after["times"] == pytest.approx(before["times"], abs=1e-6)
    assert after["size"] == before["size"]
    assert after["time_base"] == before["time_base"]
    assert after["audio_packets"] == before["audio_packets"] and before["audio_packets"]
    lab_in, lab_out = lab(before["rgb"]), lab(after["rgb"])
    assert (lab_out[:, 0] - lab_in[:, 0]).abs().mean() < 2.0  # L kept within the codec's error
    assert (lab_out[:, 1:].abs().sum(1)).mean() > 1.0  # coloured
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_ntsc_rate_keeps_timing(tmp_path, tiny_model):
    src = make_clip(tmp_path / "ntsc.mp4", frames=24, rate=Fraction(30000, 1001))
    colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    before, after = probe(src), probe(tmp_path / "out.mp4")
    assert after["times"] == pytest.approx(before["times"], abs=1e-4)
    assert after["rate"] == Fraction(30000, 1001)


def test_variable_frame_rate_keeps_every_timestamp(tmp_path, tiny_model):
    pts = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21, 22, 23, 30, 31, 40]  # in 1/25 s: gaps and bursts
    src = make_clip(tmp_path / "vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 25))
    colorize_video(tiny_model, src, tmp_path / "out.mkv", progress=False)
    before, after = probe(src), probe(tmp_path / "out.mkv")
    assert before["times"] == pytest.approx([p / 25 for p in pts], abs=1e-3)
    assert after["times"] == pytest.approx(before["times"], abs=1e-3)


def test_rotation_metadata_survives_and_pixels_are_not_rotated(tmp_path, tiny_model):
    src = make_clip(tmp_path / "rot.mp4", frames=6, width=96, height=64, rotation=90)
    colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    after = probe(tmp_path / "out.mp4")
    assert after["rotation"] == 90 and after["size"] == (96, 64)


def test_odd_size_is_padded_to_even(tmp_path, tiny_model):
    src = make_clip(tmp_path / "odd.mkv", frames=5, width=97, height=63, codec="ffv1", pix_fmt="yuv444p", audio=None)
    colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    after = probe(tmp_path / "out.mp4")
    assert after["size"] == (98, 64) and len(after["times"]) == 5
    rgb = after["rgb"][0].astype(int)
    assert np.abs(rgb[:, -1] - rgb[:, -2]).mean() < 6  # the added column repeats its neighbour


@pytest.mark.parametrize("codec,channels", [("ac3", 2), ("aac", 6), ("pcm_s16le", 2)])
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_audio_tracks_survive(tmp_path, tiny_model, codec, channels, ext):
    src = make_clip(tmp_path / "in.mkv", frames=12, audio=codec, channels=channels, grey=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        colorize_video(tiny_model, src, tmp_path / f"out{ext}", progress=False)
    before, after = probe(src), probe(tmp_path / f"out{ext}")
    assert after["audio"][0][1] == channels
    if (codec, ext) == ("pcm_s16le", ".mp4"):  # mp4 refuses PCM: re-encoded to AAC, with a warning
        assert after["audio"][0][0] == "aac"
        assert [str(w.message) for w in caught if "re-encoding" in str(w.message)]
    else:  # copied packet for packet
        assert after["audio_packets"] == before["audio_packets"]
        assert not caught


def test_no_audio_and_webm(tmp_path, tiny_model):
    src = make_clip(tmp_path / "in.mp4", frames=6)
    colorize_video(tiny_model, src, tmp_path / "silent.mp4", audio=False, progress=False)
    assert probe(tmp_path / "silent.mp4")["audio"] == []
    with pytest.warns(UserWarning, match="libopus"):
        colorize_video(tiny_model, src, tmp_path / "out.webm", progress=False)
    after = probe(tmp_path / "out.webm")
    assert len(after["times"]) == 6 and after["audio"][0][0] == "opus"


class Exploding(torch.nn.Module):
    def __init__(self, model, after: int):
        super().__init__()
        self.model, self.config, self.calls, self.after = model, model.config, 0, after

    def forward(self, x):
        self.calls += 1
        if self.calls > self.after:
            raise RuntimeError("model exploded on purpose")
        return self.model(x)

    def decode(self, out, temperature=None):
        return self.model.decode(out, temperature)


def test_model_error_stops_the_run_and_leaves_no_file(tmp_path, tiny_model):
    src = make_clip(tmp_path / "in.mp4", frames=40)
    colorizer = Colorizer(tiny_model, precision="fp32")
    colorizer.model = Exploding(tiny_model, after=2)
    with pytest.raises(RuntimeError, match="exploded"):
        colorize_video(colorizer, src, tmp_path / "out.mp4", batch_size=4, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_cli_video(tmp_path, tiny_weights):
    src = make_clip(tmp_path / "in.mp4", frames=10)
    result = CliRunner().invoke(main, [src, str(tmp_path / "out.mkv"), "--model", str(tiny_weights), "--quiet",
                                       "--batch-size", "3", "--crf", "23", "--preset", "fast"])
    assert result.exit_code == 0, result.output
    assert len(probe(tmp_path / "out.mkv")["times"]) == 10
    result = CliRunner().invoke(main, [src, str(tmp_path / "out.avi"), "--model", str(tiny_weights)])
    assert result.exit_code == 1 and "not supported" in result.output


def test_timestamp_repair_keeps_every_frame_in_order():
    from vidcolor.decode import TimestampRepair

    def through_window(raw, depth):
        repair, got = TimestampRepair(step=10, depth=depth), []
        for p in raw:
            if repair.push(p):
                got.append(repair.pop())
        return got + [repair.pop() for _ in range(min(depth, len(raw)))]

    # missing, repeated (zero-length "repeat previous" entries) and backwards pts, as real AVIs give
    raw = [None, None, 20, 20, 20, 50, 40, None, 90]
    assert through_window(raw, depth=0) == [0, 10, 20, 21, 22, 50, 51, 60, 90]
    # with the reader's window, 50 and 40 are a swapped pair: put back in order
    got = through_window(raw, depth=4)
    assert got == [0, 10, 20, 21, 22, 40, 50, 60, 90]
    # packed B-frames: every few frames two neighbours carry each other's pts
    swapped = [1, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11, 13, 12]
    assert through_window(swapped, depth=4) == sorted(swapped)


def tags(path):
    import av
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        cc = v.codec_context
        return int(cc.colorspace), int(cc.color_range), int(cc.color_primaries), int(cc.color_trc), v.sample_aspect_ratio


def test_color_tags_hd_default_and_sample_aspect_survive(tmp_path, tiny_model):
    hd = make_clip(tmp_path / "hd.mp4", frames=3, width=1280, height=720, audio=None)
    colorize_video(tiny_model, hd, tmp_path / "hd_out.mp4", progress=False)
    assert tags(tmp_path / "hd_out.mp4")[:4] == (1, 1, 1, 1)  # untagged HD: BT.709, limited range
    sd = make_clip(tmp_path / "sd.mp4", frames=3, audio=None)
    colorize_video(tiny_model, sd, tmp_path / "sd_out.mkv", progress=False)
    assert tags(tmp_path / "sd_out.mkv")[:2] == (5, 1)  # untagged SD: BT.601
    # a tagged source keeps its tags, and the pixels are converted with the matrix it is tagged with
    import av
    with av.open(str(tmp_path / "tagged.mkv"), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt, v.sample_aspect_ratio = 96, 64, "yuv420p", Fraction(4, 3)
        v.codec_context.colorspace, v.codec_context.color_range = 1, 2
        v.codec_context.color_primaries, v.codec_context.color_trc = 1, 1
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), 40 * i + 60, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=2)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    colorize_video(tiny_model, tmp_path / "tagged.mkv", tmp_path / "tagged_out.mp4", progress=False)
    assert tags(tmp_path / "tagged_out.mp4") == (1, 2, 1, 1, Fraction(4, 3))
    before, after = probe(tmp_path / "tagged.mkv"), probe(tmp_path / "tagged_out.mp4")
    assert (lab(after["rgb"])[:, 0] - lab(before["rgb"])[:, 0]).abs().mean() < 1.5


def test_subtitles_copied_where_the_container_takes_them(tmp_path, tiny_model):
    import av
    (tmp_path / "subs.srt").write_text("1\n00:00:00,100 --> 00:00:00,600\nHello\n\n"
                                       "2\n00:00:00,700 --> 00:00:01,000\nWorld\n\n")
    clip = make_clip(tmp_path / "v.mp4", frames=25, audio=None)
    with av.open(clip) as v, av.open(str(tmp_path / "subs.srt")) as s, \
            av.open(str(tmp_path / "in.mkv"), "w") as out:
        vs = out.add_stream_from_template(v.streams.video[0])
        ss = out.add_stream_from_template(s.streams.subtitles[0])
        for packet in v.demux(video=0):
            if packet.size:
                packet.stream = vs
                out.mux(packet)
        for packet in s.demux(subtitles=0):
            if packet.size:
                packet.stream = ss
                out.mux(packet)

    def subtitle_packets(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(subtitles=0) if p.size] if c.streams.subtitles else []

    before = subtitle_packets(tmp_path / "in.mkv")
    assert len(before) == 2
    colorize_video(tiny_model, tmp_path / "in.mkv", tmp_path / "out.mkv", progress=False)
    assert subtitle_packets(tmp_path / "out.mkv") == before
    with pytest.warns(UserWarning, match="subtitles"):
        colorize_video(tiny_model, tmp_path / "in.mkv", tmp_path / "out.mp4", progress=False)
    assert subtitle_packets(tmp_path / "out.mp4") == [] and len(probe(tmp_path / "out.mp4")["times"]) == 25


def test_row_padding_is_zeroed_and_the_picture_kept():
    import av

    from vidcolor.encode import zero_row_padding
    rng = np.random.default_rng(0)
    yuv = rng.integers(1, 255, (248 * 3 // 2, 328), dtype=np.uint8)  # rows padded to a line size > 328
    frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    for plane in frame.planes:  # fill the padding, as memory used before would
        np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, plane.width:] = 7
    assert zero_row_padding(frame) is frame
    assert np.array_equal(frame.to_ndarray(), yuv)
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        assert plane.line_size > plane.width and not rows[:, plane.width:].any()


@pytest.mark.parametrize("planar, width, height", [(True, 328, 248), (False, 328, 248), (True, 320, 240)])
def test_same_film_encodes_to_the_same_bytes(tmp_path, tiny_model, planar, width, height):
    """A film coloured three times, once from another thread: the files are byte for byte the same
    (with x264's mb-tree they were not; 328 x 248 also has sides that are not multiples of 16)."""
    import hashlib
    import threading

    src = make_clip(tmp_path / "in.mp4", frames=24, width=width, height=height, audio=None, grey=True)
    digests = []

    def run(i):
        out = tmp_path / f"out{i}.mp4"
        colorize_video(tiny_model, src, out, progress=False, planar=planar)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())

    run(0)
    thread = threading.Thread(target=run, args=(1,))
    thread.start()
    thread.join()
    run(2)
    assert len(digests) == 3 and len(set(digests)) == 1


def test_batch_size_is_clamped_by_bytes_in_flight(tmp_path, tiny_model, monkeypatch):
    import vidcolor.video as pipeline
    clip = make_clip(tmp_path / "in.mp4", frames=12, width=96, height=64, audio=None)
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 96 * 64 * 3 * 4)  # room for 4 frames per batch
    with pytest.warns(vidcolor.VidcolorWarning, match="batch size 100000 lowered to 4"):
        summary = vidcolor.colorize_video(tiny_model, clip, tmp_path / "out.mp4", batch_size=100000, progress=False)
    assert summary.frames == 12 and summary.batch_size == 4
    import warnings as w
    with w.catch_warnings(record=True) as caught:  # the default batch lowered in silence: nobody asked for it
        w.simplefilter("always")
        summary = vidcolor.colorize_video(tiny_model, clip, tmp_path / "out2.mp4", progress=False)
    assert summary.batch_size == 4 and not [c for c in caught if "lowered" in str(c.message)]


def gap_avi(path: Path, pts: list[int]) -> Path:
    """An AVI written by PyAV from frames with pts gaps: its index holds empty entries for the gaps."""
    from fractions import Fraction

    import av
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for i, t in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(gradient_image(48, 64, seed=i), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_avi_with_empty_index_entries_is_colorized_with_its_timing(tmp_path, tiny_weights):
    pts = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21]
    src = gap_avi(tmp_path / "vfr.avi", pts)
    result = cli(src, tmp_path / "out.mkv", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    times = probe(tmp_path / "out.mkv")["times"]
    assert len(times) == len(pts)
    assert np.allclose(np.array(times) - times[0], np.array(pts) / 25, atol=1e-3)
    data = src.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) * 2 // 3])  # truly cut: still refused
    one_error_line(cli(tmp_path / "cut.avi", tmp_path / "cut.mkv", "--model", tiny_weights, "-q"), "cut.avi")
    assert not (tmp_path / "cut.mkv").exists()


def test_x265_prints_nothing_on_success(tmp_path):
    """x265 writes its banner and statistics to the process's stderr, past FFmpeg's log level."""
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=None, grey=True)
    weights = tmp_path / "tiny.pt"
    code = (f"import torch; from vidcolor import ColorNet, ModelConfig, save_weights; torch.manual_seed(0); "
            f"save_weights(ColorNet(ModelConfig.paper(size=32)), {str(weights)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
    proc = subprocess.run([sys.executable, "-m", "vidcolor", clip, str(tmp_path / "out.mkv"), "--model", str(weights),
                           "--codec", "libx265", "-q"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-500:]
    assert len(probe(tmp_path / "out.mkv")["times"]) == 4


def audio_of(path):
    with av.open(str(path)) as c:
        a = c.streams.audio[0].codec_context
        return av.codec.Codec(a.name, "r").canonical_name, a.sample_rate


@pytest.mark.parametrize("codec", ["aac", "mp3", "pcm_s16le"])
def test_44k_audio_into_webm_is_resampled_to_48k_opus(tmp_path, tiny_model, codec):
    src = make_clip(tmp_path / "in.mkv", frames=8, audio=codec, sample_rate=44100)
    with pytest.warns(vidcolor.VidcolorWarning, match="libopus at 48000 Hz"):
        colorize_video(tiny_model, src, tmp_path / "out.webm", progress=False)
    assert audio_of(tmp_path / "out.webm") == ("opus", 48000)
    duration = probe(tmp_path / "out.webm")["audio_packets"][-1][1]
    assert duration == pytest.approx(probe(src)["audio_packets"][-1][1], abs=0.05)


def test_mp3_goes_into_mp4_as_it_is(tmp_path, tiny_model):
    src = make_clip(tmp_path / "in.mkv", frames=8, audio="mp3", sample_rate=44100, grey=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "re-encoding" warning, no decoder name
        colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    assert audio_of(tmp_path / "out.mp4") == ("mp3", 44100)
    assert [p[0] for p in probe(tmp_path / "out.mp4")["audio_packets"]] == [p[0] for p in probe(src)["audio_packets"]]


def test_the_api_never_replaces_its_input_nor_an_output_unasked(tmp_path, tiny_model):
    src = make_clip(tmp_path / "same.mp4", frames=4, audio=None)
    before = Path(src).read_bytes()
    with pytest.raises(VideoError, match="overwrite the input"):
        colorize_video(tiny_model, src, src, progress=False, overwrite=True)
    assert Path(src).read_bytes() == before
    (tmp_path / "out.mp4").write_bytes(b"precious")
    with pytest.raises(VideoError, match="overwrite=True"):
        colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"
    colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False, overwrite=True)
    assert len(probe(tmp_path / "out.mp4")["times"]) == 4


@pytest.mark.parametrize("name, audio, codec", [("cut.mkv", "ac3", "libx264"), ("cut.avi", None, "mpeg4")])
def test_a_film_cut_short_is_refused_whatever_its_container(tmp_path, tiny_weights, name, audio, codec):
    """Matroska counts no frames and an AVI cut short loses its index: the duration they declare
    is what the decoded frames must cover (47 of 95 frames were written with exit 0 before)."""
    full = make_clip(tmp_path / f"full{Path(name).suffix}", frames=100, audio=audio, codec=codec, grey=True)
    data = Path(full).read_bytes()
    (tmp_path / name).write_bytes(data[:len(data) // 2])
    one_error_line(cli(tmp_path / name, tmp_path / "out.mkv", "--model", tiny_weights, "-q"),
                   "damaged video: its frames cover", "cut short?")
    assert not list(tmp_path.glob("*out.mkv*"))
    assert cli(full, tmp_path / "whole.mkv", "--model", tiny_weights, "-q").exit_code == 0


def test_an_undecodable_audio_packet_becomes_silence_of_its_length(tmp_path, tiny_model):
    """AC3 re-encoded for .webm: a first packet the decoder refuses lost the whole film before."""
    good = make_clip(tmp_path / "good.mkv", frames=50, audio="ac3")
    with av.open(good) as src, av.open(str(tmp_path / "bad.mkv"), "w") as out:
        video, sound = src.streams.video[0], src.streams.audio[0]
        routes = {video.index: out.add_stream_from_template(video), sound.index: out.add_stream_from_template(sound)}
        first = True
        for packet in src.demux(video, sound):
            if not packet.size:
                continue
            if packet.stream.type == "audio" and first:
                first = False
                broken = av.Packet(b"\x0b\x77" + b"\xff" * (packet.size - 2))  # an AC3 sync word, then nonsense
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                broken.duration = packet.duration
                packet = broken
            target = routes[packet.stream.index] if packet.stream is not None else routes[sound.index]
            packet.stream = target
            out.mux(packet)
    with pytest.warns(vidcolor.VidcolorWarning, match="1 audio packet.* silence of the same length"):
        colorize_video(tiny_model, tmp_path / "bad.mkv", tmp_path / "out.webm", progress=False)
    assert audio_seconds(tmp_path / "out.webm") == pytest.approx(audio_seconds(good), abs=0.03)


def audio_seconds(path) -> float:
    seconds = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            try:
                seconds += sum(f.samples / f.sample_rate for f in packet.decode())
            except av.error.InvalidDataError:
                continue
    return seconds


def test_an_audio_track_the_muxer_refuses_is_named_with_the_way_out(tmp_path, tiny_weights, monkeypatch):
    """A damaged audio track (here a packet whose time goes backwards) is refused by the muxer
    with FFmpeg's bare 'Invalid argument': the line says it is the audio and how to leave it out."""
    from vidcolor.decode import VideoReader
    src = make_clip(tmp_path / "in.mkv", frames=25, audio="aac", grey=True)
    items = VideoReader.items

    def backwards(self, passthrough=()):
        audio = 0
        for item in items(self, passthrough):
            if isinstance(item, av.Packet) and item.stream.type == "audio":
                audio += 1
                if audio == 10:
                    item.pts = item.dts = 0
            yield item

    monkeypatch.setattr(VideoReader, "items", backwards)
    one_error_line(cli(src, tmp_path / "out.mp4", "--model", tiny_weights, "-q"),
                   "cannot write the input's audio stream 1", "--no-audio")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv", "tiny.pt"]
    assert cli(src, tmp_path / "out.mp4", "--model", tiny_weights, "-q", "--no-audio").exit_code == 0


def test_a_color_film_or_photo_is_said_to_lose_its_colors(tmp_path, tiny_weights):
    """Colour input is recoloured from its lightness: said once; a grey film, a sepia-toned one and
    a grey photo say nothing."""
    from helpers import color_photo, gradient_image
    from media import shot_scene, write_frames
    color = make_clip(tmp_path / "colour.mp4", frames=30, audio=None)
    grey = make_clip(tmp_path / "grey.mp4", frames=30, audio=None, grey=True)
    sepia_frames = []
    for i in range(30):
        g = shot_scene(i // 10, i, 96, 64)[..., 0].astype(np.float32)
        sepia_frames.append(np.clip(np.stack([g * 1.07 + 10, g * 0.74 + 20, g * 0.43 + 10], -1), 0, 255)
                            .astype(np.uint8))
    sepia = write_frames(tmp_path / "sepia.mkv", sepia_frames, "libx264", 25, "yuv420p")
    vidcolor.write_image(tmp_path / "photo.png", color_photo(3))
    vidcolor.write_image(tmp_path / "grey.png", np.repeat(gradient_image(40, 60, channels=1)[..., None], 3, -1))
    said = "vidcolor keeps only its lightness and replaces its colours"
    for src, out, color_input in ((color, "a.mp4", True), (grey, "b.mp4", False), (sepia, "c.mkv", False),
                                   (tmp_path / "photo.png", "d.png", True), (tmp_path / "grey.png", "e.png", False)):
        result = cli(src, tmp_path / out, "--model", tiny_weights, "-q")
        assert result.exit_code == 0, result.output
        if color_input:
            name = Path(src).name
            assert result.output.count(said) == 1 and f"vidcolor: warning: {name}: is a colour" in result.output
        else:
            assert result.output == "", (src, result.output)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU may have NVENC")
def test_a_gpu_encoder_missing_falls_back_to_software_in_one_warning(tmp_path, tiny_model):
    """--codec h264_nvenc where no NVENC opens (no GPU, or a data-centre GPU): one warning, and the
    film is written with libx264, never refused."""
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=None, grey=True)
    with pytest.warns(vidcolor.VidcolorWarning, match="h264_nvenc: no GPU video encoder here.*this machine has no "
                                                      "NVIDIA GPU.*libx264 instead"):
        colorize_video(tiny_model, clip, tmp_path / "out.mp4", progress=False, codec="h264_nvenc", crf=23)
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264" and len(list(c.decode(video=0))) == 4
    from vidcolor.encode import encoder_options
    assert encoder_options("hevc_nvenc", 23, "slow") == {"rc": "vbr", "cq": "23", "b": "0", "preset": "p5"}


def test_bf16_on_cuda_is_refused_as_too_far_from_fp32():
    from vidcolor.colorizer import resolve_precision
    with pytest.raises(vidcolor.OptionError, match="bf16 on CUDA"):
        resolve_precision("bf16", torch.device("cuda"))
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"


def test_a_film_that_opens_on_grey_titles_and_turns_to_colour_is_said_to_lose_its_colours(tmp_path, tiny_weights):
    """The check looked at the first ten seconds only: a colour film behind grey titles went unwarned."""
    from fractions import Fraction

    from media import pattern, write_frames
    frames = [np.repeat(pattern(i, 64, 48)[..., :1], 3, axis=2) for i in range(12 * 5)]  # 12 s of grey titles
    frames += [pattern(i, 64, 48) for i in range(5 * 5)]  # then colour
    film = write_frames(tmp_path / "late.mp4", frames, "libx264", Fraction(5), "yuv420p")
    result = cli(film, tmp_path / "out.mp4", "--model", tiny_weights, "-q")
    assert result.exit_code == 0 and "late.mp4: is a colour film" in result.output, result.output
