"""Every frame at its time: films whose frames come in display order but with their neighbours' pts."""
from fractions import Fraction

import av
import numpy as np
import pytest
from media import SAMPLE_RATE, pattern, probe

from vidcolor.video import colorize_video

DIVX_RATE = Fraction(2997, 125)  # 23.976 fps, the rate of the film the defect was found on


def swapped_pts_film(path, frames: int = 30) -> tuple[str, list[float]]:
    """What FFmpeg hands out for an AVI with packed B-frames (DivX): frames in display order, each
    with its packet's pts, so every few frames two neighbours have swapped times (0.042, 0.083,
    0.125, 0.209, 0.167, 0.250 ...). Written as Matroska with those pts on intra-only frames, and
    a sine-wave audio track. Returns the path and the frames' true times (the sorted slots)."""
    slots = list(range(1, frames + 1))
    for k in range(3, frames - 1, 4):
        slots[k], slots[k + 1] = slots[k + 1], slots[k]
    with av.open(str(path), "w") as out:
        video = out.add_stream("mjpeg", rate=DIVX_RATE)
        video.width, video.height, video.pix_fmt = 96, 64, "yuvj420p"
        sound = out.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "stereo"
        packets = []
        for i in range(frames):
            grey = np.repeat(pattern(i, 96, 64).mean(-1, keepdims=True).astype(np.uint8), 3, -1)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts = i
            packets += video.encode(frame)
        packets += video.encode(None)
        for dts, (packet, slot) in enumerate(zip(packets, slots)):
            packet.pts, packet.dts = slot, dts  # in 1/fps: Matroska rescales to its millisecond base
            packet.time_base = 1 / DIVX_RATE
            out.mux(packet)
        block = 1024
        for start in range(0, int((frames + 1) / DIVX_RATE * SAMPLE_RATE), block):
            wave = 0.3 * np.sin(2 * np.pi * 440.0 * (np.arange(block) + start) / SAMPLE_RATE)
            af = av.AudioFrame.from_ndarray(np.repeat(wave[None], 2, 0).astype(np.float32), format="fltp",
                                            layout="stereo")
            af.sample_rate, af.pts = SAMPLE_RATE, start
            for packet in sound.encode(af):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    return str(path), [float(s / DIVX_RATE) for s in range(1, frames + 1)]


@pytest.mark.parametrize("planar", [True, False])
def test_swapped_neighbour_pts_put_every_frame_at_its_slot(tmp_path, tiny_model, planar):
    src, slots = swapped_pts_film(tmp_path / "divx.mkv")
    before = probe(src)
    assert before["times"] != sorted(before["times"])  # the film really has the defect
    assert sorted(before["times"]) == pytest.approx(slots, abs=1e-3)
    colorize_video(tiny_model, src, tmp_path / "out.mkv", batch_size=4, progress=False, planar=planar,
                   smoothing=0)
    after = probe(tmp_path / "out.mkv")
    half_frame = 0.5 / float(DIVX_RATE)
    assert len(after["times"]) == len(slots)
    assert np.abs(np.array(after["times"]) - slots).max() < half_frame  # frame k at slot k
    # the k-th frame shown is the k-th frame decoded (its content did not move with the times)
    light_in = [f.mean() for f in before["rgb"]]
    light_out = [f.mean() for f in after["rgb"]]
    assert np.abs(np.diff(light_in) - np.diff(light_out)).max() < 1.0  # the same steps from frame to frame
    # and the sound is where it was: the same packets at the same times
    assert after["audio_packets"] == before["audio_packets"] and before["audio_packets"]
